package delivery

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/status"
)

// A peer hub that offers no STARTTLS gets nothing: no AUTH, no MAIL, no
// message; the mail waits (4.7.0) with a reason that says why.
func TestHubRelayNeedsTLS(t *testing.T) {
	s := startRawServer(t, func(s *rawServer) { s.ext = append(s.ext, "AUTH X-WAYPOST-HUB") })
	a := &SMTP{Hosts: []string{s.addr}, TLS: "none", Timeout: 5 * time.Second,
		Hub: &HubAuth{Server: "hub-a", Peer: "hub-b", Secret: []byte("the secret")}}
	msg := &Message{ID: "M1", From: "alice@contoso.test", Arrival: time.Now(),
		Recipients: []Recipient{{Type: "SMTP", Address: "bob@contoso.test"}},
		Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("Subject: secret plans\r\n\r\nbody\r\n")), nil
		}}
	for _, r := range a.Deliver(context.Background(), msg) {
		if r.Class != Retry || r.Status != status.SecurityTransient || !strings.Contains(r.Text, "offers no STARTTLS") || r.TLS != "hub" {
			t.Errorf("result %+v, want a retry 4.7.0 naming STARTTLS", r)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if !strings.HasPrefix(l, "EHLO ") && l != "QUIT" {
			t.Errorf("sent in clear to a hub without STARTTLS: %q", l)
		}
	}
	if len(s.messages) != 0 {
		t.Errorf("messages %q", s.messages)
	}
}
