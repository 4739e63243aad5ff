package address

import (
	"strings"
	"testing"
)

func TestParseSMTP(t *testing.T) {
	tests := []struct {
		in, display, addr string
		errHas            []string
	}{
		{in: "alice@contoso.test", addr: "alice@contoso.test"},
		{in: "<alice@contoso.test>", addr: "alice@contoso.test"},
		{in: `"Alice" <alice@contoso.test>`, display: "Alice", addr: "alice@contoso.test"},
		{in: "Alice <alice@contoso.test>", display: "Alice", addr: "alice@contoso.test"},
		{in: `"Smith, \"Al\"" <al@x.test>`, display: `Smith, "Al"`, addr: "al@x.test"},
		{in: " Alice Example  < alice@contoso.test > ", display: "Alice Example", addr: "alice@contoso.test"},
		{in: `"john smith"@example.com`, addr: `"john smith"@example.com`},
		{in: "first.last+tag@sub.example.com", addr: "first.last+tag@sub.example.com"},
		{in: "用户@例子.广告", addr: "用户@例子.广告"},
		{in: "a@[192.0.2.1]", addr: "a@[192.0.2.1]"},
		{in: "a@[IPv6:2001:db8::1]", addr: "a@[IPv6:2001:db8::1]"},
		{in: "postmaster@localhost", addr: "postmaster@localhost"},
		{in: "IMCEAFAX-+2B1+20555@contoso.test", addr: "IMCEAFAX-+2B1+20555@contoso.test"},
		{in: "", errHas: []string{"empty address"}},
		{in: "alice", errHas: []string{"missing '@'"}},
		{in: "@x", errHas: []string{"empty local part", "position 1"}},
		{in: "alice@", errHas: []string{"missing domain", "position 6"}},
		{in: "al ice@x", errHas: []string{"' '", "position 3", "quote"}},
		{in: "a(b)@x", errHas: []string{"'('", "position 2"}},
		{in: ".a@x", errHas: []string{"begins with '.'", "position 1"}},
		{in: "a..b@x", errHas: []string{"two '.'", "position 3"}},
		{in: "a.@x", errHas: []string{"ends with '.'", "position 2"}},
		{in: "a@b@c", errHas: []string{"'@'", "position 4"}},
		{in: "a@x..y", errHas: []string{"empty label", "position 5"}},
		{in: "a@x.", errHas: []string{"ends with '.'", "position 4"}},
		{in: "a@-x", errHas: []string{"begins with '-'", "position 3"}},
		{in: "a@x-", errHas: []string{"ends with '-'", "position 4"}},
		{in: "a@x_y.com", errHas: []string{"'_'", "position 4"}},
		{in: "a@[300.0.0.1]", errHas: []string{"address literal", "position 3"}},
		{in: "a@[1.2.3.4", errHas: []string{"missing ']'"}},
		{in: "a@x\xff", errHas: []string{"byte 0xff", "position 4"}},
		{in: `"ab@x`, errHas: []string{"missing closing '\"'", "position 1"}},
		{in: `"a` + "\x01" + `b"@x`, errHas: []string{`'\x01'`, "position 3"}},
		{in: "<alice@x", errHas: []string{"missing '>'"}},
		{in: "alice@x>", errHas: []string{"'>' without '<'"}},
		{in: "Al\"ice <a@x>", errHas: []string{"'\"'", "position 3", "double quotes"}},
		{in: `"Al" x <a@x>`, errHas: []string{"'x'", "position 6"}},
		{in: "Al <>", errHas: []string{"empty address between"}},
		{in: strings.Repeat("a", 316) + "@x", errHas: []string{"316 octets", "limit is 315"}},
		{in: "a@" + strings.Repeat("b", 64), errHas: []string{"label is 64 octets"}},
		{in: "a@" + strings.Repeat("b.", 128) + "c", errHas: []string{"257 octets"}},
	}
	for _, tt := range tests {
		d, a, err := ParseSMTP(tt.in)
		if tt.errHas != nil {
			wantErr(t, "ParseSMTP", tt.in, err, tt.errHas)
			continue
		}
		if err != nil || d != tt.display || a != tt.addr {
			t.Errorf("ParseSMTP(%q) = %q, %q, %v; want %q, %q", tt.in, d, a, err, tt.display, tt.addr)
		}
	}
	// 315 octets is Exchange's limit, and allowed.
	if _, _, err := ParseSMTP(strings.Repeat("a", 315) + "@x"); err != nil {
		t.Errorf("315-octet local part: %v", err)
	}
}

func TestCheckDomainAndType(t *testing.T) {
	if err := CheckDomain("contoso.com"); err != nil {
		t.Error(err)
	}
	for _, d := range []string{"", "*.contoso.com", "[1.2.3.4]", "a b"} {
		if CheckDomain(d) == nil {
			t.Errorf("CheckDomain(%q) accepted", d)
		}
	}
	for _, typ := range []string{"FAX", "x400", "MS-PEER", "0"} {
		if err := CheckType(typ); err != nil {
			t.Errorf("CheckType(%q): %v", typ, err)
		}
	}
	for _, typ := range []string{"", "-X", "F X", "FAX:"} {
		if CheckType(typ) == nil {
			t.Errorf("CheckType(%q) accepted", typ)
		}
	}
}
