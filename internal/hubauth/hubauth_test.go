package hubauth

import (
	"strings"
	"testing"
)

func TestChallengeResponse(t *testing.T) {
	secret := []byte("organization secret")
	ch, nonce := Challenge("hub-branch")
	resp, err := (&Client{Secret: secret, Server: "hub-hq"}).Next(ch)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(resp), string(secret)) {
		t.Fatal("the secret travels")
	}
	if who, err := Verify(secret, nonce, "hub-branch", resp); err != nil || who != "hub-hq" {
		t.Fatalf("right proof refused: %q %v", who, err)
	}
	// A recorded response is worthless against a new challenge.
	_, nonce2 := Challenge("hub-branch")
	if nonce2 == nonce {
		t.Fatal("nonces repeat")
	}
	if _, err := Verify(secret, nonce2, "hub-branch", resp); err == nil {
		t.Error("a replayed response was accepted")
	}
	// Nor does a response for one server work on another.
	if _, err := Verify(secret, nonce, "hub-hq2", resp); err == nil {
		t.Error("a response for another server was accepted")
	}
	wrong, _ := Response([]byte("other secret"), ch, "hub-hq")
	if _, err := Verify(secret, nonce, "hub-branch", wrong); err == nil {
		t.Error("a wrong secret was accepted")
	}
	for _, bad := range []string{"", "hub-hq", " abc", "hub-hq " + string(secret)} {
		if _, err := Verify(secret, nonce, "hub-branch", []byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := Response(secret, []byte("no-nonce"), "hub-hq"); err == nil {
		t.Error("a malformed challenge was answered")
	}
}
