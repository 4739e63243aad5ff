package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/loginlimit"
	"github.com/waypost/waypost/internal/routing"
)

// Authenticator checks a user name and password; the hub's Passwords
// checks them against the directory's hashes, as SMTP submission does.
type Authenticator interface {
	Authenticate(user, pass string) (mailbox string, ok bool)
}

// Config is what a Server needs from its hub.
type Config struct {
	Server    string                 // name of this hub in the organization
	Engine    func() *routing.Engine // the current engine; may change at any time (reload)
	Auth      Authenticator          // checks Basic credentials
	Mailboxes *delivery.Maildir      // the Maildirs of this hub (only Dir is used)
	Log       *slog.Logger           // nil: discard
	MaxWait   time.Duration          // cap of ?wait= (default 60s)
	Poll      time.Duration          // how often a long poll looks for a new engine (default 100ms)
	MaxBody   int64                  // largest request body (default 1 MiB)
	Throttle  *Throttle              // nil: the default throttle of failed logins
	Logins    *loginlimit.Limiter    // lockouts per address and per account; nil: one of its own, loginlimit's defaults
	Now       func() time.Time       // nil: time.Now
}

// Server is the HTTP API of one hub. It is an http.Handler; Serve and
// Shutdown run it on a listener.
type Server struct {
	cfg  Config
	log  *slog.Logger
	mux  *http.ServeMux
	http *http.Server

	done     chan struct{} // closed by Shutdown: long polls answer at once
	doneOnce sync.Once

	watch   engineWatch
	logins  loginCache
	oab     oabHistory
	folders sync.Map // Maildir path -> *sync.Mutex, held while its uid list is read or written
}

// New returns the API server of a hub.
func New(cfg Config) *Server {
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 60 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Throttle == nil {
		cfg.Throttle = &Throttle{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logins == nil {
		cfg.Logins = loginlimit.New(loginlimit.DefaultPolicy(), cfg.Log)
	}
	s := &Server{cfg: cfg, log: cfg.Log, mux: http.NewServeMux(), done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.watch.s = s
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      cfg.MaxWait + time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mux.HandleFunc("GET /api/v1/address-types", s.authed(s.addressTypes))
	s.mux.HandleFunc("POST /api/v1/resolve", s.authed(s.resolve))
	s.mux.HandleFunc("GET /api/v1/oab", s.authed(s.offlineAddressBook))
	s.mux.HandleFunc("GET /api/v1/mailbox/messages", s.authed(s.listMessages))
	s.mux.HandleFunc("GET /api/v1/mailbox/messages/{id}", s.authed(s.fetchMessage))
	s.mux.HandleFunc("DELETE /api/v1/mailbox/messages/{id}", s.authed(s.deleteMessage))
	for _, p := range AutoconfigPaths {
		s.mux.HandleFunc("GET "+p, s.autoconfig)
	}
	s.mux.HandleFunc("POST "+AutodiscoverPath, s.autodiscover)
	return s
}

// Throttle is the API's throttle of failed logins, for the web console
// on the same listener to share.
func (s *Server) Throttle() *Throttle { return s.cfg.Throttle }

// Handle adds a handler on the same listener, for a pattern outside
// /api/v1/ (such as "GET /metrics"). The handler does its own
// authentication, if any.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP implements http.Handler: a known path goes to its handler;
// an unknown path or method gets a JSON 404 or 405 instead of net/http's
// plain text, and a panic becomes a logged JSON 500.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("api: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
			writeError(w, http.StatusInternalServerError, CodeInternal, "internal error; the hub's log has the details")
		}
	}()
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.mux.ServeHTTP(&jsonMiss{ResponseWriter: w, r: r}, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// jsonMiss turns the mux's plain-text 404 and 405 answers into JSON ones
// (keeping the Allow header) and lets redirects through.
type jsonMiss struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool
}

func (m *jsonMiss) WriteHeader(code int) {
	switch code {
	case http.StatusNotFound:
		m.swallow = true
		m.Header().Del("Content-Type")
		writeError(m.ResponseWriter, code, CodeNotFound, "no such API path: %s %s", m.r.Method, m.r.URL.Path)
	case http.StatusMethodNotAllowed:
		m.swallow = true
		m.Header().Del("Content-Type")
		writeError(m.ResponseWriter, code, CodeMethodNotAllowed, "%s is not allowed on %s; allowed: %s", m.r.Method, m.r.URL.Path, m.Header().Get("Allow"))
	default:
		m.ResponseWriter.WriteHeader(code)
	}
}

func (m *jsonMiss) Write(p []byte) (int, error) {
	if m.swallow {
		return len(p), nil
	}
	return m.ResponseWriter.Write(p)
}

// Serve answers on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown ends long polls at once (each answers with what it has), stops
// taking connections and waits for the calls under way, until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Close()
	return s.http.Shutdown(ctx)
}

// Close ends the long polls under way and stops the engine watcher; the
// handler still answers other calls. Shutdown calls it.
func (s *Server) Close() {
	s.doneOnce.Do(func() { close(s.done) })
}
