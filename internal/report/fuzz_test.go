package report

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds any bytes to Parse and to ParseStatus: neither may
// panic or hang, an error from ParseStatus is a *SyntaxError on a line
// of its input, and what either accepts has the fields RFC 3464 requires.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.eml")
	for _, name := range files {
		b := readTestdata(f, strings.TrimPrefix(name, "testdata/"))
		f.Add(b)
		if i := bytes.Index(b, []byte("Reporting-MTA")); i >= 0 {
			f.Add(b[i:]) // the status part and what follows it
		}
	}
	for _, c := range roundTrips() {
		out, err := NDR(c.report, strings.NewReader(c.original))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(out)
	}
	f.Add([]byte("Reporting-MTA: dns; a.test\r\n\r\nOriginal-Recipient: utf-8;j\\x{F6}rg\\x{110000}+41@b.test\r\nFinal-Recipient: rfc822 (x) ; b@c.test\r\nAction: failed\r\nStatus: 5.1.1 ((nested) \\) =?utf-8?q?=C3=A9?=)\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if d, err := Parse(bytes.NewReader(data)); err == nil {
			if d.StatusType != "message/delivery-status" && d.StatusType != "message/global-delivery-status" {
				t.Fatalf("Parse accepted a status part of type %q", d.StatusType)
			}
			checkAccepted(t, d.Message, d.Recipients)
		}
		m, rs, err := ParseStatus(data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseStatus error %v is %T, not *SyntaxError", err, err)
			}
			if lines := bytes.Count(data, []byte("\n")) + 1; se.Line < 1 || se.Line > lines {
				t.Fatalf("ParseStatus error on line %d of a %d-line input: %v", se.Line, lines, err)
			}
			return
		}
		checkAccepted(t, m, rs)
	})
}

func checkAccepted(t *testing.T, m MessageFields, rs []RecipientFields) {
	t.Helper()
	if m.ReportingMTA.Type == "" || !isAtom(m.ReportingMTA.Type) || m.ReportingMTA.Name == "" || len(rs) == 0 {
		t.Fatalf("accepted per-message fields %+v with %d recipients", m, len(rs))
	}
	for _, r := range rs {
		switch r.Action {
		case "failed", "delayed", "delivered", "relayed", "expanded":
		default:
			t.Fatalf("accepted Action %q", r.Action)
		}
		if !IsStatusCode(r.Status) || !isAtom(r.FinalRecipient.Type) || r.FinalRecipient.Raw == "" || r.Line < 1 {
			t.Fatalf("accepted recipient fields %+v", r)
		}
	}
}
