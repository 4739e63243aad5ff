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
		return Result{Class: Retry, Status: "4.3.0", Text: "reading the queued message: " + err.Error()}
	}
	raw, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		return Result{Class: Retry, Status: "4.3.0", Text: "reading the queued message: " + err.Error()}
	}
	env := WebhookEnvelope{ID: m.ID, From: m.From, Arrival: m.Arrival}
	for _, r := range m.Recipients {
		env.Recipients = append(env.Recipients, WebhookRecipient{Type: strings.ToUpper(r.Type), Address: r.Address})
	}
	payload, contentType, err := w.encode(env, raw)
	if err != nil {
		return Result{Class: Failed, Status: "5.3.0", Text: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(payload))
	if err != nil {
		return Result{Class: Failed, Status: "5.3.5", Text: "webhook url: " + err.Error()}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Waypost")
	if w.TokenFile != "" {
		tok, err := os.ReadFile(w.TokenFile)
		if err != nil {
			return Result{Class: Retry, Status: "4.3.5", Text: "webhook token: " + err.Error()}
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
	if err != nil {
		return Result{Class: Retry, Status: "4.4.1", Text: "webhook: " + err.Error(), RemoteHost: host}
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
		return Result{Class: Delivered, Status: "2.0.0", Text: "accepted by " + w.URL, RemoteHost: host, RemoteText: text}
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return Result{Class: Retry, Status: "4.4.2", Text: "webhook answered " + resp.Status, RemoteHost: host, RemoteText: text}
	}
	return Result{Class: Failed, Status: "5.3.0", Text: "webhook refused the message", RemoteHost: host, RemoteText: text}
}

func (w *Webhook) encode(env WebhookEnvelope, raw []byte) ([]byte, string, error) {
	if w.Format != "multipart" {
		env.Message = base64.StdEncoding.EncodeToString(raw)
		b, err := json.Marshal(env)
		return b, "application/json", err
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	js, err := json.Marshal(env)
	if err != nil {
		return nil, "", err
	}
	part, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}, "Content-Disposition": {`form-data; name="envelope"`}})
	if err != nil {
		return nil, "", err
	}
	part.Write(js)
	part, err = mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"message/rfc822"}, "Content-Disposition": {`form-data; name="message"; filename="message.eml"`}})
	if err != nil {
		return nil, "", err
	}
	part.Write(raw)
	if err := mw.Close(); err != nil {
		return nil, "", fmt.Errorf("webhook body: %w", err)
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}
