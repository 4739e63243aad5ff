package routing

import (
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
)

// twoSites is sites A and B joined at cost 10, with HubA1 and HubA2 in A and
// HubB1 in B (the setting of exchange-semantics.md sections 8.2 and 8.3).
const twoSites = `
[organization]
default_domain = "contoso.test"
hub_secret_file = "hub.secret"
[[accepted_domain]]
domain = "contoso.test"
[[site]]
name = "A"
[[site]]
name = "B"
[[site_link]]
name = "A-B"
sites = ["A", "B"]
cost = 10
[[server]]
name = "HubA1"
site = "A"
[[server]]
name = "HubA2"
site = "A"
[[server]]
name = "HubB1"
site = "B"
`

// connector writes a [[send_connector]] entry.
func connector(name, spaces, sources string, extra ...string) string {
	var b strings.Builder
	b.WriteString("[[send_connector]]\nname = \"" + name + "\"\naddress_spaces = [")
	for i, s := range strings.Split(spaces, ",") {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("\"" + strings.TrimSpace(s) + "\"")
	}
	b.WriteString("]\nsource_servers = [")
	for i, s := range strings.Split(sources, ",") {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("\"" + strings.TrimSpace(s) + "\"")
	}
	b.WriteString("]\n")
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	b.WriteString("delivery = { kind = \"drop\", directory = \"out-" + name + "\" }\n")
	return b.String()
}

func newEngine(t testing.TB, text string) *Engine {
	t.Helper()
	org, err := config.Parse([]byte(text), "test.toml", t.TempDir())
	if err != nil {
		t.Fatalf("organization: %v\n%s", err, text)
	}
	dir, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	return New(org, dir)
}
