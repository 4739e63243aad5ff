package embedded

import (
	"strings"
	"testing"
)

// The import parsers take files from people: they report problems, never
// panic, and every record they return passes Check or is reported.
func FuzzReadLDIF(f *testing.F) {
	f.Add(goodLDIF)
	f.Add("dn: cn=A,dc=c\nmail: a@c.test\nwaypostHomeServer: h\n\ndn:: Y249Qg==\n objectClass: group\nmember: cn=A,dc=c\n")
	f.Add("dn: x\n \n#c\nattr:< file:///etc/passwd\n")
	f.Fuzz(func(t *testing.T, text string) {
		ReadLDIF(strings.NewReader(text), "f.ldif")
	})
}

func FuzzReadCSV(f *testing.F) {
	f.Add(goodCSV)
	f.Add("kind,name,address\nmailbox,\"a,b\",SMTP:x@y\n")
	f.Fuzz(func(t *testing.T, text string) {
		ReadCSV(strings.NewReader(text), "f.csv")
	})
}
