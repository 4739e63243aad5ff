package directory

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/waypost/waypost/internal/address"
)

// LookupKeys returns the normalised keys under which every store finds the
// owner of a (address.Key: the type upper case, the value folded as its
// type says: SMTP and every other type case-insensitively, X400 in its
// canonical attribute order, FAX without written separators), and alt, a
// second key tried when the first finds nothing: for EX, the X500 proxy with
// the same value (exchange-semantics.md section 7); "" otherwise.
func LookupKeys(a address.Address) (key, alt string) {
	key = a.Key()
	if strings.HasPrefix(key, "EX:") {
		alt = "X500:" + key[len("EX:"):]
	}
	return key, alt
}

// TypesVersion is the version Types reports for a sorted list of types:
// equal lists give equal versions.
func TypesVersion(types []string) string {
	sum := sha256.Sum256([]byte(strings.Join(types, "\n")))
	return hex.EncodeToString(sum[:8])
}
