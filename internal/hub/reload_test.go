package hub

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/control"
)

const reloadOrg = `
[organization]
default_domain = "contoso.test"
[[accepted_domain]]
domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
data_dir = "d"
  [[server.receive]]
  name = "Default"
  listen = "127.0.0.1:0"
[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", smart_hosts = ["127.0.0.1:1"] }
`

const faxConnector = `
[[send_connector]]
name = "Fax"
address_spaces = ["FAX:*;1"]
source_servers = ["hub1"]
scoped = true
delivery = { kind = "drop", directory = "fax-out" }
`

// runHub opens and runs hub1 of the organization in file.
func runHub(t *testing.T, file string, watch time.Duration) *Hub {
	t.Helper()
	org, _, err := LoadOrg(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(org, "hub1", slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h.Watch = watch
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "org.toml")
	write(t, file, reloadOrg)
	h := runHub(t, file, 0)
	first := h.engine.Load()

	// The file in force: nothing to do.
	res, err := h.Reload("tester")
	if err != nil || res.Changed || len(res.AddressTypes) != 1 || strings.Join(res.AddressTypes[0].Types, ",") != "SMTP" {
		t.Fatalf("unchanged reload: %+v %v", res, err)
	}

	// A broken file: every error, and the old engine keeps serving.
	write(t, file, reloadOrg+"\n[[send_connector]]\nname = \"Bad\"\naddress_spaces = [\"FAX:*;0\"]\nsource_servers = [\"nobody\"]\ndelivery = { kind = \"drop\", directory = \"x\" }\n")
	_, err = h.Reload("tester")
	var ce *control.Error
	if !errors.As(err, &ce) || ce.Code != control.CodeInvalid || len(ce.Errors) < 2 {
		t.Fatalf("broken reload: %#v", err)
	}
	for _, e := range ce.Errors {
		if !strings.HasPrefix(e, file+":") {
			t.Errorf("error without its file and line: %s", e)
		}
	}
	if h.engine.Load() != first {
		t.Error("the broken file replaced the engine")
	}

	// A hub cannot reload itself out of the organization.
	write(t, file, strings.ReplaceAll(reloadOrg, "hub1", "hub9"))
	if _, err := h.Reload("tester"); err == nil || !strings.Contains(err.Error(), "no longer in the file") {
		t.Errorf("reload without this server: %v", err)
	}

	// A scoped FAX connector and a changed receive connector: the first
	// applies now and changes the address types, the second at restart.
	write(t, file, strings.Replace(reloadOrg, `listen = "127.0.0.1:0"`, "listen = \"127.0.0.1:0\"\n  max_recipients = 5", 1)+faxConnector)
	res, err = h.Reload("tester")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || !contains(res.Changes, `send connector "Fax" added`) || len(res.TypesChanged) != 1 || res.TypesChanged[0] != "HQ" ||
		strings.Join(res.AddressTypes[0].Types, ",") != "FAX,SMTP" || !contains(res.RestartRequired, "receive connectors of hub1") {
		t.Errorf("reload: %+v", res)
	}
	if h.engine.Load() == first || h.engine.Load().Org().SendConnectors[1].Name != "Fax" {
		t.Error("the engine was not swapped")
	}
	if st := h.status(); len(st.ConfigDigest) != 64 || st.AddressTypes[0].Version != res.AddressTypes[0].Version {
		t.Errorf("status: %+v", st)
	}
}

func contains(list []string, part string) bool {
	for _, s := range list {
		if strings.Contains(s, part) {
			return true
		}
	}
	return false
}

func TestWatchAppliesAnEdit(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "org.toml")
	write(t, file, reloadOrg)
	h := runHub(t, file, 20*time.Millisecond)
	first := h.engine.Load()
	// Half a file first (an editor still writing), then the whole: the
	// whole applies, and nothing is logged as refused for the half.
	write(t, file, reloadOrg[:len(reloadOrg)/2])
	write(t, file, reloadOrg+faxConnector)
	deadline := time.Now().Add(5 * time.Second)
	for h.engine.Load() == first {
		if time.Now().After(deadline) {
			t.Fatal("the edit was not applied within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := h.engine.Load().AddressTypes("HQ").Types; strings.Join(got, ",") != "FAX,SMTP" {
		t.Errorf("types after the edit: %v", got)
	}
	// An invalid edit is refused once, and the engine stays.
	applied := h.engine.Load()
	write(t, file, reloadOrg+"bogus = 1\n")
	time.Sleep(200 * time.Millisecond)
	if h.engine.Load() != applied {
		t.Error("an invalid edit was applied")
	}
	// Refused and tracked once (the half file of before never was).
	track, err := os.ReadFile(filepath.Join(dir, "d", "tracking.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(track), `"detail":"refused: `); n != 1 {
		t.Errorf("%d refused reloads tracked, want 1:\n%s", n, track)
	}
}

// Start-up, check and reload refuse the same things: an empty hub secret
// (once only start-up saw it) and a data_dir too long for the socket.
func TestValidateMatchesStartUp(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "hub.secret"), "\n")
	long := strings.Repeat("d", 110)
	text := strings.Replace(reloadOrg, `data_dir = "d"`, `data_dir = "`+long+`"`, 1)
	text = strings.Replace(text, `default_domain = "contoso.test"`, "default_domain = \"contoso.test\"\nhub_secret_file = \"hub.secret\"", 1)
	file := filepath.Join(dir, "org.toml")
	write(t, file, text)
	_, _, err := LoadOrg(file)
	if err == nil || !strings.Contains(err.Error(), "hub.secret is empty") || !strings.Contains(err.Error(), "shorter data_dir") {
		t.Fatalf("LoadOrg: %v", err)
	}
	org, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(org, "hub1", slog.New(slog.NewTextHandler(testWriter{t}, nil))); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("Open: %v", err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
