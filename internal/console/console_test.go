package console

import (
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
)

func TestSessionsEndAfterIdle(t *testing.T) {
	ss := sessions{idle: 8 * time.Hour}
	t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	s := ss.start("carol@contoso.test", t0)
	if ss.get(s.token, t0.Add(7*time.Hour)) == nil {
		t.Fatal("ended after 7 hours")
	}
	if ss.get(s.token, t0.Add(14*time.Hour)) == nil {
		t.Fatal("ended 7 hours after its last use: the idle time counts from the last request")
	}
	if ss.get(s.token, t0.Add(22*time.Hour+time.Second)) != nil {
		t.Fatal("alive after more than 8 hours idle")
	}
	if ss.get(s.token, t0.Add(22*time.Hour+2*time.Second)) != nil {
		t.Fatal("an ended session came back")
	}
	if ss.get("", t0) != nil || sameToken("", "") {
		t.Error("an empty token matched")
	}
}

func TestMaskHidesSecrets(t *testing.T) {
	in := `password_hash = "$2a$10$abcdefghijklmnopqrstuv"
hub_secret_file = "hub.secret"
delivery = { kind = "webhook", url = "https://x.test/", token_file = "tok", auth_password = 'p4ss' }
bind_password = "s3cret"
name = "Carol"`
	out := mask(in)
	for _, secret := range []string{"$2a$10$", "p4ss", "s3cret"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q is not masked:\n%s", secret, out)
		}
	}
	for _, kept := range []string{`hub_secret_file = "hub.secret"`, `token_file = "tok"`, `name = "Carol"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("%q was changed:\n%s", kept, out)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/console/queues?x=1": "/console/queues?x=1",
		"https://evil.test/":  "/console/",
		"//evil.test/":        "/console/",
		"/api/v1/oab":         "/console/",
		"/console/\r\nX: y":   "/console/",
		"":                    "/console/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTopologyDrawsEverySite(t *testing.T) {
	text := `[organization]
default_domain = "contoso.test"
hub_secret_file = "s"
[[site]]
name = "HQ"
hub_site = true
[[site]]
name = "Branch <1>"
[[site]]
name = "Lab"
[[site_link]]
name = "L1"
sites = ["HQ", "Branch <1>"]
cost = 7
[[server]]
name = "hub1"
site = "HQ"
[[server]]
name = "hub2"
site = "Branch <1>"
[[accepted_domain]]
domain = "contoso.test"
[[send_connector]]
name = "Fax"
address_spaces = ["FAX:*;1"]
source_servers = ["hub2"]
scoped = true
delivery = { kind = "drop", directory = "fax" }
`
	org, err := config.Parse([]byte(text), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svg := drawTopology(org)
	for _, want := range []string{`data-site="HQ"`, `data-site="Branch &lt;1&gt;"`, `data-site="Lab"`, "L1 · cost 7", "Fax: FAX:*;1 [scoped]",
		"HQ (hub site)", `class="site hub"`, "address-types?site=Branch+%3C1%3E", "no servers"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the map has no %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "<1>") {
		t.Error("a site name is not escaped")
	}
}
