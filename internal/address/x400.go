package address

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// X400Attr is one attribute of an X.400 O/R address: Key lower case as
// written ("c", "a", "p", "o", "ou1", "s", "g", ...), Value as written.
type X400Attr struct{ Key, Value string }

// X400 is an X.400 O/R address in RFC 1685 / Exchange text form, attributes
// in the order written.
type X400 []X400Attr

// ParseX400 parses the RFC 1685 / Exchange form "c=US;a= ;p=Contoso;o=HQ;s=Smith;"
// (exchange-semantics §6.2). The final ';' is optional. Keys are trimmed and
// lower-cased and are letters, digits, '-' and ':' (as in "dda:smtp");
// values are kept as written, so an ADMD of a single blank ("a= ") survives.
// An empty attribute, empty key or missing '=' is an error.
func ParseX400(s string) (X400, error) {
	x, err := parseX400(s, 0, len(s))
	if err != nil {
		return nil, err
	}
	return x, nil
}

func parseX400(in string, lo, hi int) (X400, *Error) {
	const hint = "write attributes as key=value;... e.g. c=US;a= ;p=Contoso;o=HQ;s=Smith;"
	if tlo, thi := trimRange(in, lo, hi); tlo == thi {
		return nil, errAt(in, -1, hint, "empty X.400 address")
	}
	x := make(X400, 0, strings.Count(in[lo:hi], ";")+1)
	for start := lo; start < hi; {
		end := strings.IndexByte(in[start:hi], ';')
		if end < 0 {
			end = hi
		} else {
			end += start
		}
		klo, khi := trimRange(in, start, end)
		if klo == khi {
			if end == hi {
				break // blanks after the final ';'
			}
			return nil, errAt(in, end, hint, "empty attribute before ';'")
		}
		eq := strings.IndexByte(in[start:end], '=')
		if eq < 0 {
			return nil, errAt(in, klo, hint, "missing '=' in X.400 attribute %q", in[klo:khi])
		}
		eq += start
		klo, khi = trimRange(in, start, eq)
		if klo == khi {
			return nil, errAt(in, eq, hint, "empty key before '='")
		}
		for i := klo; i < khi; i++ {
			if c := in[i]; !isAlnum(c) && c != '-' && c != ':' {
				return nil, badChar(in, i, "an X.400 attribute key", hint)
			}
		}
		for i := eq + 1; i < end; {
			r, n := utf8.DecodeRuneInString(in[i:end])
			if r == utf8.RuneError && n == 1 || r < 0x20 || r == 0x7f {
				return nil, badChar(in, i, "an X.400 attribute value", "")
			}
			i += n
		}
		x = append(x, X400Attr{Key: strings.ToLower(in[klo:khi]), Value: in[eq+1 : end]})
		start = end + 1
	}
	return x, nil
}

// String writes the attributes in the order held, each followed by ';':
// "c=US;a= ;p=Contoso;o=HQ;s=Smith;".
func (x X400) String() string {
	var b strings.Builder
	for _, a := range x {
		b.WriteString(a.Key)
		b.WriteByte('=')
		b.WriteString(a.Value)
		b.WriteByte(';')
	}
	return b.String()
}

// Get returns the value of the first attribute with the given key. Keys
// compare case-insensitively, and the RFC 2156 names "admd" and "prmd" are
// the same keys as "a" and "p".
func (x X400) Get(key string) (string, bool) {
	key = x400Key(key)
	for _, a := range x {
		if x400Key(a.Key) == key {
			return a.Value, true
		}
	}
	return "", false
}

// Canonical returns the comparison form used by Address.Key: keys lower case
// with "admd"/"prmd" written "a"/"p", values trimmed and case-folded, sorted
// in hierarchy order c, a, p, o, ou1-ou4, s, g, i, q, cn (bb676307 lists C, A,
// P, O, OU1-OU4 "in hierarchical order"), then other keys alphabetically.
func (x X400) Canonical() X400 {
	c := make(X400, len(x))
	for i, a := range x {
		c[i] = X400Attr{Key: x400Key(a.Key), Value: fold(trim(a.Value))}
	}
	sort.SliceStable(c, func(i, j int) bool {
		ri, rj := x400Rank(c[i].Key), x400Rank(c[j].Key)
		if ri != rj {
			return ri < rj
		}
		return ri == len(x400Order) && c[i].Key < c[j].Key
	})
	return c
}

var x400Order = []string{"c", "a", "p", "o", "ou1", "ou2", "ou3", "ou4", "s", "g", "i", "q", "cn"}

func x400Rank(k string) int {
	for i, o := range x400Order {
		if o == k {
			return i
		}
	}
	return len(x400Order)
}

// x400Key lower-cases a key and maps RFC 2156 §4.1 long names to short ones.
func x400Key(k string) string {
	k = strings.ToLower(trim(k))
	switch k {
	case "admd":
		return "a"
	case "prmd":
		return "p"
	}
	return k
}
