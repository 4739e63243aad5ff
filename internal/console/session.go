package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Cookie names.
const (
	sessionCookie = "waypost_console"
	loginCookie   = "waypost_console_login" // the sign-in form's CSRF token (double submit)
)

// maxSessions bounds the sessions kept; expired ones are dropped first.
const maxSessions = 10000

// session is one signed-in browser.
type session struct {
	token   string
	mailbox string // primary SMTP address of the mailbox signed in
	csrf    string // the token every POST of this session carries
	seen    time.Time
	flash   string // the outcome of the last action, shown once
}

// sessions holds the sessions of a console, by token.
type sessions struct {
	mu   sync.Mutex
	m    map[string]*session
	idle time.Duration
}

// randomToken is 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// start makes a session for mailbox.
func (ss *sessions) start(mailbox string, now time.Time) *session {
	s := &session{token: randomToken(), mailbox: mailbox, csrf: randomToken(), seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[string]*session{}
	}
	if len(ss.m) >= maxSessions {
		for t, o := range ss.m {
			if now.Sub(o.seen) > ss.idle {
				delete(ss.m, t)
			}
		}
		if len(ss.m) >= maxSessions { // all alive: the oldest goes
			var oldest *session
			for _, o := range ss.m {
				if oldest == nil || o.seen.Before(oldest.seen) {
					oldest = o
				}
			}
			delete(ss.m, oldest.token)
		}
	}
	ss.m[s.token] = s
	return s
}

// get returns the session of token and marks it seen, or nil when there
// is none or it has been idle too long (then it is ended).
func (ss *sessions) get(token string, now time.Time) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[token]
	if s == nil {
		return nil
	}
	if now.Sub(s.seen) > ss.idle {
		delete(ss.m, token)
		return nil
	}
	s.seen = now
	return s
}

// end ends the session of token.
func (ss *sessions) end(token string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, token)
}

// takeFlash returns and clears the session's last outcome.
func (ss *sessions) takeFlash(s *session) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f := s.flash
	s.flash = ""
	return f
}

func (ss *sessions) setFlash(s *session, f string) {
	ss.mu.Lock()
	s.flash = f
	ss.mu.Unlock()
}

// sameToken compares two tokens in constant time; an empty one never
// matches.
func sameToken(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// setCookie sets a console cookie: HttpOnly, SameSite=Strict, under
// /console/, Secure when the request came over TLS. maxAge < 0 deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/console/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}
