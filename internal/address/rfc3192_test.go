package address

import "testing"

// Vectors: exchange-semantics §8.7 and RFC 3192 §4.
func TestParseRFC3192(t *testing.T) {
	tests := []struct {
		in               string
		phone, t33s, dom string
		minimal          bool
		errHas           []string
	}{
		{in: "FAX=+12125551212@fax.example.com", phone: "+12125551212", dom: "fax.example.com", minimal: true},
		{in: "/FAX=+1-212-555-1212/T33S=1234/@fax.example.com", phone: "+1-212-555-1212", t33s: "1234", dom: "fax.example.com", minimal: true},
		{in: "FAX=2125551212@fax.example.com", phone: "2125551212", dom: "fax.example.com", minimal: false},
		{in: "fax=+1.212.555.1212/t33s=7@x", phone: "+1.212.555.1212", t33s: "7", dom: "x", minimal: true},
		{in: "/FAX=+1@x", phone: "+1", dom: "x", minimal: true},
		{in: "FAX=+1/@x", phone: "+1", dom: "x", minimal: true},
		{in: "VOICE=+1@x", errHas: []string{"FAX=", "position 1"}},
		{in: "FAX=+@x", errHas: []string{"no digits", "position 5"}},
		{in: "FAX=+1 212@x", errHas: []string{"' '", "position 7"}},
		{in: "FAX=+1/T33=1@x", errHas: []string{"T33S=", "position 8"}},
		{in: "FAX=+1/T33S=@x", errHas: []string{"no digits in the T33S", "position 13"}},
		{in: "FAX=+1/T33S=1a@x", errHas: []string{"'a'", "position 14"}},
		{in: "FAX=+1", errHas: []string{"missing '@'"}},
		{in: "FAX=+1@", errHas: []string{"missing domain"}},
		{in: "FAX=+1@a_b", errHas: []string{"'_'", "position 9"}},
		{in: "FAX=+1..2@x", errHas: []string{"two '.'", "position 8"}},
		{in: "FAX=+1./@x", errHas: []string{"ends with '.'", "position 7"}},
	}
	for _, tt := range tests {
		phone, t33s, dom, err := ParseRFC3192(tt.in)
		if tt.errHas != nil {
			wantErr(t, "ParseRFC3192", tt.in, err, tt.errHas)
			continue
		}
		if err != nil || phone != tt.phone || t33s != tt.t33s || dom != tt.dom {
			t.Errorf("ParseRFC3192(%q) = %q, %q, %q, %v; want %q, %q, %q", tt.in, phone, t33s, dom, err, tt.phone, tt.t33s, tt.dom)
		}
		if got := IsMinimalRFC3192(tt.in); got != tt.minimal {
			t.Errorf("IsMinimalRFC3192(%q) = %v, want %v", tt.in, got, tt.minimal)
		}
	}
}

func TestRFC3192RoundTrip(t *testing.T) {
	for _, c := range [][3]string{{"+12125551212", "", "fax.example.com"}, {"+1-212-555-1212", "1234", "fax.example.com"}, {"2125551212", "0", "x"}} {
		s := FormatRFC3192(c[0], c[1], c[2])
		p, sub, d, err := ParseRFC3192(s)
		if err != nil || p != c[0] || sub != c[1] || d != c[2] {
			t.Errorf("round trip %v via %q: %q %q %q %v", c, s, p, sub, d, err)
		}
	}
	if got := FormatRFC3192("+1-212-555-1212", "1234", "fax.example.com"); got != "/FAX=+1-212-555-1212/T33S=1234/@fax.example.com" {
		t.Errorf("FormatRFC3192 = %q", got)
	}
}
