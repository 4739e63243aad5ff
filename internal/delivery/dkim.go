package delivery

import (
	"errors"
	"io"
	"log/slog"
	"strings"

	"github.com/waypost/waypost/internal/dkim"
	"github.com/waypost/waypost/internal/status"
)

// sign returns m with the DKIM-Signature fields of its author's domain
// (package dkim) before its content, or m itself when no key applies.
// The content is read once from the queue to sign it, and read again when
// it is sent, behind the fields: it is never held in memory. A queue file
// that cannot be read is a retry (4.3.0); a message that cannot be signed
// (a From that is no address, a header section over dkim.MaxHeader) goes
// unsigned, with a warning in the log: bouncing it would not make it
// signable. Each delivery attempt signs afresh (t= is the attempt's).
func (a *SMTP) sign(m *Message) (*Message, *Result) {
	log := a.Log
	if log == nil {
		log = slog.Default()
	}
	r, err := m.Open()
	if err != nil {
		return nil, &Result{Class: Retry, Status: status.SystemTransient, Text: "reading the queued message to sign it: " + err.Error()}
	}
	fields, err := a.DKIM.Sign(r)
	r.Close()
	var re *dkim.ReadError
	switch {
	case errors.As(err, &re):
		return nil, &Result{Class: Retry, Status: status.SystemTransient, Text: err.Error()}
	case err != nil:
		log.Warn("message sent without a DKIM signature", "id", m.ID, "error", err)
		return m, nil
	case fields == "":
		return m, nil
	}
	signed := *m
	if signed.Size > 0 {
		signed.Size += int64(len(fields)) // SIZE= (RFC 1870) counts the fields too
	}
	open := m.Open
	signed.Open = func() (io.ReadCloser, error) {
		body, err := open()
		if err != nil {
			return nil, err
		}
		return prefixed{Reader: io.MultiReader(strings.NewReader(fields), body), Closer: body}, nil
	}
	return &signed, nil
}

// prefixed is a content with header fields before it.
type prefixed struct {
	io.Reader
	io.Closer
}
