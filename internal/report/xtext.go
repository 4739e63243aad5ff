package report

import (
	"strings"

	"github.com/waypost/waypost/internal/xtext"
)

// decodeXtext decodes RFC 3461 section 4 xtext: "+" and two upper-case hex
// digits stand for one byte. ok is false, and s comes back as it is,
// unless s is valid xtext with at least one escape whose decoding is
// printable ASCII (section 4.2 allows nothing else): "bob+tag@x" is an
// address, "bob+2Btag@x" the xtext of "bob+tag@x".
func decodeXtext(s string) (string, bool) {
	if !strings.Contains(s, "+") {
		return s, false
	}
	d, ok := xtext.Decode(s)
	if !ok {
		return s, false
	}
	return d, true
}
