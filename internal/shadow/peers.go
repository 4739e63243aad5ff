package shadow

import (
	"sync"
	"time"
)

// Peers orders the hubs of a site that a copy before the 250 may go to
// (docs/design/shadow.md, "A copy before the 250"): those whose last copy
// did not fail within the glitch retry interval first, in the order given,
// then the others, as load sharing puts off a hub that did not answer; so
// a hub that is down costs the senders no wait while another answers.
// The zero Peers is ready to use and safe for concurrent use.
type Peers struct {
	mu     sync.Mutex
	failed map[string]time.Time // peer -> when a copy to it last failed
}

// Order returns names in the order to try them at now, given the glitch
// retry interval.
func (p *Peers) Order(names []string, glitch time.Duration, now time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ok := make([]string, 0, len(names))
	var later []string
	for _, n := range names {
		if t, failed := p.failed[n]; failed && now.Sub(t) <= glitch {
			later = append(later, n)
		} else {
			ok = append(ok, n)
		}
	}
	return append(ok, later...)
}

// Mark records at now whether a copy to peer was taken.
func (p *Peers) Mark(peer string, taken bool, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if taken {
		delete(p.failed, peer)
		return
	}
	if p.failed == nil {
		p.failed = map[string]time.Time{}
	}
	p.failed[peer] = now
}

// Warnings spaces out the warnings of copies not made (best_effort): the
// first, then at most one every Every with the count since, so that a
// peer's outage does not write a line per message. The zero Warnings
// warns every 10 seconds; it is safe for concurrent use.
type Warnings struct {
	Every time.Duration

	mu       sync.Mutex
	last     time.Time
	unwarned int
}

// Due counts one more copy not made at now and reports whether to warn,
// with the copies not made since the last warning.
func (w *Warnings) Due(now time.Time) (n int, due bool) {
	every := w.Every
	if every == 0 {
		every = 10 * time.Second
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unwarned++
	n = w.unwarned
	if w.last.IsZero() || now.Sub(w.last) >= every {
		w.last, w.unwarned = now, 0
		return n, true
	}
	return n, false
}
