package api

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzParseState: any since= text is answered without a panic, and a
// state that parses prints as a state that parses to the same.
func FuzzParseState(f *testing.F) {
	for _, s := range []string{"0.0", "1795987625436857151.12", "1.", ".1", "18446744073709551616.1", "01.2", "a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseState(s)
		if err != nil {
			return
		}
		back := fmt.Sprintf("%d.%d", st.validity, st.last)
		if again, err := parseState(back); err != nil || again != st {
			t.Errorf("%q parsed as %+v, prints %q, which parses as %+v, %v", s, st, back, again, err)
		}
	})
}

// FuzzUIDList: any content of the uid list file is read without a panic,
// and a list that reads is formatted and read again the same.
func FuzzUIDList(f *testing.F) {
	f.Add("waypost-uidlist 1 17 3\n1 a,S=1\n2 b\n")
	f.Add("waypost-uidlist 1 0 1\n")
	f.Add("waypost-uidlist 1 5 2\n9 x\n")
	f.Add("waypost-uidlist 1 5 9\n1 x\n2 x\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, content string) {
		l, err := parseUIDList(strings.NewReader(content))
		if err != nil {
			return
		}
		again, err := parseUIDList(strings.NewReader(l.format()))
		if err != nil {
			t.Fatalf("formatted list does not read: %v\n%s", err, l.format())
		}
		if again.validity != l.validity || again.next != l.next || len(again.uids) != len(l.uids) {
			t.Fatalf("round trip: %+v, then %+v", l, again)
		}
		for id, uid := range l.uids {
			if again.uids[id] != uid {
				t.Fatalf("round trip: %s was %d, is %d", id, uid, again.uids[id])
			}
		}
	})
}
