package console

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// hubState is one hub of the organization as this hub sees it.
type hubState struct {
	Name     string `json:"name"`
	Site     string `json:"site"`
	API      string `json:"api,omitempty"`
	State    string `json:"state"` // "this hub", "up", "down", "unknown" (no api listener)
	Messages int    `json:"messages"`
	Held     int    `json:"held"`
	Known    bool   `json:"known"` // Messages and Held were read
	Error    string `json:"error,omitempty"`
}

// peerCache keeps what the other hubs answered for 2 seconds, so that
// many open overviews ask each hub once.
type peerCache struct {
	mu   sync.Mutex
	at   time.Time
	last map[string]hubState
}

// probe asks another hub for its queue totals: GET /metrics on its api
// listener (served without authentication, as Prometheus scrapes it). A
// hub that answers is up; one that does not is down from here.
func probe(ctx context.Context, h hubState) hubState {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.API+"/metrics", nil)
	if err != nil {
		h.State, h.Error = "down", err.Error()
		return h
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.State, h.Error = "down", err.Error()
		return h
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.State, h.Error = "down", "GET /metrics: "+resp.Status
		return h
	}
	h.State = "up"
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "waypost_queue_length "):
			h.Messages, h.Known = metricValue(line), true
		case strings.HasPrefix(line, "waypost_queue_held_recipients{"):
			h.Held += metricValue(line)
		}
	}
	return h
}

// metricValue is the value of a Prometheus text line, as an integer.
func metricValue(line string) int {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	v, err := strconv.ParseFloat(f[len(f)-1], 64)
	if err != nil {
		v, _ = strconv.ParseFloat(f[1], 64)
	}
	return int(v)
}

// hubs is every server of the organization with its state and queue
// totals: this hub's from its scheduler, the others' from their /metrics.
func (s *Server) hubs(ctx context.Context, u *user) []hubState {
	org := u.eng.Org()
	out := make([]hubState, len(org.Servers))
	now := s.cfg.Now()
	s.peers.mu.Lock()
	fresh := s.peers.last != nil && now.Sub(s.peers.at) < 2*time.Second
	cached := s.peers.last
	s.peers.mu.Unlock()
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PeerTimeout)
	defer cancel()
	for i, srv := range org.Servers {
		h := hubState{Name: srv.Name, Site: srv.Site, API: srv.API}
		switch {
		case strings.EqualFold(srv.Name, s.cfg.Server):
			h.State = "this hub"
			if qs, n, err := s.cfg.Queue.QueueStats(); err == nil {
				for _, q := range qs {
					h.Held += q.Held
				}
				h.Messages, h.Known = n, true
			}
		case srv.API == "":
			h.State = "unknown"
			h.Error = "no api listener to ask"
		case fresh && cached[srv.Name].State != "":
			h = cached[srv.Name]
		default:
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					if v := recover(); v != nil {
						s.log.Error("console: probing a hub panicked", "hub", h.Name, "panic", v)
						h.State, h.Error = "unknown", "the probe failed; the hub's log has the details"
						out[i] = h
					}
				}()
				out[i] = probe(ctx, h)
			}()
			continue
		}
		out[i] = h
	}
	wg.Wait()
	if !fresh {
		m := map[string]hubState{}
		for _, h := range out {
			m[h.Name] = h
		}
		s.peers.mu.Lock()
		s.peers.at, s.peers.last = now, m
		s.peers.mu.Unlock()
	}
	return out
}
