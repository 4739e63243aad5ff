package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/routing"
)

// addressTypesAnswer is the body of GET /api/v1/address-types, the same
// object `waypost addrtypes` prints.
type addressTypesAnswer struct {
	Site    string   `json:"site"`
	Types   []string `json:"types"`
	Version string   `json:"version"`
}

// addressTypes serves GET /api/v1/address-types: the list of the caller's
// site, with its version as ETag. With If-None-Match naming the current
// version the answer is 304; with ?wait=D too, the call is held until the
// version changes (a reload), the caller's site changes, or D passes
// (at most MaxWait), then answered 200 or 304. Without If-None-Match, wait
// is ignored: there is nothing to wait for a change from.
func (s *Server) addressTypes(w http.ResponseWriter, r *http.Request, eng *routing.Engine, c *caller) {
	wait, ok := s.waitParam(w, r)
	if !ok {
		return
	}
	if c.home == nil {
		writeError(w, http.StatusConflict, CodeNoHomeServer, "mailbox %s has home server %q, which the organization does not have", c.mailbox, c.entry.Server)
		return
	}
	inm := r.Header.Get("If-None-Match")
	at := addressTypes(eng, c.site())
	if inm != "" && wait > 0 && etagMatch(inm, at.Version) {
		at, ok = s.waitForChange(r, c, at, inm, wait)
		if !ok {
			return
		}
	}
	w.Header().Set("ETag", etag(at.Version))
	if inm != "" && etagMatch(inm, at.Version) {
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, addressTypesAnswer{Site: at.Site, Types: at.Types, Version: at.Version})
}

// waitForChange holds a long poll until the address types of the caller
// no longer match inm, or wait passes, or the server shuts down; it
// returns the list to answer with, and false when the client went away
// or stopped being a mailbox (answered here).
func (s *Server) waitForChange(r *http.Request, c *caller, at routing.AddressTypes, inm string, wait time.Duration) (routing.AddressTypes, bool) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	// A directory backend (LDAP) may gain an address type without a new
	// engine: the list is looked at again every second too.
	recheck := time.NewTicker(time.Second)
	defer recheck.Stop()
	defer s.watch.unsubscribe()
	eng, changed := s.watch.subscribe()
	for {
		// The watcher's engine may be newer than the one that authenticated.
		if cur := callerIn(eng, c.mailbox); cur != nil && cur.home != nil {
			at = addressTypes(eng, cur.site())
		}
		if !etagMatch(inm, at.Version) {
			return at, true
		}
		select {
		case <-r.Context().Done():
			return at, false
		case <-s.done:
			return at, true
		case <-timer.C:
			return at, true
		case <-recheck.C:
		case <-changed:
			s.watch.unsubscribe()
			eng, changed = s.watch.subscribe()
		}
	}
}

// waitParam parses ?wait=: a Go duration ("30s", "1m") or a number of
// seconds, capped at MaxWait; 0 when absent.
func (s *Server) waitParam(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	q := r.URL.Query()
	if !q.Has("wait") {
		return 0, true
	}
	v := q.Get("wait")
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseUint(v, 10, 32)
		if nerr != nil {
			writeError(w, http.StatusBadRequest, CodeBadWait, "wait=%q is not a duration; write it like 30s or 2m (at most %s)", v, s.cfg.MaxWait)
			return 0, false
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		writeError(w, http.StatusBadRequest, CodeBadWait, "wait=%q is negative", v)
		return 0, false
	}
	return min(d, s.cfg.MaxWait), true
}

// etag quotes a version as an entity tag.
func etag(version string) string { return `"` + version + `"` }

// etagMatch reports whether an If-None-Match value names version (weak
// comparison, RFC 9110 section 13.1.2): "*" matches any.
func etagMatch(inm, version string) bool {
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if t == etag(version) {
			return true
		}
	}
	return false
}

// addressTypes is the engine's list for site as the API shows it. The
// engine keeps each site's list until the organization or the
// directory's address types change, so asking it is cheap.
func addressTypes(eng *routing.Engine, site string) routing.AddressTypes {
	at := eng.AddressTypes(site)
	at.Witness = nil
	if at.Types == nil {
		at.Types = []string{}
	}
	return at
}
