package delivery

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWebhookStatuses: a real HTTP server on loopback answering 200, 503,
// 200 and 400 in turn.
func TestWebhookStatuses(t *testing.T) {
	var mu sync.Mutex
	answers := []int{200, 503, 200, 400}
	var got []WebhookEnvelope
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var env WebhookEnvelope
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			t.Errorf("bad JSON: %v", err)
		}
		got = append(got, env)
		auth = append(auth, r.Header.Get("Authorization"))
		code := answers[0]
		answers = answers[1:]
		w.WriteHeader(code)
		if code == 400 {
			io.WriteString(w, "unknown number\nmore detail")
		}
	}))
	defer srv.Close()
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("s3cret\n"), 0o600)
	w := &Webhook{URL: srv.URL, TokenFile: tok, Timeout: 5 * time.Second}
	m := message("Subject: sms\r\n\r\ncall me\r\n", Recipient{Type: "sms", Address: "+1 555 0101"})
	want := []Class{Relayed, Retry, Relayed, Failed}
	for i, c := range want {
		res := w.Deliver(context.Background(), m)
		if res[0].Class != c {
			t.Errorf("answer %d: %+v, want %s", i, res[0], c)
		}
	}
	if len(got) != 4 || got[0].Recipients[0].Type != "SMS" || got[0].From != "bob@fabrikam.test" || auth[0] != "Bearer s3cret" {
		t.Fatalf("requests %+v %v", got, auth)
	}
	if b, _ := base64.StdEncoding.DecodeString(got[0].Message); string(b) != "Subject: sms\r\n\r\ncall me\r\n" {
		t.Errorf("message %q", b)
	}
}

func TestWebhookFailureText(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, "number not in service\n")
	}))
	defer srv.Close()
	res := (&Webhook{URL: srv.URL, Format: "multipart"}).Deliver(context.Background(), message("x\r\n", Recipient{Type: "SMS", Address: "1"}))
	if res[0].Class != Failed || !strings.HasPrefix(res[0].RemoteText, "HTTP/1.1 422 ") || !strings.Contains(res[0].RemoteText, "number not in service") {
		t.Errorf("%+v", res[0])
	}
}

func TestWebhookTimeoutAndNoServerAreRetries(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(2 * time.Second) }))
	defer slow.Close()
	res := (&Webhook{URL: slow.URL, Timeout: 200 * time.Millisecond}).Deliver(context.Background(), message("x\r\n", Recipient{Type: "SMS", Address: "1"}))
	if res[0].Class != Retry {
		t.Errorf("timeout: %+v", res[0])
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	url := gone.URL
	gone.Close()
	res = (&Webhook{URL: url, Timeout: time.Second}).Deliver(context.Background(), message("x\r\n", Recipient{Type: "SMS", Address: "1"}))
	if res[0].Class != Retry {
		t.Errorf("no server: %+v", res[0])
	}
}

// countingContent is a message content of n bytes made as it is read,
// that counts what was read.
type countingContent struct {
	n, read int64
	mu      sync.Mutex
}

func (c *countingContent) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read >= c.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), c.n-c.read)
	for i := range p[:k] {
		p[i] = 'a' + byte((c.read+int64(i))%26)
	}
	c.read += k
	return int(k), nil
}

func (c *countingContent) Close() error { return nil }

func (c *countingContent) sofar() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read
}

// The webhook streams the message from the queue into the request in
// both formats, never holding it whole: when the endpoint reads the first
// bytes of the request, most of a 64 MB message has not been read from
// the queue yet. The body is whole and its length announced.
func TestWebhookStreamsTheMessage(t *testing.T) {
	const size = 64 << 20
	for _, format := range []string{"json", "multipart"} {
		content := &countingContent{n: size}
		var early int64
		var got int64
		var length int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 1024)
			io.ReadFull(r.Body, buf)
			early = content.sofar()
			n, _ := io.Copy(io.Discard, r.Body)
			got, length = n+1024, r.ContentLength
		}))
		m := message("", Recipient{Type: "SMS", Address: "1"})
		m.Size = size
		m.Open = func() (io.ReadCloser, error) { return content, nil }
		res := (&Webhook{URL: srv.URL, Format: format, Timeout: time.Minute}).Deliver(context.Background(), m)
		srv.Close()
		if res[0].Class != Relayed {
			t.Fatalf("%s: %+v", format, res[0])
		}
		if early >= size/2 {
			t.Errorf("%s: %d of %d bytes were read from the queue before the endpoint had 1 KB: the message is held whole", format, early, size)
		}
		if got != length || got < size {
			t.Errorf("%s: the endpoint got %d bytes, announced %d", format, got, length)
		}
	}
}
