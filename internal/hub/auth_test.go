package hub

import (
	"sync/atomic"
	"testing"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/routing"
)

func TestPasswords(t *testing.T) {
	hash, err := HashPassword("s3cret pass")
	if err != nil {
		t.Fatal(err)
	}
	org, err := config.Parse([]byte(`[organization]
default_domain = "contoso.test"
[[accepted_domain]]
domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test", "smtp:a@contoso.test"]
password_hash = "`+hash+`"
[[recipient]]
kind = "mailbox"
name = "NoPassword"
server = "hub1"
addresses = ["SMTP:np@contoso.test"]
`), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := directory.NewMemory(org.Recipients)
	var eng atomic.Pointer[routing.Engine]
	eng.Store(routing.New(org, d))
	p := Passwords{Engine: &eng}
	if who, ok := p.Authenticate("A@contoso.test", "s3cret pass"); !ok || who != "alice@contoso.test" {
		t.Errorf("secondary address login: %q %v", who, ok)
	}
	for _, c := range [][2]string{{" alice@contoso.test", "s3cret pass"}, {"alice@contoso.test ", "s3cret pass"}, {"\talice@contoso.test", "s3cret pass"}, {"alice@contoso.test", "wrong"}, {"nobody@contoso.test", "s3cret pass"}, {"np@contoso.test", ""}, {"", ""}} {
		if _, ok := p.Authenticate(c[0], c[1]); ok {
			t.Errorf("%q/%q accepted", c[0], c[1])
		}
	}
}
