package hubauth

import (
	"bytes"
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/testcert"
)

// channel runs a real TLS 1.3 handshake over loopback TCP with cert and
// returns the tls-exporter binding each side computes.
func channel(t *testing.T, cert *testcert.Cert, maxVersion uint16) (client, server []byte, clientErr, serverErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer c.Close()
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert.TLS}, MaxVersion: maxVersion})
		if err := tc.Handshake(); err != nil {
			done <- result{nil, err}
			return
		}
		st := tc.ConnectionState()
		b, err := Binding(&st)
		done <- result{b, err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, MaxVersion: maxVersion})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	st := tc.ConnectionState()
	client, clientErr = Binding(&st)
	r := <-done
	return client, r.b, clientErr, r.err
}

func TestBinding(t *testing.T) {
	cert := testcert.New(t, "hub-branch.contoso.test")
	c1, s1, cerr, serr := channel(t, cert, 0)
	if cerr != nil || serr != nil {
		t.Fatalf("binding: %v / %v", cerr, serr)
	}
	if len(c1) != 32 || !bytes.Equal(c1, s1) {
		t.Fatalf("the two ends of one channel disagree: %x / %x", c1, s1)
	}
	c2, _, _, _ := channel(t, cert, 0)
	if bytes.Equal(c1, c2) {
		t.Fatal("two channels have the same binding")
	}
	if _, err := Binding(nil); err == nil {
		t.Error("a binding without TLS")
	}
}

func TestChallengeResponse(t *testing.T) {
	secret := []byte("organization secret")
	cert := testcert.New(t, "hub-branch.contoso.test")
	binding, _, _, _ := channel(t, cert, 0)
	ch, nonce := Challenge(secret, "hub-branch", binding)
	resp, err := (&Client{Secret: secret, Server: "hub-hq", Peer: "hub-branch", Binding: binding}).Next(ch)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(resp), string(secret)) || strings.Contains(string(ch), string(secret)) {
		t.Fatal("the secret travels")
	}
	if who, err := Verify(secret, nonce, "hub-branch", binding, resp); err != nil || who != "hub-hq" {
		t.Fatalf("right proof refused: %q %v", who, err)
	}
	// A recorded response is worthless against a new challenge.
	_, nonce2 := Challenge(secret, "hub-branch", binding)
	if nonce2 == nonce {
		t.Fatal("nonces repeat")
	}
	if _, err := Verify(secret, nonce2, "hub-branch", binding, resp); err == nil {
		t.Error("a replayed response was accepted")
	}
	// Nor does a response for one server work on another.
	if _, err := Verify(secret, nonce, "hub-hq2", binding, resp); err == nil {
		t.Error("a response for another server was accepted")
	}
	// A client that means another hub refuses the challenge.
	if _, err := Response(secret, ch, binding, "hub-hq", "hub-hq2"); err == nil || !strings.Contains(err.Error(), `"hub-branch", not "hub-hq2"`) {
		t.Errorf("challenge of the wrong hub: %v", err)
	}
	// A server without the secret: its challenge is refused by the client.
	fake, _ := Challenge([]byte("other secret"), "hub-branch", binding)
	if _, err := Response(secret, fake, binding, "hub-hq", ""); err == nil || !strings.Contains(err.Error(), "wrong server proof") {
		t.Errorf("a fake hub's challenge was answered: %v", err)
	}
	// A client without the secret: refused by the server (it answers a
	// challenge only when it holds the same secret, so compute as one
	// that skips the check).
	wrong := []byte("hub-hq " + mac([]byte("other secret"), Mechanism, nonce, binding, "hub-hq", "hub-branch"))
	if _, err := Verify(secret, nonce, "hub-branch", binding, wrong); err == nil {
		t.Error("a wrong secret was accepted")
	}
	for _, bad := range []string{"", "hub-hq", " abc", "hub-hq " + string(secret)} {
		if _, err := Verify(secret, nonce, "hub-branch", binding, []byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, bad := range []string{"no-nonce", "hub-branch " + nonce, " " + nonce + " ab", "hub-branch short ab"} {
		if _, err := Response(secret, []byte(bad), binding, "hub-hq", ""); err == nil {
			t.Errorf("malformed challenge %q answered", bad)
		}
	}
	// Without TLS there is no proof either way.
	if _, err := Response(secret, ch, nil, "hub-hq", ""); err == nil {
		t.Error("a challenge answered outside TLS")
	}
	if _, err := Verify(secret, nonce, "hub-branch", nil, resp); err == nil {
		t.Error("a response accepted outside TLS")
	}
}

// A man in the middle that terminates TLS on both sides holds two
// channels with two bindings: the real server's challenge, passed on to
// the client, fails the client's check, and a client's response, passed
// on to the server, fails the server's.
func TestWrongChannelFailsBothWays(t *testing.T) {
	secret := []byte("organization secret")
	cert := testcert.New(t, "hub-branch.contoso.test")
	toClient, _, _, _ := channel(t, cert, 0) // client <-> man in the middle
	toServer, _, _, _ := channel(t, cert, 0) // man in the middle <-> server

	// Server to client: the server's challenge is bound to toServer.
	ch, nonce := Challenge(secret, "hub-branch", toServer)
	if _, err := Response(secret, ch, toClient, "hub-hq", "hub-branch"); err == nil || !strings.Contains(err.Error(), "man in the middle") {
		t.Errorf("client answered a challenge from another channel: %v", err)
	}
	// Client to server: a response computed on toClient (as if the client
	// had been shown a challenge with a good proof for its channel).
	chClient := []byte("hub-branch " + nonce + " " + mac(secret, serverLabel, nonce, toClient, "hub-branch"))
	resp, err := Response(secret, chClient, toClient, "hub-hq", "hub-branch")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(secret, nonce, "hub-branch", toServer, resp); err == nil {
		t.Error("server accepted a response from another channel")
	}
	if _, err := Verify(secret, nonce, "hub-branch", toClient, resp); err != nil {
		t.Errorf("the same response on its own channel: %v", err)
	}
}

// TLS 1.2 exports keys only with the extended master secret, which Go
// always negotiates: the binding exists there too, and differs per channel.
func TestBindingTLS12(t *testing.T) {
	cert := testcert.New(t, "hub-branch.contoso.test")
	c, s, cerr, serr := channel(t, cert, tls.VersionTLS12)
	if cerr != nil || serr != nil || !bytes.Equal(c, s) {
		t.Fatalf("TLS 1.2 binding: %x %v / %x %v", c, cerr, s, serr)
	}
}
