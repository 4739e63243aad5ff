package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/loginlimit"
	"github.com/waypost/waypost/internal/routing"
)

// caller is the authenticated user of a call, as one engine sees it.
type caller struct {
	mailbox string           // primary SMTP address, as Authenticate returned it
	entry   *directory.Entry // the mailbox
	home    *config.Server   // its home server; nil if the organization has none of that name
}

// site is the caller's site: its home server's site ("" without one).
func (c *caller) site() string {
	if c.home == nil {
		return ""
	}
	return c.home.Site
}

// callerIn finds mailbox in eng's directory; nil when it is not a mailbox
// there (any more).
func callerIn(eng *routing.Engine, mailbox string) *caller {
	ent := eng.Directory().Lookup(address.Address{Type: "SMTP", Value: mailbox})
	if ent == nil || ent.Kind != directory.Mailbox {
		return nil
	}
	return &caller{mailbox: mailbox, entry: ent, home: eng.Org().Server(ent.Server)}
}

// handler is an API handler with its caller and the engine that found it.
type handler func(w http.ResponseWriter, r *http.Request, eng *routing.Engine, c *caller)

// authed checks HTTP Basic credentials (RFC 7617) before h. A failure is a
// 401 with a WWW-Authenticate challenge and a JSON body; repeated failures
// from one address are answered more and more slowly (Throttle). The login
// limiter (package loginlimit) locks out an address, or an account guessed
// at from many addresses: a locked-out login gets 429 with Retry-After and
// its password is not checked, except that a locked account's logins from
// an address it logged in from before are only delayed.
func (s *Server) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="waypost", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "authentication required: HTTP Basic with a mailbox address and its password")
			return
		}
		host := remoteHost(r)
		att := s.cfg.Logins.Check(loginService, user, remoteAddr(r))
		switch {
		case att.Refused:
			att.Result(false)
			s.log.Info("api: login refused: locked out after failed logins", "user", user, "remote", host, "locked", att.Locked, "until", att.Until)
			retry := max(int(att.Until.Sub(s.cfg.Now()).Seconds())+1, 1)
			w.Header().Set("Retry-After", strconv.Itoa(retry))
			what := "your address"
			if att.Locked == loginlimit.KindAccount {
				what = "this account"
			}
			writeError(w, http.StatusTooManyRequests, CodeLockedOut, "too many failed logins from %s: try again later", what)
			return
		case att.Delay > 0:
			// The account is locked, but this address logged in to it
			// before: the real user waits, and is let in.
			if !sleep(r.Context(), att.Delay) {
				return
			}
		}
		eng := s.cfg.Engine()
		mailbox, ok, err := s.login(eng, user, pass)
		if errors.Is(err, directory.ErrUnavailable) {
			s.log.Warn("api: the directory is not answering; login deferred", "user", user, "err", err)
			w.Header().Set("Retry-After", "30")
			writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "the directory is not answering: try again later")
			return
		}
		var c *caller
		if ok {
			c = callerIn(eng, mailbox)
		}
		if c == nil {
			att.Result(false)
			delay := s.cfg.Throttle.Failed(host, s.cfg.Now())
			s.log.Info("api: login failed", "user", user, "remote", host, "delay", delay)
			if !sleep(r.Context(), delay) {
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="waypost", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "invalid user name or password")
			return
		}
		att.Result(true)
		h(w, r, eng, c)
	}
}

// loginService names the API to the login limiter.
const loginService = "api"

// remoteAddr is the client's IP address, for the login limiter (the zero
// Addr, one shared key, if the address cannot be read).
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// login checks user and password, from the cache of recent logins when it
// can: a bcrypt comparison costs tens of milliseconds, and clients call
// often. A cached login counts only while the mailbox keeps the password
// hash it had, so a changed password takes effect with the next engine.
// An Authenticator that can also say why a login failed (hub.Passwords)
// lets a directory outage be told from bad credentials: the caller gets
// 503 and tries again, rather than 401.
func (s *Server) login(eng *routing.Engine, user, pass string) (string, bool, error) {
	key := sha256.Sum256([]byte(user + "\x00" + pass))
	now := s.cfg.Now()
	if mailbox, hash, ok := s.logins.get(key, now); ok {
		if c := callerIn(eng, mailbox); c != nil && c.entry.PasswordHash == hash && hash != "" {
			return mailbox, true, nil
		}
	}
	var mailbox string
	var ok bool
	if ch, can := s.cfg.Auth.(interface {
		Check(user, pass string) (string, error)
	}); can {
		var err error
		if mailbox, err = ch.Check(user, pass); errors.Is(err, directory.ErrUnavailable) {
			return "", false, err
		}
		ok = err == nil
	} else {
		mailbox, ok = s.cfg.Auth.Authenticate(user, pass)
	}
	if !ok {
		return "", false, nil
	}
	if c := callerIn(eng, mailbox); c != nil {
		s.logins.put(key, mailbox, c.entry.PasswordHash, now)
	}
	return mailbox, true, nil
}

// loginCache remembers successful logins for a few minutes, keyed by a
// digest of user and password (the password itself is never kept).
type loginCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedLogin
}

type cachedLogin struct {
	mailbox, hash string
	expires       time.Time
}

const (
	loginTTL     = 5 * time.Minute
	loginCacheMx = 1024
)

func (c *loginCache) get(key [32]byte, now time.Time) (mailbox, hash string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.m[key]
	if !ok || now.After(l.expires) {
		return "", "", false
	}
	return l.mailbox, l.hash, true
}

func (c *loginCache) put(key [32]byte, mailbox, hash string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= loginCacheMx {
		c.m = map[[32]byte]cachedLogin{}
	}
	c.m[key] = cachedLogin{mailbox: mailbox, hash: hash, expires: now.Add(loginTTL)}
}

// Throttle slows down repeated failed logins from one remote address: the
// first Free failures are answered at once, each later one Step later than
// the one before, up to Max. An address is forgotten after Window without
// failures. The zero value uses 3, 250ms, 2s and 1m.
type Throttle struct {
	Free   int
	Step   time.Duration
	Max    time.Duration
	Window time.Duration

	mu    sync.Mutex
	fails map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

// throttleMaxAddrs bounds the addresses remembered.
const throttleMaxAddrs = 10000

// Failed records a failed login from host and returns how long to wait
// before answering it. The API and the web console share one Throttle
// (Server.Throttle), so that a guesser gains nothing by switching.
func (t *Throttle) Failed(host string, now time.Time) time.Duration {
	free, step, max, window := t.Free, t.Step, t.Max, t.Window
	if free <= 0 {
		free = 3
	}
	if step <= 0 {
		step = 250 * time.Millisecond
	}
	if max <= 0 {
		max = 2 * time.Second
	}
	if window <= 0 {
		window = time.Minute
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fails == nil {
		t.fails = map[string]*failures{}
	}
	if len(t.fails) >= throttleMaxAddrs {
		for h, f := range t.fails {
			if now.Sub(f.last) > window {
				delete(t.fails, h)
			}
		}
	}
	f := t.fails[host]
	if f == nil || now.Sub(f.last) > window {
		f = &failures{}
		t.fails[host] = f
	}
	f.n++
	f.last = now
	if f.n <= free {
		return 0
	}
	return min(time.Duration(f.n-free)*step, max)
}

// remoteHost is the client's address without the port.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return strings.ToLower(host)
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
