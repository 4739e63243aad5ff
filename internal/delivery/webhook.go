package delivery

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/status"
)

// Webhook posts each message to an HTTP endpoint (an SMS service, a
// ticketing system): one POST per message with the envelope and the
// message, as JSON with the message base64-encoded (Format "json") or as
// multipart/form-data with an "envelope" JSON part and a "message" part of
// type message/rfc822 (Format "multipart"). An optional bearer token is
// read from TokenFile at each delivery, so it can be rotated. 2xx is
// delivered; 5xx, 429, a timeout or no connection is a retry; any other
// status fails every recipient with the response's first line of body.
type Webhook struct {
	URL       string
	TokenFile string
	Format    string // "json" (default) or "multipart"
	Timeout   time.Duration
	Client    *http.Client // nil: a client with Timeout
}

// WebhookEnvelope is the JSON the endpoint receives.
type WebhookEnvelope struct {
	ID         string             `json:"id"`
	From       string             `json:"from"`
	Recipients []WebhookRecipient `json:"recipients"`
	Arrival    time.Time          `json:"arrival"`
	Message    string             `json:"message,omitempty"` // base64, JSON format only
}

// WebhookRecipient is one recipient in a WebhookEnvelope.
type WebhookRecipient struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

// Deliver implements Agent.
func (w *Webhook) Deliver(ctx context.Context, m *Message) []Result {
	return every(len(m.Recipients), w.post(ctx, m))
}

func (w *Webhook) post(ctx context.Context, m *Message) Result {
	body, err := m.Open()
	if err != nil {
		return Result{Class: Retry, Status: status.SystemTransient, Text: "reading the queued message: " + err.Error()}
	}
	defer body.Close()
	env := WebhookEnvelope{ID: m.ID, From: m.From, Arrival: m.Arrival}
	for _, r := range m.Recipients {
		env.Recipients = append(env.Recipients, WebhookRecipient{Type: strings.ToUpper(r.Type), Address: r.Address})
	}
	// The request body streams the message from the queue file: a big
	// message is never held whole (issue 14, "big and many").
	src := &readErrors{r: body}
	payload, size, contentType, err := w.encode(env, src, m.Size)
	if err != nil {
		return Result{Class: Failed, Status: status.SystemPermanent, Text: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, payload)
	if err != nil {
		return Result{Class: Failed, Status: status.Misconfigured, Text: "webhook url: " + err.Error()}
	}
	req.ContentLength = size // -1: unknown, sent chunked
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Waypost")
	if w.TokenFile != "" {
		tok, err := os.ReadFile(w.TokenFile)
		if err != nil {
			return Result{Class: Retry, Status: status.MisconfiguredTransient, Text: "webhook token: " + err.Error()}
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	client := w.Client
	if client == nil {
		timeout := w.Timeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		client = &http.Client{Timeout: timeout}
	}
	host := req.URL.Host
	resp, err := client.Do(req)
	if src.err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return Result{Class: Retry, Status: status.SystemTransient, Text: "reading the queued message: " + src.err.Error()}
	}
	if err != nil {
		return Result{Class: Retry, Status: status.NoAnswer, Text: "webhook: " + err.Error(), RemoteHost: host}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	// The status line as received ("HTTP/1.1 400 Bad Request"): a bare
	// "400 ..." would read as an SMTP reply in a report's Diagnostic-Code.
	text := resp.Proto + " " + resp.Status
	if line := strings.TrimSpace(strings.SplitN(string(snippet), "\n", 2)[0]); line != "" {
		text += ": " + line
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return Result{Class: Relayed, Status: status.OK, Text: "accepted by " + w.URL, RemoteHost: host, RemoteText: text}
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return Result{Class: Retry, Status: status.BadConnection, Text: "webhook answered " + resp.Status, RemoteHost: host, RemoteText: text}
	}
	return Result{Class: Failed, Status: status.SystemPermanent, Text: "webhook refused the message", RemoteHost: host, RemoteText: text}
}

// encode returns the request body for env and the message content, its
// length (-1 when not known: size is not set) and its content type. The
// content is read as the body is, never held whole.
func (w *Webhook) encode(env WebhookEnvelope, content io.Reader, size int64) (io.Reader, int64, string, error) {
	if w.Format != "multipart" {
		// {"id":...,"arrival":...,"message":"BASE64"}: the envelope
		// without its message (omitempty), then the message.
		js, err := json.Marshal(env)
		if err != nil {
			return nil, 0, "", err
		}
		prefix := append(js[:len(js)-1:len(js)-1], `,"message":"`...)
		suffix := []byte(`"}`)
		n := int64(-1)
		if size > 0 {
			n = int64(len(prefix)) + int64(base64.StdEncoding.EncodedLen(int(size))) + int64(len(suffix))
		}
		return io.MultiReader(bytes.NewReader(prefix), &base64Reader{r: content}, bytes.NewReader(suffix)), n, "application/json", nil
	}
	var head, tail bytes.Buffer
	mw := multipart.NewWriter(&head)
	js, err := json.Marshal(env)
	if err != nil {
		return nil, 0, "", err
	}
	part, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}, "Content-Disposition": {`form-data; name="envelope"`}})
	if err != nil {
		return nil, 0, "", err
	}
	part.Write(js)
	if _, err = mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"message/rfc822"}, "Content-Disposition": {`form-data; name="message"; filename="message.eml"`}}); err != nil {
		return nil, 0, "", err
	}
	// The closing boundary follows the content, as mw.Close would write it.
	fmt.Fprintf(&tail, "\r\n--%s--\r\n", mw.Boundary())
	n := int64(-1)
	if size > 0 {
		n = int64(head.Len()) + size + int64(tail.Len())
	}
	return io.MultiReader(&head, content, &tail), n, mw.FormDataContentType(), nil
}

// base64Reader reads r base64-encoded (RFC 4648 section 4), a block at a
// time.
type base64Reader struct {
	r   io.Reader
	out []byte // encoded, not yet read
	enc []byte // out's backing array, reused
	eof bool
	buf [3 * 4096]byte
}

func (b *base64Reader) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.eof {
			return 0, io.EOF
		}
		n, err := io.ReadFull(b.r, b.buf[:])
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			b.eof = true
		default:
			return 0, err
		}
		b.enc = base64.StdEncoding.AppendEncode(b.enc[:0], b.buf[:n])
		b.out = b.enc
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

// readErrors keeps the first error of reading r, so that a queue file
// that cannot be read is told from a connection that broke.
type readErrors struct {
	r   io.Reader
	err error
}

func (e *readErrors) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
