package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/shadow"
	"github.com/waypost/waypost/internal/smtpd"
)

// shadows is the shadow redundancy of a hub (package shadow,
// docs/design/shadow.md): the IDs it delivered onward (to answer the
// discharge queries of the hubs that keep shadows of them), the
// heartbeat over the shadows it keeps, and the copies before the 250
// that its receive connectors ask for (shadow_on_receive).
type shadows struct {
	h     *Hub
	done  *shadow.Discharged
	watch *shadow.Watcher

	peers    shadow.Peers    // the order to try the site's hubs in
	warnings shadow.Warnings // of copies not made with best_effort
}

// shadowCopyTime is how long a receive connector waits for another hub
// to take a shadow copy before it answers without one (best_effort) or
// refuses the message (required): "a few seconds".
const shadowCopyTime = 5 * time.Second

// openShadows opens the discharged IDs (data_dir/shadow/discharged) and
// makes the scheduler keep shadows of what it relays, when the hub has a
// secret to speak to other hubs with.
func (h *Hub) openShadows() error {
	if h.secret == nil {
		return nil
	}
	keep := shadow.Keep(h.engine.Load().Org().ShadowHeartbeatTimeout)
	d, err := shadow.OpenDischarged(filepath.Join(h.server.DataDir, "shadow", "discharged"), keep)
	if err != nil {
		return err
	}
	sh := &shadows{h: h, done: d}
	sh.watch = &shadow.Watcher{Holdings: h.sched, Query: sh.query, Log: h.log,
		Timeout:     func() time.Duration { return h.engine.Load().Org().ShadowHeartbeatTimeout },
		Resubmitted: func(why string) { h.metrics.Shadow("resubmitted_" + why) }}
	h.shadows = sh
	h.sched.Shadow = true
	h.sched.Discharged = func(m *queue.Message) {
		if !sh.mayBeShadowed(m) {
			return
		}
		if err := d.Add(m.ID); err != nil {
			h.log.Error("remembering a message delivered onward; a hub keeping a shadow of it may deliver it again", "id", m.ID, "err", err)
		}
	}
	return nil
}

// mayBeShadowed reports whether another hub may keep a shadow of m, and
// so may ask about it: m came from another hub (which keeps a shadow of
// what it relays), or this hub had a copy made before its 250. Only
// those are remembered, so that the set stays small on a busy hub.
func (s *shadows) mayBeShadowed(m *queue.Message) bool {
	if strings.HasPrefix(m.Auth, "hub:") {
		return true
	}
	org := s.h.engine.Load().Org()
	return m.ReceivedBy != smtpd.KindRelay && org.ShadowOnReceive != config.ShadowOff && s.h.server.Relay != "" &&
		len(org.ShadowPeers(s.h.server.Name)) > 0 && s.h.isReceiveConnector(m.ReceivedBy)
}

// isReceiveConnector reports whether name is one of this server's
// receive connectors (not the API, a pickup folder or a report).
func (h *Hub) isReceiveConnector(name string) bool {
	for _, rc := range h.server.Receive {
		if rc.Name == name {
			return true
		}
	}
	return false
}

// Answer implements smtpd.Shadows.
func (s *shadows) Answer(id string) shadow.Status { return shadow.Answer(id, s.h.sched.Queued, s.done) }

// query asks holder about ids over the hub channel.
func (s *shadows) query(ctx context.Context, holder string, ids []string) (map[string]shadow.Status, error) {
	a, ok := s.h.relay(holder).(*delivery.SMTP)
	if !ok {
		return nil, fmt.Errorf("no relay to %s (it is not in the organization any more, or has no relay address)", holder)
	}
	a.Timeout = shadowCopyTime
	return a.QueryShadows(ctx, ids)
}

// Copy implements smtpd.Shadows: a copy of message id on the first hub of
// the site (ShadowPeers: the next by name first) that takes it within
// shadowCopyTime, as Exchange 2013 makes one before it answers.
func (s *shadows) Copy(id string, env smtpd.Envelope) error {
	h := s.h
	org := h.engine.Load().Org()
	if org.ShadowOnReceive == config.ShadowOff || h.server.Relay == "" {
		return nil // without a relay listener no holder could ask about it
	}
	if len(org.ShadowPeers(h.server.Name)) == 0 && org.ShadowOnReceive != config.ShadowRequired {
		return nil // alone in its site: best_effort has nothing to try (waypost check refuses required)
	}
	err := s.copy(org, id, env)
	switch {
	case err == nil:
		h.metrics.Shadow("copy_made")
		return nil
	case !h.sched.Queued(id):
		return nil // delivered meanwhile: nothing left to lose
	}
	h.metrics.Shadow("copy_failed")
	if org.ShadowOnReceive != config.ShadowRequired {
		s.warn(id, err)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 35*time.Second)
	defer cancel()
	if werr := h.sched.Withdraw(ctx, id, "refused with 451 4.4.0 after it was queued: no other hub took a shadow copy (shadow_on_receive = required): "+err.Error()); werr != nil {
		// Still queued: it is delivered from here, and the sender's retry
		// makes a duplicate, never a loss.
		h.log.Error("withdrawing a message refused for want of a shadow copy", "id", id, "err", werr)
	}
	return err
}

// warn logs copies not made with best_effort, spaced out (shadow.Warnings).
func (s *shadows) warn(id string, err error) {
	if n, due := s.warnings.Due(time.Now()); due {
		s.h.log.Warn("no shadow copy on another hub; accepted all the same (shadow_on_receive = best_effort)", "id", id, "messages", n, "err", err)
	}
}

// copy relays the copy to the peers in turn until one takes every
// recipient; a peer that failed lately comes last (shadow.Peers).
func (s *shadows) copy(org *config.Org, id string, env smtpd.Envelope) error {
	h := s.h
	peers := org.ShadowPeers(h.server.Name)
	if len(peers) == 0 {
		return errors.New("no other hub of site " + h.server.Site + " has a relay address")
	}
	m := h.sched.Record(id) // from memory: no disk read before the 250
	if m == nil {
		return errors.New("the message left the queue")
	}
	msg := &delivery.Message{ID: id, From: m.From, Arrival: m.Arrival, Size: m.Size, EnvID: m.EnvID, Ret: m.Ret,
		ShadowOf: shadow.Origin(h.server.Name, id),
		Open:     func() (io.ReadCloser, error) { return h.queue.OpenMessage(m) }}
	for _, r := range env.Recipients {
		msg.Recipients = append(msg.Recipients, delivery.Recipient{Type: "SMTP", Address: r.Written, Notify: r.Notify, ORCPT: r.ORCPT})
	}
	ctx, cancel := context.WithTimeout(context.Background(), shadowCopyTime)
	defer cancel()
	var why []string
	names := make([]string, len(peers))
	for i, p := range peers {
		names[i] = p.Name
	}
	for _, peer := range s.peers.Order(names, org.GlitchRetryInterval, time.Now()) {
		if ctx.Err() != nil {
			break
		}
		a, ok := h.relay(peer).(*delivery.SMTP)
		if !ok {
			continue
		}
		left := time.Until(deadline(ctx))
		a.Timeout, a.FinalTimeout = left, left
		a.Hub.ShadowHeader = smtpd.ShadowHeader
		res := a.Deliver(ctx, msg)
		bad := ""
		for _, r := range res {
			if r.Class != delivery.Relayed {
				bad = orText(r.RemoteText, r.Text)
			}
		}
		s.peers.Mark(peer, bad == "", time.Now())
		if bad == "" {
			return nil
		}
		why = append(why, peer+": "+bad)
	}
	if len(why) == 0 {
		why = append(why, fmt.Sprintf("no answer within %s", shadowCopyTime))
	}
	return errors.New("no shadow copy: " + strings.Join(why, "; "))
}

// shadowEnvelope makes the recipients of a shadow copy (Envelope.ShadowOf
// "SERVER ID") shadows of that server's primary.
func shadowEnvelope(qe *queue.Envelope, of string, now time.Time) {
	server, id, ok := shadow.ParseOrigin(of)
	if !ok {
		return
	}
	for i := range qe.Recipients {
		r := &qe.Recipients[i]
		r.State, r.Shadow, r.ShadowID, r.ShadowSince = queue.Shadowed, server, id, now.UTC().Round(0)
	}
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

func orText(a, b string) string {
	if a == "" {
		return b
	}
	return a
}
