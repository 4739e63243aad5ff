package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/tracking"
)

// live is the overview's numbers, as overview.json gives them.
type live struct {
	Hubs      []hubState `json:"hubs"`
	Received  int        `json:"received_last_hour"`
	Delivered int        `json:"delivered_last_hour"`
	Digest    string     `json:"config_sha256"`
	Loaded    string     `json:"config_loaded"`
	Now       string     `json:"now"`
}

func (s *Server) liveNumbers(r *http.Request, u *user) live {
	st := s.cfg.Status()
	l := live{Hubs: s.hubs(r.Context(), u), Digest: st.Digest, Loaded: when(st.Loaded), Now: when(s.cfg.Now())}
	if s.cfg.LastHour != nil {
		l.Received, l.Delivered = s.cfg.LastHour()
	}
	return l
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, u *user) {
	st := s.cfg.Status()
	s.render(w, r, u, http.StatusOK, "overview", "Overview", struct {
		Live   live
		Org    string
		File   string
		Status Status
	}{s.liveNumbers(r, u), u.eng.Org().Name, st.File, st})
}

func (s *Server) overviewJSON(w http.ResponseWriter, r *http.Request, u *user) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(s.liveNumbers(r, u))
}

func (s *Server) addressTypes(w http.ResponseWriter, r *http.Request, u *user) {
	site := r.URL.Query().Get("site")
	if site == "" {
		if home := u.eng.Org().Server(u.entry.Server); home != nil {
			site = home.Site
		} else if len(u.eng.Org().Sites) > 0 {
			site = u.eng.Org().Sites[0].Name
		}
	}
	d := s.addressTypesOf(u.eng, site)
	status := http.StatusOK
	if d.Unknown {
		status = http.StatusNotFound
	}
	s.render(w, r, u, status, "addrtypes", "Address types of "+d.Site, d)
}

// routeData is the route page.
type routeData struct {
	Recipient string
	Site      string
	Sites     []string
	Server    string
	Error     string
	Decision  *routing.Decision
}

// route explains one recipient as `waypost route --explain` does, routed
// from the first server of the site chosen (this hub's site by default).
func (s *Server) route(w http.ResponseWriter, r *http.Request, u *user) {
	org := u.eng.Org()
	q := r.URL.Query()
	d := routeData{Recipient: strings.TrimSpace(q.Get("recipient")), Site: q.Get("site")}
	for _, st := range org.Sites {
		d.Sites = append(d.Sites, st.Name)
	}
	if d.Site == "" {
		if me := org.Server(s.cfg.Server); me != nil {
			d.Site = me.Site
		}
	}
	status := http.StatusOK
	if d.Recipient != "" {
		st := org.Site(d.Site)
		switch {
		case st == nil:
			d.Error, status = fmt.Sprintf("There is no site %q.", d.Site), http.StatusNotFound
		case len(org.ServersInSite(st.Name)) == 0:
			d.Error, status = fmt.Sprintf("Site %s has no server to route from.", st.Name), http.StatusBadRequest
		default:
			d.Server = org.ServersInSite(st.Name)[0].Name
			if me := org.Server(s.cfg.Server); me != nil && strings.EqualFold(me.Site, st.Name) {
				d.Server = me.Name
			}
			dec := u.eng.Route(d.Server, d.Recipient, 0, true)
			d.Decision = &dec
		}
	}
	s.render(w, r, u, status, "route", "Route", d)
}

// queuesData is the queues page: the queues, and one queue's messages.
type queuesData struct {
	Queues   []control.Queue
	Queue    string
	State    string
	States   []string
	Messages []control.Message
	Total    int
	Page     int
	Pages    int
	Prev     string
	Next     string
	Error    string
}

func (s *Server) queues(w http.ResponseWriter, r *http.Request, u *user) {
	q := r.URL.Query()
	d := queuesData{Queue: q.Get("queue"), State: q.Get("state"), States: control.States}
	ql, err := s.cfg.Queue.List(control.Select{})
	if err != nil {
		d.Error = errText(err)
	} else {
		d.Queues = ql.Queues
	}
	status := http.StatusOK
	if d.Queue != "" || d.State != "" {
		d.Page, _ = strconv.Atoi(q.Get("page"))
		d.Page = max(d.Page, 1)
		pl, total, err := s.cfg.Queue.Page(control.Select{Queue: d.Queue, State: d.State}, (d.Page-1)*pageSize, pageSize)
		if err != nil {
			d.Error, status = errText(err), http.StatusBadRequest
		} else {
			d.Messages, d.Total = pl.Messages, total
			d.Pages = max((total+pageSize-1)/pageSize, 1)
			link := func(p int) string {
				v := url.Values{"queue": {d.Queue}, "state": {d.State}, "page": {strconv.Itoa(p)}}
				return "/console/queues?" + v.Encode()
			}
			if d.Page > 1 {
				d.Prev = link(d.Page - 1)
			}
			if d.Page < d.Pages {
				d.Next = link(d.Page + 1)
			}
		}
	}
	s.render(w, r, u, status, "queues", "Queues", d)
}

func (s *Server) message(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.URL.Query().Get("id")
	md, err := s.cfg.Show(id)
	if err != nil {
		s.render(w, r, u, http.StatusNotFound, "message", "Message "+id, struct {
			ID    string
			Error string
			M     *control.MessageDetail
		}{id, errText(err), nil})
		return
	}
	s.render(w, r, u, http.StatusOK, "message", "Message "+id, struct {
		ID    string
		Error string
		M     *control.MessageDetail
	}{id, "", md})
}

// action applies a queue action to one message (id) or one queue
// (queue): retry, hold, release, reroute, discard (shadows, queue
// shadow:HUB; package shadow), or remove (one message, with
// ndr=yes for a report to the sender) after a confirmation page. The
// administrator's name is the actor in the tracking log.
func (s *Server) action(w http.ResponseWriter, r *http.Request, u *user) {
	act, id, queue := r.PostFormValue("action"), r.PostFormValue("id"), r.PostFormValue("queue")
	sel := control.Select{Queue: queue}
	back := "/console/queues?queue=" + url.QueryEscape(queue)
	if id != "" {
		sel = control.Select{IDs: []string{id}}
		back = "/console/queues/message?id=" + url.QueryEscape(id)
	}
	if id == "" && queue == "" {
		s.errorPage(w, r, u, http.StatusBadRequest, "Nothing chosen", "Name a message or a queue to act on.")
		return
	}
	actor := u.name()
	var a *control.Action
	var err error
	switch act {
	case "retry":
		a, err = s.cfg.Queue.Retry(sel, actor)
	case "hold":
		a, err = s.cfg.Queue.Hold(sel, actor)
	case "release":
		a, err = s.cfg.Queue.Release(sel, actor)
	case "reroute":
		a, err = s.cfg.Queue.Reroute(sel, actor)
	case "discard":
		a, err = s.cfg.Queue.Discard(sel, actor)
	case "remove":
		if id == "" {
			s.errorPage(w, r, u, http.StatusBadRequest, "One message at a time", "Remove takes one message; open it from its queue.")
			return
		}
		ndr := r.PostFormValue("ndr") == "yes"
		if r.PostFormValue("confirm") != "yes" {
			s.render(w, r, u, http.StatusOK, "confirm", "Remove "+id+"?", struct {
				ID  string
				NDR bool
			}{id, ndr})
			return
		}
		sel.NDR = ndr
		a, err = s.cfg.Queue.Remove(r.Context(), sel, actor)
		back = "/console/queues"
	default:
		s.errorPage(w, r, u, http.StatusBadRequest, "Unknown action", fmt.Sprintf("%q is not an action: use retry, hold, release, reroute, discard or remove.", act))
		return
	}
	if err != nil {
		s.ss.setFlash(u.sess, act+" failed: "+errText(err))
	} else {
		msg := fmt.Sprintf("%s: %d recipient(s) of %d message(s) changed", act, a.Recipients, len(a.Messages))
		for _, m := range a.Moves {
			msg += fmt.Sprintf("; %s %s: %s -> %s", m.ID, m.Recipient, m.From, m.To)
		}
		if len(a.Skipped) > 0 {
			msg += "; " + strings.Join(a.Skipped, "; ")
		}
		s.ss.setFlash(u.sess, msg)
		s.log.Info("console: queue action", "action", act, "actor", actor, "user", u.sess.mailbox, "id", id, "queue", queue, "recipients", a.Recipients)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// trackingLimit is the most events the tracking page lists.
const trackingLimit = 200

func (s *Server) tracking(w http.ResponseWriter, r *http.Request, u *user) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := struct {
		Q       string
		Events  []tracking.Event
		Matched int
		Limit   int
		Error   string
	}{Q: q, Limit: trackingLimit}
	if q != "" {
		f, err := os.Open(s.cfg.TrackingLog)
		if err != nil {
			d.Error = "The tracking log cannot be read: " + err.Error()
		} else {
			// Keep the newest trackingLimit matches in a ring.
			ring := make([]tracking.Event, 0, trackingLimit)
			lq := strings.ToLower(q)
			has := func(field string) bool { return strings.Contains(strings.ToLower(field), lq) }
			err = tracking.Search(f, tracking.Filter{}, func(e tracking.Event) {
				if !has(e.ID) && !has(e.MessageID) && !has(e.Sender) && !has(e.Recipient) {
					return
				}
				if len(ring) < trackingLimit {
					ring = append(ring, e)
				} else {
					ring[d.Matched%trackingLimit] = e
				}
				d.Matched++
			}, nil)
			f.Close()
			if err != nil {
				d.Error = "Reading the tracking log: " + err.Error()
			}
			start := 0
			if d.Matched > trackingLimit {
				start = d.Matched % trackingLimit
			}
			for i := range ring { // newest first
				d.Events = append(d.Events, ring[(start+len(ring)-1-i)%len(ring)])
			}
		}
	}
	s.render(w, r, u, http.StatusOK, "tracking", "Tracking", d)
}

// secretLine finds values of keys that hold secrets: password hashes,
// passwords, secrets and tokens written in the file (not the *_file keys,
// which only name a file).
var secretLine = regexp.MustCompile(`(?i)\b([a-z0-9_]*(?:password|secret|token)[a-z0-9_]*)(\s*=\s*)("(?:[^"\\]|\\.)*"|'[^']*')`)

// mask replaces the values of secret keys with a mark.
func mask(text string) string {
	return secretLine.ReplaceAllStringFunc(text, func(m string) string {
		p := secretLine.FindStringSubmatch(m)
		if strings.HasSuffix(strings.ToLower(p[1]), "_file") {
			return m
		}
		return p[1] + p[2] + `"•••• (masked)"`
	})
}

func (s *Server) config(w http.ResponseWriter, r *http.Request, u *user) {
	st := s.cfg.Status()
	text := "(the built-in organization: no file)"
	if st.File != "" {
		text = mask(string(st.Text))
	}
	s.render(w, r, u, http.StatusOK, "config", "Configuration", struct {
		Status Status
		Text   string
	}{st, text})
}
