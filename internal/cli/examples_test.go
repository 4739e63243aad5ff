package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestExamplesCheck: every organization under examples/ passes `waypost
// check`, files included (the fax example's programs must be there and
// executable).
func TestExamplesCheck(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/*.toml")
	if len(files) < 2 {
		t.Fatalf("found %d example organizations, want contoso and fax at least", len(files))
	}
	for _, f := range files {
		code, out, errOut := run(t, "check", "--config", f)
		if code != 0 || !strings.Contains(out, ": ok (") {
			t.Errorf("waypost check --config %s exited %d:\n%s%s", f, code, out, errOut)
		}
	}
	code, out, _ := run(t, "route", "--config", "../../examples/fax/org.toml", "--server", "hub-hq",
		"IMCEAFAX-+2B1+20555+200100@contoso.test", "[SMS:+1 555 0101]", "[X400:c=US;a= ;p=Contoso;o=HQ;s=Smith]", "legalfax@contoso.test")
	for _, want := range []string{`"connector":"Fax"`, `"connector":"SMS"`, `"connector":"X400"`, `"target":"FAX:+1 555 0199"`} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("the fax example routes wrongly (exit %d), no %s in:\n%s", code, want, out)
		}
	}
}
