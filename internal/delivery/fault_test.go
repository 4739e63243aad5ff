package delivery

import (
	"context"
	"strings"
	"testing"
	"time"
)

// faultTimeout is the client's time limit in the stall cases: short, so
// that a stall costs little, and long enough for the exchanges before it
// on a loaded machine. The other faults run with a long one, so that
// nothing there depends on the machine's speed: they must end without
// waiting for any time limit.
const (
	faultTimeout = time.Second
	calmTimeout  = time.Minute
)

// At every step of the client's dialogue, in turn, the peer closes the
// connection, answers garbage, or stalls past the client's time limit
// (issue 15 item 1). Every case must end, within the time limit, in a
// retry of every recipient (4.x.x) whose text says what went wrong and
// where; never a panic, never a stuck call, never a message counted as
// sent. A fault at QUIT comes after the message was taken, so there the
// recipients are delivered. Both with PIPELINING (MAIL, the RCPTs and
// DATA in one write) and without.
func TestSMTPFaultAtEveryStep(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	type step struct {
		name  string
		mechs string // AUTH offered
		tls   bool
		where string // what the result text must name (one of, split by "|")
	}
	steps := []step{
		{"greeting", "", false, "greeting"},
		{"ehlo", "", false, "EHLO"},
		{"starttls", "", true, "STARTTLS"},
		{"handshake", "", true, "TLS handshake"},
		{"ehlo-tls", "", true, "EHLO after STARTTLS"},
		{"auth-plain", "PLAIN LOGIN", false, "AUTH PLAIN"},
		{"auth-login-1", "LOGIN", false, "AUTH LOGIN step 1"},
		{"auth-login-2", "LOGIN", false, "AUTH LOGIN step 2"},
		{"auth-login-3", "LOGIN", false, "AUTH LOGIN step 3"},
		{"mail", "", false, "MAIL"},
		{"rcpt-1", "", false, "RCPT"},
		{"rcpt-2", "", false, "RCPT"},
		{"data", "", false, "DATA"},
		{"content", "", false, "content|end of data"},
		{"final", "", false, "end of data"},
		{"quit", "", false, "QUIT"},
	}
	// What each fault must leave in the text, besides the step.
	faults := map[string][]string{
		"close": {"EOF", "reset by peer", "broken pipe"},
		// Garbage in place of the TLS handshake, or read with the 220.
		"garbage": {"malformed reply line", "does not look like a TLS handshake", "sent more than its reply to STARTTLS"},
		"stall":   {"i/o timeout"},
	}
	small := "Subject: fault\r\n\r\nhello\r\n"
	// At the content step, 16 MB: more than the socket buffers hold, so
	// that a stalled peer stalls the client's writes.
	big := "Subject: fault\r\n\r\n" + strings.Repeat("a line of the content that goes on for a while\r\n", 320000)
	for _, pipelining := range []bool{true, false} {
		mode := "pipelining"
		if !pipelining {
			mode = "one-by-one"
		}
		for _, st := range steps {
			for _, fault := range []string{"close", "garbage", "stall"} {
				t.Run(mode+"/"+st.name+"/"+fault, func(t *testing.T) {
					t.Parallel()
					peer := startFaultPeer(t, func(p *faultPeer) {
						p.step, p.fault, p.mechs, p.pipelining = st.name, fault, st.mechs, pipelining
						if st.tls {
							p.tls = serverTLS
						}
					})
					a := &SMTP{Hosts: []string{peer.addr}, TLS: "none", Timeout: calmTimeout}
					if fault == "stall" {
						a.Timeout, a.FinalTimeout = faultTimeout, faultTimeout
					}
					body := small
					if st.name == "content" {
						body = big
					}
					if st.tls {
						a.TLS, a.TLSConfig = "required", clientTLS
					}
					if st.mechs != "" {
						a.AuthUsername, a.AuthPasswordFile = "relay", passwordFile(t, "s3cret\n")
					}
					done := make(chan []Result, 1)
					go func() {
						done <- a.Deliver(context.Background(), message(body, smtpTo("carol@fabrikam.test"), smtpTo("dave@fabrikam.test")))
					}()
					var res []Result
					select {
					case res = <-done:
					case <-time.After(calmTimeout / 2): // far beyond any stall's time limit, and no other fault waits for one: stuck
						t.Fatal("Deliver is stuck")
					}
					_, taken := peer.snapshot()
					if st.name == "quit" {
						if taken != 1 {
							t.Errorf("the peer took %d messages, want 1", taken)
						}
						for _, r := range res {
							if r.Class != Relayed {
								t.Errorf("a fault at QUIT, after the message was taken: %+v", r)
							}
						}
						return
					}
					if taken != 0 {
						t.Errorf("the peer took %d messages, want 0", taken)
					}
					if len(res) != 2 {
						t.Fatalf("%d results for 2 recipients", len(res))
					}
					for _, r := range res {
						if r.Class != Retry || !strings.HasPrefix(r.Status, "4.") {
							t.Errorf("want a retry 4.x.x, got %+v", r)
						}
						if !containsAny(r.Text, strings.Split(st.where, "|")) {
							t.Errorf("the text %q does not name the step (%q)", r.Text, st.where)
						}
						if !containsAny(r.Text, faults[fault]) {
							t.Errorf("the text %q does not say what went wrong (%q)", r.Text, faults[fault])
						}
					}
				})
			}
		}
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
