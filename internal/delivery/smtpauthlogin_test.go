package delivery

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/smtpd"
)

// The mechanism the client chooses for a smart host login: PLAIN when
// the server offers both (in any order), LOGIN when it offers only LOGIN
// (Microsoft 365's submission host, many appliances), and a retry that
// names what was offered when it offers neither.
func TestSMTPAuthMechanismChoice(t *testing.T) {
	for _, tc := range []struct {
		offered string
		want    []string // the client's lines, in order, from AUTH on
	}{
		{"LOGIN PLAIN", []string{"AUTH PLAIN AHJlbGF5AHMzY3JldA==", "MAIL FROM:<bob@fabrikam.test>"}},
		{"PLAIN LOGIN", []string{"AUTH PLAIN AHJlbGF5AHMzY3JldA==", "MAIL FROM:<bob@fabrikam.test>"}},
		{"XOAUTH2 LOGIN", []string{"AUTH LOGIN", "decoded: relay", "decoded: s3cret", "MAIL FROM:<bob@fabrikam.test>"}},
	} {
		t.Run(tc.offered, func(t *testing.T) {
			peer := startFaultPeer(t, func(p *faultPeer) { p.mechs = tc.offered })
			a := &SMTP{Hosts: []string{peer.addr}, TLS: "none", Timeout: 5 * time.Second,
				AuthUsername: "relay", AuthPasswordFile: passwordFile(t, "s3cret\n")}
			if r := a.Deliver(context.Background(), message("x\r\n", smtpTo("carol@fabrikam.test")))[0]; r.Class != Relayed {
				t.Fatalf("%+v", r)
			}
			lines, taken := peer.snapshot()
			i := index(lines, tc.want[0])
			if taken != 1 || i < 0 || len(lines) < i+len(tc.want) || strings.Join(lines[i:i+len(tc.want)], "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("%d messages; lines:\n%s", taken, strings.Join(lines, "\n"))
			}
		})
	}
	peer := startFaultPeer(t, func(p *faultPeer) { p.mechs = "CRAM-MD5 XOAUTH2" })
	a := &SMTP{Hosts: []string{peer.addr}, TLS: "none", Timeout: 5 * time.Second,
		AuthUsername: "relay", AuthPasswordFile: passwordFile(t, "s3cret\n")}
	r := a.Deliver(context.Background(), message("x\r\n", smtpTo("carol@fabrikam.test")))[0]
	if r.Class != Retry || r.Status != "4.7.0" || !strings.Contains(r.Text, `offers neither AUTH PLAIN nor AUTH LOGIN (it offers "CRAM-MD5 XOAUTH2")`) {
		t.Errorf("neither offered: %+v", r)
	}
}

// A LOGIN challenge the client cannot read (not base64) cancels the
// exchange with "*" (RFC 4954 section 4) and is a retry that says so; the
// password is never sent.
func TestSMTPAuthLoginBadChallenge(t *testing.T) {
	peer := startFaultPeer(t, func(p *faultPeer) { p.mechs, p.challenge = "LOGIN", "Username:" })
	a := &SMTP{Hosts: []string{peer.addr}, TLS: "none", Timeout: 5 * time.Second,
		AuthUsername: "relay", AuthPasswordFile: passwordFile(t, "s3cret\n")}
	r := a.Deliver(context.Background(), message("x\r\n", smtpTo("carol@fabrikam.test")))[0]
	if r.Class != Retry || r.Status != "4.7.0" || !strings.Contains(r.Text, "the LOGIN challenge is not base64") {
		t.Errorf("%+v", r)
	}
	lines, taken := peer.snapshot()
	if taken != 0 || index(lines, "AUTH LOGIN") < 0 || index(lines, "*") != index(lines, "AUTH LOGIN")+1 || strings.Contains(strings.Join(lines, "\n"), "s3cret") {
		t.Errorf("%d messages; lines:\n%s", taken, strings.Join(lines, "\n"))
	}
}

// The LOGIN client against Waypost's own submission connector (which
// offers PLAIN and LOGIN, and LOGIN without an initial response): the
// right password logs in, a wrong one gets the server's 535.
func TestSMTPAuthLoginToSmtpd(t *testing.T) {
	org, err := config.Parse([]byte(tlsOrg), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	eng := routing.New(org, dir)
	rc := &config.ReceiveConnector{
		Name: "Clients", Kind: config.KindSubmission,
		RemoteRanges:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		MaxMessageSize: config.DefaultMaxMessageSize, MaxRecipients: config.DefaultMaxRecipients,
		MaxLineLength: config.DefaultMaxLineLength, CommandTimeout: config.DefaultCommandTimeout,
		DataTimeout: config.DefaultDataTimeout, MaxErrors: config.DefaultMaxErrors, MaxHopCount: config.DefaultMaxHopCount,
		MaxHeaderSize: config.DefaultMaxHeaderSize, MaxConnections: config.DefaultMaxConnections,
		MaxConnectionsPerIP: config.DefaultMaxConnectionsPerIP,
	}
	l, err := smtpd.New(org, "hub-b", rc, func() *routing.Engine { return eng }, &envelopes{}, loginUsers{"bob@contoso.test": "s3cret pass"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go l.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		l.Shutdown(ctx)
	})
	login := func(password string) error {
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(raw, 5*time.Second)
		defer c.close()
		if err := c.greet(); err != nil {
			t.Fatal(err)
		}
		if err := c.hello("hub-a.contoso.test"); err != nil {
			t.Fatal(err)
		}
		if !c.supportsAuth("LOGIN") {
			t.Fatalf("smtpd does not offer LOGIN: %q", c.ext["AUTH"])
		}
		return c.auth(&loginClient{username: "bob@contoso.test", password: password})
	}
	if err := login("s3cret pass"); err != nil {
		t.Errorf("the right password: %v", err)
	}
	if err := login("wrong"); !isReply(err) || !strings.HasPrefix(err.Error(), "535 5.7.8") {
		t.Errorf("a wrong password: %v", err)
	}
}

type loginUsers map[string]string

func (u loginUsers) Authenticate(user, pass string) (string, bool) {
	want, ok := u[user]
	return user, ok && want == pass
}
