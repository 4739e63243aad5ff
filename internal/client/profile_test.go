package client

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/testnet"
)

// newProfile makes a saved profile in a temporary folder whose hub is at
// addresses nothing listens on (offline), with cached address types and
// an address book.
func newProfile(t *testing.T, types []string) *Profile {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "profile")
	p, err := Create(dir, Settings{API: "http://" + testnet.RefusingAddr(t), SMTP: testnet.RefusingAddr(t), User: "alice@contoso.test"}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Save(); err != nil {
		t.Fatal(err)
	}
	p.Timeout = 2 * time.Second
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	p.Now = func() time.Time { return now }
	if types != nil {
		if err := p.saveTypes(TypesCache{AddressTypes: AddressTypes{Site: "HQ", Types: types, Version: "v1"}, ETag: `"v1"`, Fetched: now, Checked: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.saveBook(sampleBook()); err != nil {
		t.Fatal(err)
	}
	return p
}

func sampleBook() OAB {
	return OAB{Version: "b1", Entries: []OABEntry{
		{ID: "1", Name: "Alice (HQ)", Kind: "mailbox", Addresses: []string{"SMTP:alice@contoso.test", "smtp:a@contoso.test"}},
		{ID: "2", Name: "Bob (Branch)", Kind: "mailbox", Addresses: []string{"SMTP:bob@contoso.test", "FAX:+1 555 0142", "X500:/o=Contoso/ou=Branch/cn=bob"}},
		{ID: "3", Name: "Legal Fax", Kind: "contact", Addresses: []string{"SMTP:legalfax@contoso.test"}},
	}}
}

func TestProfileModesAndReopen(t *testing.T) {
	p := newProfile(t, []string{"SMTP"})
	dir := p.Dir
	for name, want := range map[string]os.FileMode{"": 0o700, credentialsFile: 0o600, settingsFile: 0o600, addrTypesFile: 0o600, outboxDir: 0o700, inboxDir: 0o700} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", filepath.Join(dir, name), got, want)
		}
	}
	p.Close()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.Settings.User != "alice@contoso.test" || q.password != "pw" {
		t.Errorf("reopened: %+v %q", q.Settings, q.password)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestProfileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); !errors.Is(err, ErrNoProfile) || !strings.Contains(err.Error(), "login") {
		t.Errorf("Open of an empty folder: %v", err)
	}
	if _, err := Create(filepath.Join(dir, "x"), Settings{API: "127.0.0.1:8025", SMTP: "nohost", User: "alice"}, "pw"); err == nil ||
		!strings.Contains(err.Error(), "--api") || !strings.Contains(err.Error(), "--smtp") || !strings.Contains(err.Error(), "--user") {
		t.Errorf("bad settings: %v", err)
	}
	p := newProfile(t, nil)
	p.Close()
	if _, err := Create(p.Dir, Settings{API: "http://127.0.0.1:1", SMTP: "127.0.0.1:1", User: "bob@contoso.test"}, "pw"); err == nil || !strings.Contains(err.Error(), "belongs to alice@contoso.test") {
		t.Errorf("another user's profile: %v", err)
	}
	if err := os.WriteFile(filepath.Join(p.Dir, oabFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := Open(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := q.Book(); err == nil || !strings.Contains(err.Error(), oabFile) || !strings.Contains(err.Error(), "sync") {
		t.Errorf("damaged address book: %v", err)
	}
}

// One command at a time: a second Open waits for the first to close.
func TestProfileLock(t *testing.T) {
	p := newProfile(t, nil)
	opened := make(chan *Profile)
	go func() {
		q, err := Open(p.Dir)
		if err != nil {
			t.Error(err)
		}
		opened <- q
	}()
	select {
	case <-opened:
		t.Fatal("a second Open did not wait for the first")
	case <-time.After(100 * time.Millisecond):
	}
	p.Close()
	select {
	case q := <-opened:
		q.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the second Open still waits after the first closed")
	}
}
