// Package hubauth is how the hubs of one organization prove to each other
// that they hold its hub secret (interfaces.md section 1, hub_secret_file)
// before one grants the other org-internal trust on its relay listener
// (issue 5). It is a SASL mechanism, X-WAYPOST-HUB, of the challenge and
// response kind (RFC 4422):
//
//	S: 334 base64("<server name> <nonce>")
//	C: base64("<client server name> <hex HMAC-SHA256(secret, X-WAYPOST-HUB, nonce, client, server)>")
//
// The secret never travels, and since every challenge carries a fresh
// random nonce a recorded exchange is worth nothing later: a response
// cannot be replayed.
package hubauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Mechanism is the SASL mechanism name.
const Mechanism = "X-WAYPOST-HUB"

// Challenge returns a fresh challenge from server and its nonce.
func Challenge(server string) (challenge []byte, nonce string) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("hubauth: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	nonce = hex.EncodeToString(b)
	return []byte(strings.ToLower(server) + " " + nonce), nonce
}

// Response answers a challenge as client.
func Response(secret []byte, challenge []byte, client string) ([]byte, error) {
	server, nonce, ok := strings.Cut(string(challenge), " ")
	if !ok || server == "" || len(nonce) < 32 {
		return nil, errors.New("hubauth: malformed challenge")
	}
	return []byte(strings.ToLower(client) + " " + mac(secret, nonce, client, server)), nil
}

// Verify checks a response to the challenge with nonce that server sent,
// and returns the client's server name when it is right.
func Verify(secret []byte, nonce, server string, response []byte) (client string, err error) {
	client, proof, ok := strings.Cut(string(response), " ")
	if !ok || client == "" {
		return "", errors.New("malformed hub proof")
	}
	if !hmac.Equal([]byte(strings.ToLower(proof)), []byte(mac(secret, nonce, client, server))) {
		return client, fmt.Errorf("wrong hub proof from %q", client)
	}
	return client, nil
}

func mac(secret []byte, nonce, client, server string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(Mechanism + "\x00" + nonce + "\x00" + strings.ToLower(client) + "\x00" + strings.ToLower(server)))
	return hex.EncodeToString(m.Sum(nil))
}

// Client is the client side of the mechanism, for go-smtp's Client.Auth
// (it implements go-sasl's Client interface).
type Client struct {
	Secret []byte
	Server string // this hub's name
}

// Start implements sasl.Client: no initial response.
func (c *Client) Start() (string, []byte, error) { return Mechanism, nil, nil }

// Next implements sasl.Client.
func (c *Client) Next(challenge []byte) ([]byte, error) {
	return Response(c.Secret, challenge, c.Server)
}
