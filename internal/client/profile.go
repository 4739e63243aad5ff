package client

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/dirlock"
	"github.com/waypost/waypost/internal/durable"
)

// The files and folders of a profile.
const (
	settingsFile    = "profile.json"   // API URL, SMTP address, user
	credentialsFile = "credentials"    // the password, mode 0600
	addrTypesFile   = "addrtypes.json" // cached address types of the user's site
	oabFile         = "oab.json"       // offline address book
	stateFile       = "state.json"     // mailbox sync state, last sync
	outboxDir       = "outbox"         // one JSON file per message not yet done
	sentDir         = "sent"           // one JSON file per message done
	inboxDir        = "inbox"          // one .eml file per message
)

// Settings say where the hub is and who the user is.
type Settings struct {
	API  string `json:"api"`  // base URL of the hub's HTTP API, e.g. http://127.0.0.1:8025
	SMTP string `json:"smtp"` // host:port of a submission receive connector
	User string `json:"user"` // the user's SMTP address, the login name of both
}

// State is what the profile remembers between syncs.
type State struct {
	MailboxState string    `json:"mailbox_state,omitempty"` // the server's sync state after the last download
	LastSync     time.Time `json:"last_sync,omitzero"`      // the last sync that reached the hub
	LastOnline   time.Time `json:"last_online,omitzero"`    // the last time the API answered
}

// Profile is an open profile folder. One command at a time holds it.
type Profile struct {
	Dir      string
	Settings Settings
	password string
	lock     *os.File

	// Now is the clock (time.Now when nil); Timeout bounds each API
	// request and SMTP step (10s when zero); HTTP is the API's client
	// (one with Timeout when nil).
	Now     func() time.Time
	Timeout time.Duration
	HTTP    *http.Client
}

// ErrNoProfile is returned by Open for a folder without a profile.
var ErrNoProfile = errors.New("no profile")

// Create makes (or updates) the profile in dir for settings and password:
// the folder with mode 0700, the settings, and the credentials with mode
// 0600. An existing profile of another user is not overwritten.
func Create(dir string, s Settings, password string) (*Profile, error) {
	if err := checkSettings(s); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating profile folder: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("profile folder %s: %w", dir, err)
	}
	p := &Profile{Dir: dir, Settings: s, password: password}
	if err := p.takeLock(); err != nil {
		return nil, err
	}
	var old Settings
	switch err := readJSON(p.path(settingsFile), &old); {
	case err == nil && !strings.EqualFold(old.User, s.User):
		p.Close()
		return nil, fmt.Errorf("profile %s belongs to %s; use another --profile folder for %s", dir, old.User, s.User)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		p.Close()
		return nil, err
	}
	for _, d := range []string{outboxDir, sentDir, inboxDir} {
		if err := os.MkdirAll(p.path(d), 0o700); err != nil {
			p.Close()
			return nil, fmt.Errorf("creating %s: %w", p.path(d), err)
		}
	}
	return p, nil
}

// Save writes the settings and credentials of a profile made by Create.
func (p *Profile) Save() error {
	if err := durable.WriteFile(p.path(credentialsFile), []byte(p.password+"\n"), 0o600); err != nil {
		return err
	}
	return writeJSON(p.path(settingsFile), p.Settings, 0o600)
}

// Open opens the profile in dir, waiting while another command uses it.
func Open(dir string) (*Profile, error) {
	if _, err := os.Stat(filepath.Join(dir, settingsFile)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w in %s: run \"waypost client --profile %s login --api URL --smtp HOST:PORT --user ADDRESS\" first", ErrNoProfile, dir, dir)
		}
		return nil, fmt.Errorf("profile %s: %w", dir, err)
	}
	p := &Profile{Dir: dir}
	if err := p.takeLock(); err != nil {
		return nil, err
	}
	if err := readJSON(p.path(settingsFile), &p.Settings); err != nil {
		p.Close()
		return nil, err
	}
	b, err := os.ReadFile(p.path(credentialsFile))
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("reading credentials: %w; run login again", err)
	}
	p.password = strings.TrimRight(string(b), "\r\n")
	return p, nil
}

// Close releases the profile.
func (p *Profile) Close() error {
	if p.lock == nil {
		return nil
	}
	err := p.lock.Close()
	p.lock = nil
	return err
}

func (p *Profile) takeLock() error {
	f, err := dirlock.Lock(p.Dir)
	if err != nil {
		return err
	}
	p.lock = f
	return nil
}

func (p *Profile) path(name ...string) string {
	return filepath.Join(append([]string{p.Dir}, name...)...)
}

func (p *Profile) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Profile) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return 10 * time.Second
}

// State returns the remembered state (zero before the first sync).
func (p *Profile) State() (State, error) {
	var s State
	if err := readJSON(p.path(stateFile), &s); err != nil && !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	return s, nil
}

func (p *Profile) saveState(s State) error { return writeJSON(p.path(stateFile), s, 0o600) }

// checkSettings checks the settings before anything is written.
func checkSettings(s Settings) error {
	var errs []string
	if !strings.HasPrefix(s.API, "http://") && !strings.HasPrefix(s.API, "https://") {
		errs = append(errs, fmt.Sprintf("--api %q is not an http:// or https:// URL (e.g. http://127.0.0.1:8025)", s.API))
	}
	if !strings.Contains(s.SMTP, ":") {
		errs = append(errs, fmt.Sprintf("--smtp %q is not HOST:PORT (e.g. 127.0.0.1:2587)", s.SMTP))
	}
	if !strings.Contains(s.User, "@") {
		errs = append(errs, fmt.Sprintf("--user %q is not an SMTP address (e.g. alice@contoso.test)", s.User))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
