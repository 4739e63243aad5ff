// Package hubauth is how the hubs of one organization prove to each other
// that they hold its hub secret (interfaces.md section 1, hub_secret_file)
// before one grants the other org-internal trust on its relay listener,
// and how the proof pins the TLS channel they relay over. It is a SASL
// mechanism, X-WAYPOST-HUB, of the challenge and response kind (RFC 4422),
// run only inside TLS (STARTTLS, RFC 3207) and bound to that TLS channel
// with the RFC 9266 tls-exporter channel binding (Binding: 32 bytes of
// keying material exported with the label "EXPORTER-Channel-Binding" and
// no context, RFC 5705 / RFC 8446 section 7.5):
//
//	S: 334 base64("<server name> <nonce> <server proof>")
//	C: base64("<client server name> <client proof>")
//
//	server proof = hex HMAC-SHA256(secret, "X-WAYPOST-HUB-SERVER" 0 nonce 0 binding 0 server)
//	client proof = hex HMAC-SHA256(secret, "X-WAYPOST-HUB" 0 nonce 0 binding 0 client 0 server)
//
// The secret never travels, and since every challenge carries a fresh
// random nonce a recorded exchange is worth nothing later: a response
// cannot be replayed. The relay certificates are not checked against a
// CA (a hub's may be self-signed); the hub secret authenticates the
// channel instead, both ways:
//
//   - The client checks the server proof (Client.Next) before it answers,
//     and so before it sends MAIL: a party without the secret, a fake hub
//     or a man in the middle that terminates TLS, cannot give a proof for
//     the client's channel, and never receives a message.
//   - The server checks the client proof (Verify) against its own
//     channel's binding: a man in the middle that terminates TLS on both
//     sides sees two channels with two bindings, so a response it passes
//     on from one fails on the other, and it cannot relay a login.
//
// The two proofs carry different labels, so neither can be reflected as
// the other.
package hubauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Mechanism is the SASL mechanism name, and the label of the client proof.
const Mechanism = "X-WAYPOST-HUB"

// serverLabel is the label of the server proof.
const serverLabel = "X-WAYPOST-HUB-SERVER"

// exporterLabel and bindingSize are RFC 9266 section 2's tls-exporter.
const (
	exporterLabel = "EXPORTER-Channel-Binding"
	bindingSize   = 32
)

// Binding returns the RFC 9266 tls-exporter channel binding of the TLS
// connection st. It fails without TLS, and on a TLS 1.2 connection without
// the extended master secret (RFC 7627), whose exported keys a man in the
// middle could share (RFC 9266 section 3).
func Binding(st *tls.ConnectionState) ([]byte, error) {
	if st == nil {
		return nil, errors.New("hubauth: the hub proof needs TLS (STARTTLS first)")
	}
	b, err := st.ExportKeyingMaterial(exporterLabel, nil, bindingSize)
	if err != nil {
		return nil, fmt.Errorf("hubauth: no tls-exporter channel binding: %w", err)
	}
	return b, nil
}

// Challenge returns a fresh challenge from server, proving secret for the
// channel with binding, and its nonce.
func Challenge(secret []byte, server string, binding []byte) (challenge []byte, nonce string) {
	b := make([]byte, 24)
	rand.Read(b) // never fails: since Go 1.24 a system without randomness ends the program in crypto/rand itself
	nonce = hex.EncodeToString(b)
	proof := mac(secret, serverLabel, nonce, binding, server)
	return []byte(strings.ToLower(server) + " " + nonce + " " + proof), nonce
}

// Response checks the server proof of a challenge on the channel with
// binding and answers it as client. peer, when not empty, is the server
// the client means to reach: a challenge from another is refused.
func Response(secret, challenge, binding []byte, client, peer string) ([]byte, error) {
	if len(binding) == 0 {
		return nil, errors.New("hubauth: no TLS channel binding: the hub proof is given only inside TLS")
	}
	f := strings.Split(string(challenge), " ")
	if len(f) != 3 || f[0] == "" || len(f[1]) < 32 {
		return nil, errors.New("hubauth: malformed challenge")
	}
	server, nonce, proof := f[0], f[1], f[2]
	if peer != "" && !strings.EqualFold(server, peer) {
		return nil, fmt.Errorf("hubauth: the hub answering is %q, not %q; check the relay address of %s", server, peer, peer)
	}
	if !hmac.Equal([]byte(strings.ToLower(proof)), []byte(mac(secret, serverLabel, nonce, binding, server))) {
		return nil, fmt.Errorf("hubauth: wrong server proof from %q: it does not hold the hub secret, or a man in the middle holds the TLS channel", server)
	}
	return []byte(strings.ToLower(client) + " " + mac(secret, Mechanism, nonce, binding, client, server)), nil
}

// Verify checks a response to the challenge with nonce that server sent
// on the channel with binding, and returns the client's server name when
// it is right.
func Verify(secret []byte, nonce, server string, binding, response []byte) (client string, err error) {
	client, proof, ok := strings.Cut(string(response), " ")
	if !ok || client == "" {
		return "", errors.New("malformed hub proof")
	}
	if len(binding) == 0 {
		return client, errors.New("hub proof outside TLS")
	}
	if !hmac.Equal([]byte(strings.ToLower(proof)), []byte(mac(secret, Mechanism, nonce, binding, client, server))) {
		return client, fmt.Errorf("wrong hub proof from %q", client)
	}
	return client, nil
}

// mac is the hex HMAC-SHA256 under secret of label, nonce, the binding and
// the server names (lower case), separated by NUL bytes.
func mac(secret []byte, label, nonce string, binding []byte, names ...string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label + "\x00" + nonce + "\x00"))
	m.Write(binding)
	for _, n := range names {
		m.Write([]byte("\x00" + strings.ToLower(n)))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// Client is the client side of the mechanism, for an SMTP client's AUTH
// (it implements go-sasl's Client interface).
type Client struct {
	Secret  []byte
	Server  string // this hub's name
	Peer    string // the hub meant to answer; "" for any
	Binding []byte // the TLS channel's, from Binding
}

// Start implements sasl.Client: no initial response.
func (c *Client) Start() (string, []byte, error) { return Mechanism, nil, nil }

// Next implements sasl.Client: it checks the server's proof, then answers.
func (c *Client) Next(challenge []byte) ([]byte, error) {
	return Response(c.Secret, challenge, c.Binding, c.Server, c.Peer)
}
