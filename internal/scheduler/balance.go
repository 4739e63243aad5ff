package scheduler

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/waypost/waypost/internal/delivery"
)

// Load sharing and fail-over among equivalent hubs (docs/operations.md,
// "Load sharing among hubs"; docs/design/interfaces.md section 3 rule 5;
// exchange-semantics.md section 2.6). Routing
// lists the hubs a recipient may be handed to (routing.Decision.Hubs);
// for each message the scheduler orders them (balancer.order): first
// those not in back-off, fewest messages queued to them or in flight
// first, in turn on ties (a round robin weighted by each hub's queue);
// then those in back-off. The recipient is queued as "hub:FIRST", and the
// relay agent (hubRelay) tries the hubs in that order: one that could not
// be reached (delivery.Unreached: refused, closed before it answered, or
// no session within delivery.HubConnectTimeout) is skipped at once for
// the next, within the same attempt, and
// left out for the organization's glitch_retry_interval (Exchange 2010's
// glitch retry interval, 1 minute); a hub that answered, whatever its
// reply, ends the attempt. A hub in back-off is tried only when every hub
// is: the message is never kept from a hub that may be up.

// balancer keeps what the choice of hubs needs across messages. Hub names
// are folded to lower case. Its zero value is ready.
type balancer struct {
	mu       sync.Mutex
	inflight map[string]int       // messages being relayed to a hub now
	down     map[string]time.Time // end of a hub's back-off
	turn     uint64               // advances at each choice, for ties
}

// order returns hubs (not empty) in the order to try them for one
// message, at now; queued counts the messages waiting in each hub's queue
// (by name as given).
func (b *balancer) order(hubs []string, queued map[string]int, now time.Time) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	type cand struct {
		name  string
		load  int
		tie   int       // position in this turn's rotation
		until time.Time // end of its back-off; zero when it is not in one
	}
	n := len(hubs)
	cs := make([]cand, n)
	start := int(b.turn % uint64(n))
	b.turn++
	for i, h := range hubs {
		k := strings.ToLower(h)
		c := cand{name: h, load: queued[h] + b.inflight[k], tie: (i - start + n) % n}
		if u, ok := b.down[k]; ok {
			if now.Before(u) {
				c.until = u
			} else {
				delete(b.down, k) // its glitch interval is over
			}
		}
		cs[i] = c
	}
	sort.SliceStable(cs, func(i, j int) bool {
		a, c := &cs[i], &cs[j]
		switch {
		case a.until.IsZero() != c.until.IsZero():
			return a.until.IsZero()
		case !a.until.IsZero():
			return a.until.Before(c.until)
		case a.load != c.load:
			return a.load < c.load
		}
		return a.tie < c.tie
	})
	out := make([]string, n)
	for i := range cs {
		out[i] = cs[i].name
	}
	return out
}

// busy counts a message being relayed to hub (+1) or done (-1).
func (b *balancer) busy(hub string, delta int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inflight == nil {
		b.inflight = map[string]int{}
	}
	k := strings.ToLower(hub)
	if b.inflight[k] += delta; b.inflight[k] <= 0 {
		delete(b.inflight, k)
	}
}

// fail puts hub in back-off until until.
func (b *balancer) fail(hub string, until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down == nil {
		b.down = map[string]time.Time{}
	}
	b.down[strings.ToLower(hub)] = until
}

// answered ends hub's back-off: it took a connection.
func (b *balancer) answered(hub string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.down, strings.ToLower(hub))
}

// inBackoff reports whether hub is in back-off at now.
func (b *balancer) inBackoff(hub string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.down[strings.ToLower(hub)]
	return ok && now.Before(u)
}

// queuedTo counts the messages waiting in the queue of each of hubs
// ("hub:NAME", from the index).
func (s *Scheduler) queuedTo(hubs []string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initIndex()
	out := make(map[string]int, len(hubs))
	for _, h := range hubs {
		if g := s.groups["hub:"+h]; g != nil {
			out[h] = len(g.members)
		}
	}
	return out
}

// hubRelay is the relay agent of one message to one of several
// equivalent hubs: it tries them in order and fails over on a hub that
// could not be reached (see the top of this file).
type hubRelay struct {
	s      *Scheduler
	hubs   []string         // in the order to try
	agents []delivery.Agent // their relay agents
	took   string           // the hub that answered; "" when none did
	missed []string         // "HUB (why)" for each hub that could not be reached
}

// Deliver implements delivery.Agent.
func (h *hubRelay) Deliver(ctx context.Context, m *delivery.Message) []delivery.Result {
	var res []delivery.Result
	for i, hub := range h.hubs {
		res = h.try(ctx, i, m)
		if !delivery.Unreached(res) {
			h.took = hub
			h.s.hubs.answered(hub)
			return res
		}
		if ctx.Err() != nil {
			return res // shutting down: no hub is to blame
		}
		interval := h.s.Engine.Load().Org().GlitchRetryInterval
		h.s.hubs.fail(hub, h.s.now().Add(interval))
		h.missed = append(h.missed, fmt.Sprintf("%s (%s)", hub, res[0].Text))
		h.s.Log.Warn("hub did not answer; skipped for the glitch retry interval", "hub", hub, "id", m.ID, "err", res[0].Text, "interval", interval.String())
	}
	return res
}

// try delivers m to the i-th hub, counted in flight meanwhile.
func (h *hubRelay) try(ctx context.Context, i int, m *delivery.Message) []delivery.Result {
	h.s.hubs.busy(h.hubs[i], 1)
	defer h.s.hubs.busy(h.hubs[i], -1)
	return h.agents[i].Deliver(ctx, m)
}

// missedText says which hubs were skipped, for the tracking log; "" when
// none was.
func (h *hubRelay) missedText() string {
	if len(h.missed) == 0 {
		return ""
	}
	return "not reached, skipped: " + strings.Join(h.missed, "; ")
}

// relayTo returns the relay agent for hubs (a recipient's equivalent
// hubs, from routing) in the order for this message, or nil when no hub
// among them can be relayed to (no relay listener, no hub secret). One
// message keeps one choice for every recipient with the same hubs.
func (j *job) relayTo(hubs []string) *hubRelay {
	key := strings.Join(hubs, ",")
	if hr, ok := j.relays[key]; ok {
		return hr
	}
	s := j.s
	var usable []string
	agents := map[string]delivery.Agent{}
	for _, h := range hubs {
		if s.Relay == nil || strings.EqualFold(h, s.Server) {
			continue
		}
		if a := s.Relay(h); a != nil {
			usable = append(usable, h)
			agents[h] = a
		}
	}
	var hr *hubRelay
	if len(usable) > 0 {
		hr = &hubRelay{s: s, hubs: s.hubs.order(usable, s.queuedTo(usable), s.now())}
		for _, h := range hr.hubs {
			hr.agents = append(hr.agents, agents[h])
		}
	}
	if j.relays == nil {
		j.relays = map[string]*hubRelay{}
	}
	j.relays[key] = hr
	return hr
}
