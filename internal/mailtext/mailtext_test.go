package mailtext

import "testing"

func TestOneLine(t *testing.T) {
	if got := OneLine("a\r\nBcc: x@y\tz\x7fé"); got != "a  Bcc: x@y z é" {
		t.Errorf("OneLine = %q", got)
	}
}

func TestPrintable(t *testing.T) {
	if got := Printable("ab\r\ncdé", 100); got != "ab??cdé" {
		t.Errorf("Printable = %q", got)
	}
	if got := Printable("abc\ndef", 4); got != "abc?" {
		t.Errorf("Printable cut = %q", got)
	}
}

func TestPrintableASCII(t *testing.T) {
	if got := PrintableASCII("250 ok\té", 100); got != "250 ok???" {
		t.Errorf("PrintableASCII = %q", got)
	}
	if got := PrintableASCII("250 ok", 3); got != "250" {
		t.Errorf("PrintableASCII cut = %q", got)
	}
}

func TestRandomHex(t *testing.T) {
	a, b := RandomHex(12), RandomHex(12)
	if len(a) != 24 || a == b {
		t.Errorf("RandomHex: %q, %q", a, b)
	}
	for _, c := range a {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			t.Fatalf("RandomHex %q: %q is not lower-case hex", a, c)
		}
	}
}
