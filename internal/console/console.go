package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/loginlimit"
	"github.com/waypost/waypost/internal/metrics"
	"github.com/waypost/waypost/internal/routing"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Queue is the scheduler's queue administration (internal/scheduler,
// admin.go and page.go), which `waypost queue` uses too.
type Queue interface {
	List(control.Select) (*control.QueueList, error)
	Page(sel control.Select, offset, limit int) (*control.QueueList, int, error)
	Retry(sel control.Select, actor string) (*control.Action, error)
	Hold(sel control.Select, actor string) (*control.Action, error)
	Release(sel control.Select, actor string) (*control.Action, error)
	Reroute(sel control.Select, actor string) (*control.Action, error)
	Discard(sel control.Select, actor string) (*control.Action, error)
	Remove(ctx context.Context, sel control.Select, actor string) (*control.Action, error)
	QueueStats() ([]metrics.QueueStat, int, error)
}

// Checker checks a user name and password (hub.Passwords): the mailbox's
// primary SMTP address, directory.ErrBadCredentials or
// directory.ErrUnavailable.
type Checker interface {
	Check(user, pass string) (string, error)
}

// Status is what the hub knows of the organization file in force.
type Status struct {
	File    string    // "" for the built-in organization
	Text    []byte    // the bytes in force
	Digest  string    // their SHA-256, hex
	Loaded  time.Time // when they were applied
	Started time.Time // when the hub started
	// The last reload that applied a change (zero Time: none since start).
	ReloadAt        time.Time
	ReloadActor     string
	Changes         []string
	RestartRequired []string
}

// Config is what a console needs from its hub.
type Config struct {
	Server      string                 // this hub's name
	Engine      func() *routing.Engine // the engine in force; changes with reloads
	Auth        Checker
	Logins      *loginlimit.Limiter // the API's limiter: one lockout for both
	Throttle    Throttle            // the API's slow-down of failed logins from one address; nil: none
	Queue       Queue
	Show        func(id string) (*control.MessageDetail, error) // queue.show: a message and its history
	TrackingLog string                                          // path of this hub's tracking log
	Status      func() Status
	LastHour    func() (received, delivered int)
	Log         *slog.Logger
	Now         func() time.Time // nil: time.Now
	Idle        time.Duration    // a session ends after this long idle; 0: 8 hours
	PeerTimeout time.Duration    // how long the overview waits for another hub; 0: 1 second
}

// Throttle slows down failed sign-ins from one address: Failed records one
// and returns how long to wait before answering it (api.Throttle, shared
// with the API).
type Throttle interface {
	Failed(host string, now time.Time) time.Duration
}

// Server is the console of one hub, an http.Handler for /console/.
type Server struct {
	cfg   Config
	log   *slog.Logger
	mux   *http.ServeMux
	pages map[string]*template.Template
	ss    sessions
	peers peerCache

	preMu  sync.Mutex
	preEng *routing.Engine // the engine preFix was computed for
	preOld *routing.Engine // that engine without scoped connectors
}

// Page size of the queue's message list.
const pageSize = 50

// New returns the console of a hub.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 8 * time.Hour
	}
	if cfg.PeerTimeout <= 0 {
		cfg.PeerTimeout = time.Second
	}
	if cfg.Logins == nil {
		cfg.Logins = loginlimit.New(loginlimit.DefaultPolicy(), cfg.Log)
	}
	s := &Server{cfg: cfg, log: cfg.Log, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.ss.idle = cfg.Idle
	funcs := template.FuncMap{"since": s.since, "when": when, "join": strings.Join, "lower": strings.ToLower}
	names, _ := fs.Glob(templateFS, "templates/*.html")
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		s.pages[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /console/login", s.loginForm)
	s.mux.HandleFunc("POST /console/login", s.login)
	s.mux.HandleFunc("GET /console/logout", s.signedIn(s.logoutForm))
	s.mux.HandleFunc("POST /console/logout", s.signedIn(s.logout))
	s.mux.HandleFunc("GET /console/{$}", s.admin(s.overview))
	s.mux.HandleFunc("GET /console/overview.json", s.admin(s.overviewJSON))
	s.mux.HandleFunc("GET /console/topology", s.admin(s.topology))
	s.mux.HandleFunc("GET /console/topology.svg", s.admin(s.topologySVG))
	s.mux.HandleFunc("GET /console/address-types", s.admin(s.addressTypes))
	s.mux.HandleFunc("GET /console/route", s.admin(s.route))
	s.mux.HandleFunc("GET /console/queues", s.admin(s.queues))
	s.mux.HandleFunc("GET /console/queues/message", s.admin(s.message))
	s.mux.HandleFunc("POST /console/queues/action", s.admin(s.action))
	s.mux.HandleFunc("GET /console/tracking", s.admin(s.tracking))
	s.mux.HandleFunc("GET /console/config", s.admin(s.config))
	s.mux.HandleFunc("/console/", s.notFound)
	return s
}

// ServeHTTP serves the console; a panic becomes a logged 500 page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("console: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
			s.errorPage(w, r, nil, http.StatusInternalServerError, "Internal error", "The hub's log has the details.")
		}
	}()
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	s.mux.ServeHTTP(w, r)
}

// user is the administrator of a request.
type user struct {
	sess  *session
	entry *directory.Entry
	eng   *routing.Engine
}

// name is how the user is shown and written to the tracking log.
func (u *user) name() string {
	if u.entry.Name != "" {
		return u.entry.Name
	}
	return u.sess.mailbox
}

type page func(w http.ResponseWriter, r *http.Request, u *user)

// signedIn passes requests of a live session whose mailbox is still a
// mailbox to h (administrator or not); others go to the sign-in form (a
// GET) or get 403 (a POST). A POST must carry the session's CSRF token.
func (s *Server) signedIn(h page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var sess *session
		if c, err := r.Cookie(sessionCookie); err == nil {
			sess = s.ss.get(c.Value, s.cfg.Now())
		}
		var u *user
		if sess != nil {
			eng := s.cfg.Engine()
			ent := eng.Directory().Lookup(address.Address{Type: "SMTP", Value: sess.mailbox})
			if ent != nil && ent.Kind == directory.Mailbox {
				u = &user{sess: sess, entry: ent, eng: eng}
			} else {
				s.ss.end(sess.token)
			}
		}
		if u == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/console/login?next="+urlEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, nil, http.StatusForbidden, "Not signed in", "Your session has ended: sign in again.")
			return
		}
		if r.Method == http.MethodPost && !sameToken(r.PostFormValue("csrf"), u.sess.csrf) {
			s.log.Warn("console: POST without its CSRF token refused", "path", r.URL.Path, "user", u.sess.mailbox, "remote", r.RemoteAddr)
			s.errorPage(w, r, u, http.StatusForbidden, "Refused", "The form's security token (CSRF) is missing or wrong. Reload the page and try again.")
			return
		}
		h(w, r, u)
	}
}

// admin is signedIn for administrators only: anyone else gets 403.
func (s *Server) admin(h page) http.HandlerFunc {
	return s.signedIn(func(w http.ResponseWriter, r *http.Request, u *user) {
		if !config.IsAdministrator(u.entry, u.eng.Org().Administrators) {
			s.log.Info("console: a mailbox that is not an administrator was refused", "user", u.sess.mailbox, "path", r.URL.Path)
			s.errorPage(w, r, u, http.StatusForbidden, "Not an administrator",
				u.sess.mailbox+" is not one of the organization's administrators ([organization] administrators in the organization file).")
			return
		}
		h(w, r, u)
	})
}

// view is the data every page template gets.
type view struct {
	Title  string
	Nav    string // the nav entry to mark
	Server string
	User   string // "" when not signed in
	CSRF   string
	Admin  bool
	Flash  string
	Data   any
}

// render writes page name with data.
func (s *Server) render(w http.ResponseWriter, r *http.Request, u *user, status int, name, title string, data any) {
	v := view{Title: title, Nav: name, Server: s.cfg.Server, Data: data}
	if u != nil {
		v.User, v.CSRF = u.sess.mailbox, u.sess.csrf
		v.Admin = config.IsAdministrator(u.entry, u.eng.Org().Administrators)
		v.Flash = s.ss.takeFlash(u.sess)
	}
	var b bytes.Buffer
	if err := s.pages[name].Execute(&b, v); err != nil {
		s.log.Error("console: template failed", "page", name, "err", err)
		http.Error(w, "console: the page could not be drawn; the hub's log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

type errorData struct{ Heading, Text string }

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, u *user, status int, heading, text string) {
	s.render(w, r, u, status, "error", heading, errorData{heading, text})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, nil, http.StatusNotFound, "Not found", "The console has no page "+r.URL.Path+".")
}

// loginData is the sign-in form.
type loginData struct {
	Token, Next, User, Error string
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.showLogin(w, r, http.StatusOK, r.URL.Query().Get("next"), "", "")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, next, user, msg string) {
	tok := randomToken()
	setCookie(w, r, loginCookie, tok, 3600)
	s.render(w, r, nil, status, "login", "Sign in", loginData{Token: tok, Next: safeNext(next), User: user, Error: msg})
}

// login checks the form's user and password through the login limiter
// the API uses (one lockout for both), then starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	user, pass, next := r.PostFormValue("user"), r.PostFormValue("password"), r.PostFormValue("next")
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(c.Value, r.PostFormValue("csrf")) {
		s.log.Warn("console: sign-in without its CSRF token refused", "remote", r.RemoteAddr)
		s.errorPage(w, r, nil, http.StatusForbidden, "Refused", "The sign-in form's security token (CSRF) is missing or wrong. Open the sign-in page again.")
		return
	}
	att := s.cfg.Logins.Check(loginService, user, remoteAddr(r))
	if att.Refused {
		att.Result(false)
		s.log.Info("console: sign-in refused: locked out after failed logins", "user", user, "remote", r.RemoteAddr, "until", att.Until)
		w.Header().Set("Retry-After", strconv.Itoa(max(int(att.Until.Sub(s.cfg.Now()).Seconds())+1, 1)))
		s.showLogin(w, r, http.StatusTooManyRequests, next, user, "Too many failed sign-ins: try again later.")
		return
	}
	if att.Delay > 0 {
		select {
		case <-time.After(att.Delay):
		case <-r.Context().Done():
			return
		}
	}
	mailbox, err := s.cfg.Auth.Check(user, pass)
	if errors.Is(err, directory.ErrUnavailable) {
		w.Header().Set("Retry-After", "30")
		s.showLogin(w, r, http.StatusServiceUnavailable, next, user, "The directory is not answering: try again in a moment.")
		return
	}
	if err != nil {
		att.Result(false)
		var delay time.Duration
		if s.cfg.Throttle != nil {
			delay = s.cfg.Throttle.Failed(remoteAddr(r).String(), s.cfg.Now()) // the API's key: the bare address
		}
		s.log.Info("console: sign-in failed", "user", user, "remote", r.RemoteAddr, "delay", delay)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		s.showLogin(w, r, http.StatusUnauthorized, next, user, "Wrong user name or password.")
		return
	}
	att.Result(true)
	sess := s.ss.start(mailbox, s.cfg.Now())
	setCookie(w, r, loginCookie, "", -1)
	setCookie(w, r, sessionCookie, sess.token, 0)
	s.log.Info("console: signed in", "user", mailbox, "remote", r.RemoteAddr)
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

// loginService names the console's logins to the limiter: the API's
// name, so that guesses on either count toward one lockout.
const loginService = "api"

func (s *Server) logoutForm(w http.ResponseWriter, r *http.Request, u *user) {
	s.render(w, r, u, http.StatusOK, "logout", "Sign out", nil)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, u *user) {
	s.ss.end(u.sess.token)
	setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// safeNext keeps a redirect target inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}

func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// since writes how long ago t was, to the second.
func (s *Server) since(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := s.cfg.Now().Sub(t)
	if d < 0 {
		return "in " + roundDur(-d)
	}
	return roundDur(d) + " ago"
}

func roundDur(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func urlEscape(s string) string { return template.URLQueryEscaper(s) }

// errText is an error for people.
func errText(err error) string {
	var ce *control.Error
	if errors.As(err, &ce) {
		return ce.Msg
	}
	return fmt.Sprint(err)
}

// Redirect sends /console to /console/.
func (s *Server) Redirect() http.Handler {
	return http.RedirectHandler("/console/", http.StatusMovedPermanently)
}
