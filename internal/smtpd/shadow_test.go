package smtpd

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/shadow"
)

// hubShadows stands for a hub's shadow state: the IDs its queue holds
// and those it delivered onward, and whether a copy can be made.
type hubShadows struct {
	mu      sync.Mutex
	queued  map[string]bool
	done    map[string]bool
	copyErr error
	copies  []string
}

func (h *hubShadows) Answer(id string) shadow.Status {
	switch {
	case h.queued[id]:
		return shadow.Pending
	case h.done[id]:
		return shadow.Done
	}
	return shadow.Unknown
}

func (h *hubShadows) Copy(id string, env Envelope) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.copies = append(h.copies, id)
	return h.copyErr
}

// The discharge query on the relay listener: after the hub proof, MAIL
// FROM:<> and one RCPT per ID, each answered 250 with the state, many
// more than max_errors without ending the session, nothing queued; RSET,
// and the session carries mail again. A shadow copy's origin line is
// taken out and names the proven peer.
func TestRelayShadowQuery(t *testing.T) {
	st := &hubShadows{queued: map[string]bool{}, done: map[string]bool{}}
	h := serve(t, func(org *config.Org, eng func() *routing.Engine, q Queue, log *slog.Logger) (*Listener, error) {
		return NewRelay(org, "hub-hq", testSecret, eng, q, log)
	}, func(l *Listener) { l.SetShadows(st) })
	c := h.hubHello()
	c.cmd("MAIL FROM:<>", "530 5.7.0 Hub authentication required") // the query too needs the proof
	c.prove("hub-hq", testSecret, "235 ")
	c.cmd("MAIL FROM:<>", "250 ")
	for i := range 30 {
		id := fmt.Sprintf("%016x-%012x", i, i)
		want := shadow.Unknown
		switch i % 3 {
		case 0:
			st.queued[id], want = true, shadow.Pending
		case 1:
			st.done[id], want = true, shadow.Done
		}
		c.cmd("RCPT TO:<"+shadow.QueryAddress(id)+">", "250 2.0.0 "+shadow.ReplyText(id, want))
	}
	c.cmd("RSET", "250 ")
	if n := len(h.q.all()); n != 0 {
		t.Fatalf("the query queued %d messages", n)
	}
	c.transaction("carol@fabrikam.test", "alice@contoso.test")
	c.send(ArrivalHeader + ": 2026-12-05T22:00:00Z\r\n" + shadow.Header + ": hub-other 18ee7b7e6fbf627d-ad07296d70b0\r\nSubject: copy\r\n\r\nbody\r\n.\r\n")
	c.expect("250 ")
	msgs := h.q.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	if got := msgs[0].env.ShadowOf; got != "hub-hq 18ee7b7e6fbf627d-ad07296d70b0" {
		t.Errorf("ShadowOf = %q, want the proven peer and the ID", got)
	}
	if strings.Contains(msgs[0].body, shadow.Header) {
		t.Errorf("the origin line was kept:\n%s", msgs[0].body)
	}
	if len(st.copies) != 0 {
		t.Errorf("the relay listener asked for copies of what it received: %v", st.copies)
	}
}

// A receive connector has a copy made before its 250; when none can be
// made it answers 451 4.4.0 (shadow_on_receive = "required": Copy says so
// by its error).
func TestShadowCopyBeforeThe250(t *testing.T) {
	st := &hubShadows{}
	h := start(t, "Default", nil, func(l *Listener) { l.SetShadows(st) })
	c := h.hello()
	c.transaction("carol@fabrikam.test", "alice@contoso.test")
	c.send("Subject: one\r\n\r\nbody\r\n.\r\n")
	c.expect("250 ")
	st.copyErr = errors.New("no other hub answered")
	c.transaction("carol@fabrikam.test", "alice@contoso.test")
	c.send("Subject: two\r\n\r\nbody\r\n.\r\n")
	c.expect("451 4.4.0 ")
	if len(st.copies) != 2 {
		t.Errorf("copies asked for: %v", st.copies)
	}
}
