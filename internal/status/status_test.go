package status

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every constant is a well-formed RFC 3463 code (class 2, 4 or 5, subject
// and detail of one to three digits) or SMTP reply code, defined once,
// and its comment states the code, so that the name and the meaning
// cannot drift apart.
func TestCodes(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "status.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	form := regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)
	seen := map[string]string{}
	n := 0
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			name := vs.Names[0].Name
			lit := vs.Values[0].(*ast.BasicLit)
			code := lit.Value
			if lit.Kind == token.INT {
				if n, err := strconv.Atoi(code); err != nil || n < 200 || n > 599 || !strings.HasPrefix(name, "Reply") {
					t.Errorf("%s = %s: not an SMTP reply code named Reply...", name, code)
				}
			} else if code, err = strconv.Unquote(code); err != nil || !form.MatchString(code) {
				t.Errorf("%s = %q: not an RFC 3463 code", name, code)
			} else if Parts(code) == [3]int{} {
				t.Errorf("Parts(%s) is zero", name)
			}
			if other, dup := seen[code]; dup {
				t.Errorf("%s and %s are both %s", name, other, code)
			}
			seen[code] = name
			doc := vs.Doc.Text() + vs.Comment.Text()
			if !strings.Contains(doc, code) {
				t.Errorf("%s: its comment does not say %s", name, code)
			}
			n++
		}
	}
	if n < 25 {
		t.Errorf("%d codes found; the parse missed some", n)
	}
}

func TestParts(t *testing.T) {
	for code, want := range map[string][3]int{"5.7.11": {5, 7, 11}, "2.0.0": {2, 0, 0}, "5.1": {}, "a.b.c": {}, "5.1.1000": {}, "": {}} {
		if got := Parts(code); got != want {
			t.Errorf("Parts(%q) = %v, want %v", code, got, want)
		}
	}
}
