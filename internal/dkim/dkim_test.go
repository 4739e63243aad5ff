package dkim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

const msg = "From: Alice <alice@corp.test>\r\nTo: bob@example.test\r\nSubject: hello\r\n" +
	"Date: Sat, 05 Dec 2026 19:00:00 +0000\r\nMessage-ID: <1@corp.test>\r\n\r\nHello Bob.\r\n.dot line\r\n"

// keyOf generates a key and returns it with its DNS record value.
func keyOf(t *testing.T, alg, domain, selector string) (Key, string) {
	t.Helper()
	k, err := Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := RecordValue(k)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Domain: domain, Selector: selector, Signer: k}, v
}

// verify checks every signature of signed with go-msgauth's verifier and
// the records by "selector._domainkey.domain".
func verify(t *testing.T, signed string, records map[string]string) []*msgdkim.Verification {
	t.Helper()
	vs, err := msgdkim.VerifyWithOptions(strings.NewReader(signed), &msgdkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return []string{records[name]}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Err != nil {
			t.Errorf("signature of %s does not verify: %v", v.Domain, v.Err)
		}
	}
	return vs
}

// TestSignEachKeyOfTheDomain: a domain with an RSA and an Ed25519 key
// (rotation) gets two signatures that verify, relaxed/relaxed, with t=
// and From over-signed.
func TestSignEachKeyOfTheDomain(t *testing.T) {
	k1, r1 := keyOf(t, "rsa", "corp.test", "s2026")
	k2, r2 := keyOf(t, "ed25519", "corp.test", "e2026")
	s := NewSigner([]Key{k1, k2})
	sig, err := s.Sign(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(sig, "DKIM-Signature:"); n != 2 {
		t.Fatalf("%d signatures, want 2:\n%s", n, sig)
	}
	unfolded := strings.Join(strings.Fields(sig), "")
	for _, want := range []string{"c=relaxed/relaxed", "h=From:From:To:Cc:Subject:Date:Message-ID", "t=", "a=rsa-sha256", "a=ed25519-sha256"} {
		if !strings.Contains(unfolded, want) {
			t.Errorf("signatures lack %q:\n%s", want, sig)
		}
	}
	vs := verify(t, sig+msg, map[string]string{"s2026._domainkey.corp.test": r1, "e2026._domainkey.corp.test": r2})
	if len(vs) != 2 {
		t.Fatalf("%d verifications, want 2", len(vs))
	}
}

// TestSignAsSent: a queued message with bare LF line ends and no final
// line end is signed as the SMTP client sends it (CRLF, a final CRLF).
func TestSignAsSent(t *testing.T) {
	k, r := keyOf(t, "rsa", "corp.test", "s1")
	raw := strings.ReplaceAll(msg, "\r\n", "\n") + "no final line end"
	sig, err := NewSigner([]Key{k}).Sign(strings.NewReader(raw))
	if err != nil || sig == "" {
		t.Fatalf("sig %q, err %v", sig, err)
	}
	sent := strings.ReplaceAll(raw, "\n", "\r\n") + "\r\n"
	verify(t, sig+sent, map[string]string{"s1._domainkey.corp.test": r})
}

// TestSignOnlyTheAuthorsDomain: no key for the From domain, no
// signature; the envelope and other fields do not count.
func TestSignOnlyTheAuthorsDomain(t *testing.T) {
	k, _ := keyOf(t, "ed25519", "corp.test", "s1")
	other := strings.Replace(msg, "alice@corp.test", "alice@elsewhere.test", 1)
	other = strings.Replace(other, "To: bob@example.test", "To: x@corp.test", 1)
	sig, err := NewSigner([]Key{k}).Sign(strings.NewReader(other))
	if err != nil || sig != "" {
		t.Fatalf("sig %q, err %v; want none", sig, err)
	}
	// The domain is matched without regard to case.
	upper := strings.Replace(msg, "alice@corp.test", "alice@CORP.Test", 1)
	if sig, err := NewSigner([]Key{k}).Sign(strings.NewReader(upper)); err != nil || sig == "" {
		t.Fatalf("From at CORP.Test: sig %q, err %v; want one", sig, err)
	}
}

// TestSignNeverTwice: a message that already carries a signature of the
// key is not signed by it again; another key of the domain still signs.
func TestSignNeverTwice(t *testing.T) {
	k1, _ := keyOf(t, "ed25519", "corp.test", "s1")
	k2, _ := keyOf(t, "ed25519", "corp.test", "s2")
	first, err := NewSigner([]Key{k1}).Sign(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	again, err := NewSigner([]Key{k1, k2}).Sign(strings.NewReader(first + msg))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(again, "DKIM-Signature:"); n != 1 || !strings.Contains(again, "s=s2") {
		t.Fatalf("re-signing gave %d signatures, want one of s2:\n%s", n, again)
	}
}

// TestSignBadFrom: a From that is no address gets no signature and an
// error that says why.
func TestSignBadFrom(t *testing.T) {
	k, _ := keyOf(t, "ed25519", "corp.test", "s1")
	bad := strings.Replace(msg, "Alice <alice@corp.test>", "not an address", 1)
	sig, err := NewSigner([]Key{k}).Sign(strings.NewReader(bad))
	if sig != "" || err == nil || !strings.Contains(err.Error(), "From") {
		t.Fatalf("sig %q, err %v", sig, err)
	}
}

func TestParseKeyRefusesWeakRSA(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der := x509.MarshalPKCS1PrivateKey(k)
	_, err = ParseKey(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}))
	if err == nil || !strings.Contains(err.Error(), "1024 bits") {
		t.Fatalf("err %v, want a refusal naming 1024 bits", err)
	}
	if _, err := ParseKey([]byte("not pem")); err == nil || !strings.Contains(err.Error(), "PEM") {
		t.Fatalf("err %v, want one about PEM", err)
	}
}

func TestWriteKeyAndRecord(t *testing.T) {
	for _, alg := range []string{"rsa", "ed25519"} {
		path := filepath.Join(t.TempDir(), "k.pem")
		k, err := Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteKey(path, k); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s key has mode %v, want 0600", alg, fi.Mode().Perm())
		}
		if err := WriteKey(path, k); err == nil {
			t.Errorf("%s: an existing key file was overwritten", alg)
		}
		back, err := LoadKey(path)
		if err != nil || Algorithm(back) != alg {
			t.Fatalf("%s: loaded %v, %v", alg, back, err)
		}
		rec, err := Record("corp.test", "s2026", k)
		if err != nil {
			t.Fatal(err)
		}
		prefix := "s2026._domainkey.corp.test. IN TXT "
		if !strings.HasPrefix(rec, prefix) {
			t.Fatalf("record %q", rec)
		}
		var joined string
		for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(rec, -1) {
			if len(m[1]) > 255 {
				t.Fatalf("%s: character string of %d bytes, over 255", alg, len(m[1]))
			}
			joined += m[1]
		}
		want, _ := RecordValue(k)
		if joined != want || !strings.HasPrefix(want, "v=DKIM1; k="+alg+"; p=") {
			t.Fatalf("%s: record joins to %q, want %q", alg, joined, want)
		}
	}
}

func TestCheckSelector(t *testing.T) {
	for _, s := range []string{"s2026", "a.b-c"} {
		if err := CheckSelector(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "a b", "s_1", "-a", "a..b"} {
		if CheckSelector(s) == nil {
			t.Errorf("%q accepted", s)
		}
	}
}
