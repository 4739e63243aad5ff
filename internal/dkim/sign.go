package dkim

import (
	"bufio"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

// Key is one signing key of a domain; a domain may have several (key
// rotation: each signs).
type Key struct {
	Domain   string // the d= tag, lower case
	Selector string // the s= tag
	Signer   crypto.Signer
}

// HeaderKeys are the header fields signed (h=), the list of RFC 6376
// section 5.4.1 that a reply or a list would keep. From is listed twice:
// over-signed (section 8.15), so that a second From added on the way
// breaks the signature; fields that are absent are over-signed too
// (go-msgauth lists them in h= and hashes nothing for them), so that none
// can be added later.
var HeaderKeys = []string{"From", "From", "To", "Cc", "Subject", "Date", "Message-ID",
	"MIME-Version", "Content-Type", "Reply-To", "In-Reply-To", "References"}

// MaxHeader is the largest header section read to sign a message: the
// header is held in memory (the body only streams through).
const MaxHeader = 1 << 20

// ReadError is a failure to read the message being signed (the queue
// file), as opposed to a message that cannot be signed.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "reading the message to sign it: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// Signer signs messages with the keys of the author's domain.
type Signer struct {
	keys map[string][]Key // by domain
}

// NewSigner returns a signer with keys; nil when there are none.
func NewSigner(keys []Key) *Signer {
	if len(keys) == 0 {
		return nil
	}
	s := &Signer{keys: map[string][]Key{}}
	for _, k := range keys {
		d := strings.ToLower(k.Domain)
		s.keys[d] = append(s.keys[d], k)
	}
	return s
}

// Sign reads the message from r once and returns the DKIM-Signature
// fields (with their CRLFs) to put before it, one per key of the domain of
// each RFC 5322.From address, or "" when no such domain has a key. A key
// whose domain and selector already signed the message is not used again
// (a message never carries two signatures of one key). The message is
// signed as SMTP will carry it: bare LFs become CRLF and the content ends
// with a line end, as the SMTP client writes it (net/textproto's
// DotWriter, RFC 5321 section 2.3.8).
func (s *Signer) Sign(r io.Reader) (string, error) {
	if s == nil {
		return "", nil
	}
	br := bufio.NewReaderSize(r, 64<<10)
	hdr, err := readHeader(br)
	if err != nil {
		return "", err
	}
	fields := parseFields(hdr)
	keys, err := s.choose(fields)
	if len(keys) == 0 {
		return "", err
	}
	signers := make([]*msgdkim.Signer, 0, len(keys))
	writers := make([]io.Writer, 0, len(keys))
	defer func() {
		for _, sg := range signers {
			sg.Close() // after an error: ends the signer's goroutine
		}
	}()
	for _, k := range keys {
		sg, err := msgdkim.NewSigner(&msgdkim.SignOptions{
			Domain: k.Domain, Selector: k.Selector, Signer: k.Signer,
			HeaderCanonicalization: msgdkim.CanonicalizationRelaxed,
			BodyCanonicalization:   msgdkim.CanonicalizationRelaxed,
			HeaderKeys:             HeaderKeys,
		})
		if err != nil {
			return "", fmt.Errorf("DKIM key %s of %s: %w", k.Selector, k.Domain, err)
		}
		signers, writers = append(signers, sg), append(writers, sg)
	}
	w := &crlfWriter{w: io.MultiWriter(writers...)}
	if _, err := w.Write(hdr); err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	if _, err := br.WriteTo(readErrorWriter{w}); err != nil {
		if err = classify(err); !errors.As(err, new(*ReadError)) {
			err = fmt.Errorf("signing: %w", err)
		}
		return "", err
	}
	if err := w.end(); err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	var out strings.Builder
	for i, sg := range signers {
		if err := sg.Close(); err != nil {
			return "", fmt.Errorf("DKIM key %s of %s: %w", keys[i].Selector, keys[i].Domain, err)
		}
		out.WriteString(sg.Signature())
	}
	signers = nil
	return out.String(), nil
}

// choose returns the keys that sign a message with these header fields.
// err says why a message with a From of no usable domain is not signed.
func (s *Signer) choose(fields []field) ([]Key, error) {
	signed := map[string]bool{} // "domain selector" of the signatures present
	var from []string
	for _, f := range fields {
		switch strings.ToLower(f.name) {
		case "from":
			from = append(from, f.value)
		case "dkim-signature":
			tags := parseTags(f.value)
			signed[strings.ToLower(tags["d"])+" "+strings.ToLower(tags["s"])] = true
		}
	}
	var keys []Key
	seen := map[string]bool{}
	var bad error
	for _, v := range from {
		list, err := mail.ParseAddressList(v)
		if err != nil {
			bad = fmt.Errorf("the From field %q is not an address list, so its domain has no key to sign with: %w", v, err)
			continue
		}
		for _, a := range list {
			at := strings.LastIndexByte(a.Address, '@')
			d := strings.ToLower(a.Address[at+1:])
			if seen[d] {
				continue
			}
			seen[d] = true
			for _, k := range s.keys[d] {
				if !signed[strings.ToLower(k.Domain)+" "+strings.ToLower(k.Selector)] {
					keys = append(keys, k)
				}
			}
		}
	}
	return keys, bad
}

// readHeader reads the header section and the empty line after it (or
// the whole message, when it has no body).
func readHeader(br *bufio.Reader) ([]byte, error) {
	var hdr []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
			return nil, &ReadError{err}
		}
		hdr = append(hdr, line...)
		if len(hdr) > MaxHeader {
			return nil, fmt.Errorf("the header section is over %d bytes; not signed", MaxHeader)
		}
		if errors.Is(err, io.EOF) || err == nil && (string(line) == "\r\n" || string(line) == "\n") {
			return hdr, nil
		}
	}
}

// field is one header field, unfolded, its name as written.
type field struct{ name, value string }

func parseFields(hdr []byte) []field {
	var out []field
	for _, line := range strings.SplitAfter(string(hdr), "\n") {
		l := strings.TrimRight(line, "\r\n")
		if l == "" {
			break
		}
		if (l[0] == ' ' || l[0] == '\t') && len(out) > 0 {
			out[len(out)-1].value += l
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		out = append(out, field{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	return out
}

// parseTags reads a tag list (RFC 6376 section 3.2): "d=x; s=y".
func parseTags(v string) map[string]string {
	tags := map[string]string{}
	for _, t := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(t, "=")
		if ok {
			val = strings.Join(strings.Fields(val), "")
			tags[strings.TrimSpace(k)] = val
		}
	}
	return tags
}

// crlfWriter writes what the SMTP client sends for the same bytes: every
// LF not after a CR becomes CRLF, and end adds the line end that a
// message without a final one gets.
type crlfWriter struct {
	w    io.Writer
	last byte // the last byte written, 0 before any
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	start := 0
	for i, b := range p {
		if b != '\n' || i > 0 && p[i-1] == '\r' || i == 0 && c.last == '\r' {
			continue
		}
		if _, err := c.w.Write(p[start:i]); err != nil {
			return 0, err
		}
		if _, err := c.w.Write([]byte("\r\n")); err != nil {
			return 0, err
		}
		start = i + 1
	}
	if _, err := c.w.Write(p[start:]); err != nil {
		return 0, err
	}
	if len(p) > 0 {
		c.last = p[len(p)-1]
	}
	return len(p), nil
}

func (c *crlfWriter) end() error {
	var err error
	switch c.last {
	case '\n', 0:
	case '\r':
		_, err = c.w.Write([]byte("\n"))
	default:
		_, err = c.w.Write([]byte("\r\n"))
	}
	return err
}

// readErrorWriter lets bufio.Reader.WriteTo's errors be told apart: a
// write error is the signer's, anything else came from reading.
type readErrorWriter struct{ w io.Writer }

func (w readErrorWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		err = &signError{err}
	}
	return n, err
}

type signError struct{ err error }

func (e *signError) Error() string { return e.err.Error() }
func (e *signError) Unwrap() error { return e.err }

// classify turns an error of WriteTo into a ReadError unless it came from
// the writer.
func classify(err error) error {
	var se *signError
	if errors.As(err, &se) {
		return se.err
	}
	return &ReadError{err}
}
