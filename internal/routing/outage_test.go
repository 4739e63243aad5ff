package routing

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
)

// storeLike behaves as a store does: every lookup returns a new copy of the
// entry, so routing must tell entries apart by ID, not by pointer; and the
// addresses in down cannot be looked up (the directory server is away).
type storeLike struct {
	*directory.Memory
	down map[string]bool // address keys
}

func (s storeLike) Find(a address.Address) (*directory.Entry, error) {
	if s.down[a.Key()] {
		return nil, fmt.Errorf("ldap://127.0.0.1:1: connection refused: %w", directory.ErrUnavailable)
	}
	e := s.Memory.Lookup(a)
	if e == nil {
		return nil, nil
	}
	c := *e
	return &c, nil
}

func (s storeLike) Lookup(a address.Address) *directory.Entry {
	e, _ := s.Find(a)
	return e
}

func storeEngine(t *testing.T, text string, down ...string) *Engine {
	t.Helper()
	org, err := config.Parse([]byte(text), "test.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	s := storeLike{Memory: m, down: map[string]bool{}}
	for _, d := range down {
		s.down[address.Address{Type: "SMTP", Value: d}.Key()] = true
	}
	return New(org, s)
}

func TestDirectoryOutageDefers(t *testing.T) {
	e := storeEngine(t, twoSites+people+connector("Internet", "SMTP:*;1", "HubA1"), "bob@contoso.test")
	d := e.Route("HubA1", "bob@contoso.test", 0, false)
	if !d.DirectoryDown() || d.Status != "4.4.3" || d.Outcome != OutcomeUnreachable || !d.Delivered() {
		t.Fatalf("bob while the directory is down: %+v", d)
	}
	if d := e.Route("HubA1", "alice@contoso.test", 0, false); d.Outcome != OutcomeMailbox {
		t.Errorf("alice: %+v", d)
	}
	// The group expands; its member that cannot be looked up waits alone.
	g := e.Route("HubA1", "sales@contoso.test", 0, false)
	got := map[string]string{}
	for _, m := range g.Members {
		got[m.Recipient] = string(m.Outcome) + " " + m.Status
	}
	want := map[string]string{
		"alice@contoso.test":    "mailbox ",
		"bob@contoso.test":      "unreachable 4.4.3",
		"legalfax@contoso.test": "ndr 5.4.4",
		"carol@fabrikam.test":   "connector ",
	}
	if g.Outcome != OutcomeExpanded || !reflect.DeepEqual(got, want) {
		t.Errorf("sales expanded to %v, want %v", got, want)
	}
}

// TestCopiesAreOneEntry: with a store that returns copies, a group loop is
// still broken and each member reached once.
func TestCopiesAreOneEntry(t *testing.T) {
	e := storeEngine(t, twoSites+people)
	g := e.Route("HubA1", "inner@contoso.test", 0, false)
	var names []string
	for _, m := range g.Members {
		names = append(names, m.Recipient)
	}
	// Inner = {Sales, Alice}; Sales = {Alice, a@ (Alice again), Bob, Legal
	// Fax, Inner (the loop), Carol}.
	if want := []string{"alice@contoso.test", "bob@contoso.test", "legalfax@contoso.test", "carol@fabrikam.test"}; !reflect.DeepEqual(names, want) {
		t.Errorf("members %v, want %v", names, want)
	}
	if d := e.Route("HubA1", "loop1@contoso.test", 0, false); d.Status != "5.4.6" {
		t.Errorf("contact loop with copies: %+v", d)
	}
}
