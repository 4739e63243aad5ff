// Package reload applies a changed organization file to a running hub
// (docs/operations.md, "Reload"): SIGHUP, `waypost reload` and a change of
// the file on disk all come here. A valid file becomes a new routing engine, swapped in atomically:
// SMTP sessions take the engine current at MAIL and the scheduler the one
// current at each attempt, so nothing open is dropped and queued mail is
// routed with the new configuration from its next attempt on. An invalid
// file is refused with every error and the old configuration keeps
// serving. What cannot change live (this server's listeners, data folder,
// name, receive connector settings, the hub secret) is applied at the next
// start and said so in the reply and the log.
package reload

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/metrics"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/tracking"
)

// Reloader applies the organization file of one running hub. Set its
// fields, call Init once before Watch or Reload, and then use it from any
// goroutine.
type Reloader struct {
	Server   *config.Server                             // this hub as it started: what cannot change live is compared with it
	Engine   *atomic.Pointer[routing.Engine]            // the engine in force, replaced by a valid file's
	Backend  directory.Directory                        // the directory backend opened at start, nil for none; kept across reloads
	Secret   []byte                                     // the hub secret in force, nil for none
	Validate func(*config.Org) (*routing.Engine, error) // start-up's checks of an organization (hub.Validate)
	Metrics  *metrics.Metrics
	Track    func(tracking.Event) // writes a RELOAD event to the tracking log
	Wake     func()               // makes the scheduler look again, with the new engine
	Log      *slog.Logger

	mu  sync.Mutex
	cfg configState // guarded by mu
}

// configState is what the hub knows of the file in force.
type configState struct {
	digest  string    // sha256 of the bytes in force
	loaded  time.Time // when they were applied
	refused string    // digest of the last refused content, logged once
	mtime   time.Time // of the file when last read, for the watcher
	size    int64
	readAt  time.Time
	text    []byte // the bytes in force, for the console's config page

	// The last reload that applied a change, for the console.
	reloadAt        time.Time
	reloadActor     string
	changes         []string
	restartRequired []string
}

// Snapshot is the file in force and the last reload that applied a
// change, for `waypost status` and the console.
type Snapshot struct {
	Digest          string    // sha256 of the bytes in force, hex; "" for the built-in organization
	Loaded          time.Time // when they were applied
	Text            []byte    // the bytes in force
	ReloadAt        time.Time // the last reload that applied a change; zero for none
	ReloadActor     string    // who asked for it
	Changes         []string  // what it changed, in words
	RestartRequired []string  // what it changed that applies only after a restart
}

// Snapshot returns the file in force and the last reload that applied a
// change.
func (r *Reloader) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &r.cfg
	return Snapshot{Digest: c.digest, Loaded: c.loaded, Text: c.text, ReloadAt: c.reloadAt, ReloadActor: c.reloadActor,
		Changes: c.changes, RestartRequired: c.restartRequired}
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Reload re-reads the organization file and applies it when it is valid.
// actor names who asked (a user, "signal SIGHUP", "file change"). A
// refused file returns a *control.Error with CodeInvalid listing every
// problem.
func (r *Reloader) Reload(actor string) (*control.Reload, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reload(actor, nil)
}

// reload does the work of Reload with reloadMu held; data, when not nil,
// is the file's content already read.
func (r *Reloader) reload(actor string, data []byte) (*control.Reload, error) {
	old := r.Engine.Load()
	file := OrgFile(old.Org())
	if file == "" {
		return nil, control.Errorf(control.CodeBadRequest, "%s runs the built-in organization: there is no file to reload; restart it with --config FILE", r.Server.Name)
	}
	if data == nil {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, r.refuse(actor, "", []string{fmt.Sprintf("%s: cannot read the organization file: %v", file, err)})
		}
	}
	digest := digestOf(data)
	res := &control.Reload{Server: r.Server.Name, File: file}
	if digest == r.cfg.digest {
		res.AddressTypes = AddrTypes(old)
		r.Metrics.Reload("unchanged")
		return res, nil
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	org, err := config.Parse(data, file, filepath.Dir(abs))
	var eng *routing.Engine
	if err == nil {
		eng, err = r.Validate(org)
	}
	if err == nil && r.Backend != nil {
		// The directory backend stays open across reloads: the file's
		// recipients go in front of it again.
		var file *directory.Memory
		if file, err = directory.NewMemory(org.Recipients); err == nil {
			eng = routing.New(org, directory.Combine(file, r.Backend))
		}
	}
	if err == nil && org.Server(r.Server.Name) == nil {
		err = fmt.Errorf("%s: server %q is no longer in the file; a hub cannot remove itself by a reload: stop it instead", file, r.Server.Name)
	}
	if err != nil {
		return nil, r.refuse(actor, digest, errorLines(err))
	}
	res.Changed = true
	res.Changes, res.RestartRequired = r.diff(old.Org(), org)
	before := AddrTypes(old)
	res.AddressTypes = AddrTypes(eng)
	for i, at := range res.AddressTypes {
		if i >= len(before) || before[i].Site != at.Site || before[i].Version != at.Version {
			res.TypesChanged = append(res.TypesChanged, at.Site)
		}
	}
	r.Engine.Store(eng)
	r.cfg.digest, r.cfg.loaded, r.cfg.refused, r.cfg.text = digest, time.Now(), "", data
	r.cfg.reloadAt, r.cfg.reloadActor, r.cfg.changes, r.cfg.restartRequired = r.cfg.loaded, actor, res.Changes, res.RestartRequired
	r.Metrics.Reload("applied")
	r.Log.Info("organization file reloaded", "file", file, "actor", actor, "changes", len(res.Changes))
	for _, c := range res.Changes {
		r.Log.Info("reload: " + c)
	}
	for _, site := range res.TypesChanged {
		for _, at := range res.AddressTypes {
			if at.Site == site {
				r.Log.Info("address types changed", "site", site, "types", at.Types, "version", at.Version)
			}
		}
	}
	for _, what := range res.RestartRequired {
		r.Log.Warn("reload: applies only after a restart: " + what)
	}
	detail := "applied: " + cmp.Or(strings.Join(res.Changes, "; "), "no change that routing sees")
	if len(res.RestartRequired) > 0 {
		detail += "; after a restart only: " + strings.Join(res.RestartRequired, "; ")
	}
	r.Track(tracking.Event{Event: tracking.Reload, Detail: detail, Actor: actor})
	r.Wake() // the next attempts use the new engine
	return res, nil
}

// refuse logs and tracks a refused reload, once per content, and returns
// the error for the caller.
func (r *Reloader) refuse(actor, digest string, lines []string) error {
	file := r.Engine.Load().Org().File
	r.Metrics.Reload("refused")
	if digest == "" || digest != r.cfg.refused || actor != "file change" {
		r.cfg.refused = digest
		r.Log.Error("organization file refused; the configuration in force keeps serving", "file", file, "actor", actor, "errors", len(lines))
		for _, l := range lines {
			r.Log.Error("reload: " + l)
		}
		r.Track(tracking.Event{Event: tracking.Reload, Detail: "refused: " + strings.Join(lines, "; "), Actor: actor})
	}
	return &control.Error{Code: control.CodeInvalid, Errors: lines,
		Msg: fmt.Sprintf("%s has %d error(s); %s keeps serving with the configuration in force", file, len(lines), r.Server.Name)}
}

func errorLines(err error) []string {
	var ce config.Errors
	if errors.As(err, &ce) {
		out := make([]string, len(ce))
		for i, e := range ce {
			out[i] = e.Error()
		}
		return out
	}
	return strings.Split(err.Error(), "\n")
}

// AddrTypes is the address-type list of every site, as clients are told.
func AddrTypes(eng *routing.Engine) []control.AddrTypes {
	out := []control.AddrTypes{}
	for _, s := range eng.Org().Sites {
		at := eng.AddressTypes(s.Name)
		out = append(out, control.AddrTypes{Site: at.Site, Types: at.Types, Version: at.Version})
	}
	return out
}

// diff says in words what the new organization changes, and which of the
// changes need a restart of this server.
func (r *Reloader) diff(old, org *config.Org) (changes, restart []string) {
	me, was := org.Server(r.Server.Name), r.Server
	field := func(what, a, b string) {
		if a != b {
			restart = append(restart, fmt.Sprintf("%s of %s: %q -> %q", what, me.Name, a, b))
		}
	}
	field("fqdn", was.FQDN, me.FQDN)
	field("data_dir", was.DataDir, me.DataDir)
	field("relay", was.Relay, me.Relay)
	field("relay_tls", was.RelayTLSCert+" "+was.RelayTLSKey, me.RelayTLSCert+" "+me.RelayTLSKey)
	field("api", was.API, me.API)
	field("mailbox_delivery", was.MailboxDelivery.Kind+" "+was.MailboxDelivery.Address, me.MailboxDelivery.Kind+" "+me.MailboxDelivery.Address)
	field("dns", strings.Join(was.DNS, " "), strings.Join(me.DNS, " "))
	if !slices.EqualFunc(was.Receive, me.Receive, sameReceive) {
		restart = append(restart, "receive connectors of "+me.Name+" (listen addresses and settings)")
	}
	if old.HubSecretFile != org.HubSecretFile {
		restart = append(restart, "organization.hub_secret_file")
	} else if org.HubSecretFile != "" {
		if b, err := os.ReadFile(org.HubSecretFile); err == nil && string(trimSpace(b)) != string(r.Secret) {
			restart = append(restart, "the hub secret in "+org.HubSecretFile)
		}
	}
	if !reflect.DeepEqual(old.Directory, org.Directory) {
		restart = append(restart, "the [directory] section (the backend opened at start keeps serving)")
	}
	if was.Site != me.Site {
		changes = append(changes, fmt.Sprintf("%s moves from site %s to %s", me.Name, was.Site, me.Site))
	}
	named := func(what string, a, b []string) {
		for _, n := range b {
			if !slices.Contains(a, n) {
				changes = append(changes, fmt.Sprintf("%s %q added", what, n))
			}
		}
		for _, n := range a {
			if !slices.Contains(b, n) {
				changes = append(changes, fmt.Sprintf("%s %q removed", what, n))
			}
		}
	}
	names := func(n int, name func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = name(i)
		}
		return out
	}
	named("console administrator", old.Administrators, org.Administrators) // applies at once (internal/console)
	named("site", names(len(old.Sites), func(i int) string { return old.Sites[i].Name }), names(len(org.Sites), func(i int) string { return org.Sites[i].Name }))
	named("site link", names(len(old.SiteLinks), func(i int) string { return old.SiteLinks[i].Name }), names(len(org.SiteLinks), func(i int) string { return org.SiteLinks[i].Name }))
	named("server", names(len(old.Servers), func(i int) string { return old.Servers[i].Name }), names(len(org.Servers), func(i int) string { return org.Servers[i].Name }))
	named("accepted domain", names(len(old.AcceptedDomains), func(i int) string { return old.AcceptedDomains[i].Domain }), names(len(org.AcceptedDomains), func(i int) string { return org.AcceptedDomains[i].Domain }))
	named("send connector", names(len(old.SendConnectors), func(i int) string { return old.SendConnectors[i].Name }), names(len(org.SendConnectors), func(i int) string { return org.SendConnectors[i].Name }))
	for _, sc := range org.SendConnectors {
		for _, o := range old.SendConnectors {
			if o.Name == sc.Name && connectorKey(o) != connectorKey(sc) {
				changes = append(changes, fmt.Sprintf("send connector %q changed", sc.Name))
			}
		}
	}
	for _, ad := range org.AcceptedDomains {
		if o := old.AcceptedDomain(ad.Domain); o != nil && !slices.Equal(o.DKIM, ad.DKIM) {
			changes = append(changes, fmt.Sprintf("DKIM keys of %s changed", ad.Domain))
		}
	}
	for _, l := range org.SiteLinks {
		for _, o := range old.SiteLinks {
			if o.Name == l.Name && *o != *l {
				changes = append(changes, fmt.Sprintf("site link %q changed", l.Name))
			}
		}
	}
	if n, o := len(org.Recipients), len(old.Recipients); n != o {
		changes = append(changes, fmt.Sprintf("recipients: %d -> %d", o, n))
	} else if !reflect.DeepEqual(old.Recipients, org.Recipients) {
		changes = append(changes, "recipients changed")
	}
	if old.Retry != org.Retry || old.MessageExpiration != org.MessageExpiration || old.DelayNotification != org.DelayNotification ||
		old.MaxHopCount != org.MaxHopCount || old.DefaultDomain != org.DefaultDomain || old.GlitchRetryInterval != org.GlitchRetryInterval {
		changes = append(changes, "organization settings (retry, expiration, notifications, hop count, default domain or glitch retry interval)")
	}
	return changes, restart
}

func sameReceive(a, b *config.ReceiveConnector) bool { return reflect.DeepEqual(a, b) }

// connectorKey is what routing and delivery see of a send connector.
func connectorKey(sc *config.SendConnector) string {
	spaces := make([]string, len(sc.AddressSpaces))
	for i, sp := range sc.AddressSpaces {
		spaces[i] = fmt.Sprintf("%s:%s;%d;%v", sp.Type, sp.Pattern, sp.Cost, sp.Scoped)
	}
	return fmt.Sprintf("%q %q %v %v %d %#v", spaces, sc.SourceServers, sc.Scoped, sc.Enabled, sc.MaxMessageSize, sc.Delivery)
}

func trimSpace(b []byte) []byte { return []byte(strings.TrimSpace(string(b))) }

// Watch polls the organization file every interval and reloads it when
// its content changes, so that an edit applies within about a second
// without a signal. A file caught half-written is refused quietly once
// and read again at the next poll; only content that stays invalid is
// logged.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration) {
	file := OrgFile(r.Engine.Load().Org())
	if file == "" || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	pendingBad := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(file)
		if err != nil {
			continue // being replaced; SIGHUP or the next poll will tell
		}
		r.mu.Lock()
		st := &r.cfg
		// Read again when the file looks changed, or when it changed so
		// recently that a second write in the same clock tick would not
		// show in its time stamp.
		if fi.ModTime().Equal(st.mtime) && fi.Size() == st.size && st.readAt.Sub(st.mtime) > 2*time.Second {
			r.mu.Unlock()
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			r.mu.Unlock()
			continue
		}
		st.mtime, st.size, st.readAt = fi.ModTime(), fi.Size(), time.Now()
		d := digestOf(data)
		if d == st.digest || d == st.refused {
			r.mu.Unlock()
			continue
		}
		if d != pendingBad {
			// First sight of this content: apply it if valid; if not,
			// wait one poll in case the editor is still writing.
			if _, err := r.reloadQuiet(data); err != nil {
				pendingBad = d
			}
			r.mu.Unlock()
			continue
		}
		pendingBad = ""
		r.reload("file change", data)
		r.mu.Unlock()
	}
}

// reloadQuiet applies data when it is a valid organization and does
// nothing (no log, no tracking) when it is not.
func (r *Reloader) reloadQuiet(data []byte) (*control.Reload, error) {
	abs, _ := filepath.Abs(r.Engine.Load().Org().File)
	org, err := config.Parse(data, r.Engine.Load().Org().File, filepath.Dir(abs))
	if err == nil {
		_, err = r.Validate(org)
	}
	if err == nil && org.Server(r.Server.Name) == nil {
		err = errors.New("server removed")
	}
	if err != nil {
		return nil, err
	}
	return r.reload("file change", data)
}

// Init notes the file in force at start, so that the watcher and reloads
// compare against it.
func (r *Reloader) Init() {
	r.cfg.loaded = time.Now()
	file := OrgFile(r.Engine.Load().Org())
	if file == "" {
		return
	}
	if data, err := os.ReadFile(file); err == nil {
		r.cfg.digest, r.cfg.text = digestOf(data), data
	}
	if fi, err := os.Stat(file); err == nil {
		r.cfg.mtime, r.cfg.size, r.cfg.readAt = fi.ModTime(), fi.Size(), time.Now()
	}
}

// OrgFile is the file an organization was read from, "" for the built-in
// one (which config names "(built-in organization)").
func OrgFile(org *config.Org) string {
	if org.File == "" || strings.HasPrefix(org.File, "(") {
		return ""
	}
	return org.File
}
