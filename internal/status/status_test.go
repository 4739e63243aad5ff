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
// and detail of one to three digits), defined once, and its comment
// states the code, so that the name and the meaning cannot drift apart.
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
			code, err := strconv.Unquote(vs.Values[0].(*ast.BasicLit).Value)
			if err != nil || !form.MatchString(code) {
				t.Errorf("%s = %q: not an RFC 3463 code", name, code)
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
