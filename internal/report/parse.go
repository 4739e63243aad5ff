package report

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/waypost/waypost/internal/mailtext"
)

// This file reads reports back: Parse finds the multipart/report (RFC
// 6522) of a message and splits it into the part for people, the
// delivery-status fields (RFC 3464 section 2, read by ParseStatus in
// status.go) and the returned message or headers.

// DSN is a delivery status notification as Parse reads it.
type DSN struct {
	Header mail.Header // header of the message that holds the multipart/report

	HumanType string // media type of the part for people, e.g. "text/plain"
	Human     string // its text, transfer encoding removed, "" if there is none

	// StatusType is "message/delivery-status", or
	// "message/global-delivery-status" (RFC 6533) whose fields may
	// hold UTF-8.
	StatusType string
	Message    MessageFields
	Recipients []RecipientFields

	// ReturnedType is the media type of the part after the status part:
	// "message/rfc822" or "message/global" for the whole original,
	// "text/rfc822-headers" or "message/global-headers" for its header;
	// "" when nothing is returned. Returned is that part's content,
	// transfer encoding removed and otherwise as it was.
	ReturnedType string
	Returned     []byte
}

// Limits that keep a hostile message from making Parse work without end.
const (
	maxDepth = 8   // nesting of multiparts and messages searched for the report
	maxParts = 100 // parts read from any one multipart
)

// errNoReport says a subtree holds no multipart/report; Parse turns it into
// a sentence about the whole message.
var errNoReport = errors.New("no multipart/report")

// Parse reads an RFC 5322 message and returns the delivery status
// notification it carries: the message itself, or the first
// multipart/report with report-type delivery-status found inside its
// multiparts and attached messages. Errors say what was wrong and where:
// which part, and for the status fields the line within that part. Parse
// reads the whole message into memory; the caller bounds its size.
func Parse(r io.Reader) (*DSN, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("reading the message header: %w", err)
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the message body: %w", err)
	}
	d, err := find(msg.Header, textproto.MIMEHeader(msg.Header), body, 0, "the message")
	if errors.Is(err, errNoReport) {
		mt, _, _ := mime.ParseMediaType(orDefault(msg.Header.Get("Content-Type"), "text/plain"))
		return nil, fmt.Errorf("not a delivery status notification: the message is %s and holds no multipart/report with report-type=delivery-status", orDefault(mt, "of unknown type"))
	}
	return d, err
}

// find looks for the report in one entity: top is the header of the
// message the entity belongs to, h the entity's own header.
func find(top mail.Header, h textproto.MIMEHeader, body []byte, depth int, where string) (*DSN, error) {
	mt, params, err := mediaType(h)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	switch {
	case mt == "multipart/report" && isDSNReport(params["report-type"]):
		return readReport(top, body, params["boundary"], where)
	case depth >= maxDepth:
		return nil, errNoReport
	case strings.HasPrefix(mt, "multipart/"):
		parts, err := splitParts(body, params["boundary"], where)
		if err != nil {
			return nil, err
		}
		for i, p := range parts {
			d, err := find(top, p.header, p.body, depth+1, fmt.Sprintf("part %d of %s", i+1, where))
			if !errors.Is(err, errNoReport) {
				return d, err
			}
		}
	case mt == "message/rfc822" || mt == "message/global":
		inner, err := decodeBody(h, body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(inner))
		if err != nil {
			return nil, errNoReport // an attached message that is not one is just not a report
		}
		rest, _ := io.ReadAll(msg.Body)
		return find(msg.Header, textproto.MIMEHeader(msg.Header), rest, depth+1, "the message attached to "+where)
	}
	return nil, errNoReport
}

// isDSNReport accepts the report-type of a DSN; "global-delivery-status"
// is not registered but some servers write it for RFC 6533 reports.
func isDSNReport(t string) bool {
	return strings.EqualFold(t, "delivery-status") || strings.EqualFold(t, "global-delivery-status")
}

type part struct {
	header textproto.MIMEHeader
	body   []byte
}

// splitParts reads the parts of a multipart body (RFC 2046 section 5.1),
// with CRLF or LF line ends.
func splitParts(body []byte, boundary, where string) ([]part, error) {
	if boundary == "" {
		return nil, fmt.Errorf("%s: a multipart Content-Type without a boundary parameter", where)
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var parts []part
	for len(parts) < maxParts {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, fmt.Errorf("part %d of %s: %w", len(parts)+1, where, noEOF(err))
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("part %d of %s: %w", len(parts)+1, where, noEOF(err))
		}
		parts = append(parts, part{p.Header, b})
	}
	return nil, fmt.Errorf("%s: more than %d parts", where, maxParts)
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the body ends before the closing boundary")
	}
	return err
}

// readReport reads the parts of a multipart/report: the part for people,
// the status part and what follows it.
func readReport(top mail.Header, body []byte, boundary, where string) (*DSN, error) {
	if where == "the message" {
		where = "the multipart/report"
	} else {
		where = "the multipart/report in " + where
	}
	parts, err := splitParts(body, boundary, where)
	if err != nil {
		return nil, err
	}
	d := &DSN{Header: top}
	at := -1
	var types []string
	for i, p := range parts {
		mt, _, err := mediaType(p.header)
		if err != nil {
			return nil, fmt.Errorf("part %d of %s: %w", i+1, where, err)
		}
		types = append(types, mt)
		if at < 0 && (mt == "message/delivery-status" || mt == "message/global-delivery-status") {
			at = i
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("%s has no message/delivery-status part (its parts: %s)", where, orDefault(strings.Join(types, ", "), "none"))
	}
	if at > 0 {
		if err := d.readHuman(parts[0], 0); err != nil {
			return nil, fmt.Errorf("part 1 of %s: %w", where, err)
		}
	}
	d.StatusType = types[at]
	status, err := decodeBody(parts[at].header, parts[at].body)
	if err != nil {
		return nil, fmt.Errorf("the %s part: %w", d.StatusType, err)
	}
	if d.Message, d.Recipients, err = ParseStatus(status); err != nil {
		return nil, fmt.Errorf("the %s part: %w", d.StatusType, err)
	}
	if at+1 < len(parts) {
		p := parts[at+1]
		d.ReturnedType = types[at+1]
		if d.Returned, err = decodeBody(p.header, p.body); err != nil {
			return nil, fmt.Errorf("part %d of %s: %w", at+2, where, err)
		}
	}
	return d, nil
}

// readHuman takes the text of the part for people; of a multipart (some
// servers send text and HTML) it takes the first text/plain part.
func (d *DSN) readHuman(p part, depth int) error {
	mt, params, err := mediaType(p.header)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth >= maxDepth {
			return nil
		}
		sub, err := splitParts(p.body, params["boundary"], mt)
		if err != nil {
			return err
		}
		for _, s := range sub {
			if d.readHuman(s, depth+1) == nil && d.HumanType == "text/plain" {
				return nil
			}
		}
		return nil
	}
	text, err := decodeBody(p.header, p.body)
	if err != nil {
		return err
	}
	d.HumanType, d.Human = mt, toUTF8(text, params["charset"])
	return nil
}

// mediaType is the lower-case media type of an entity and its parameters;
// with no Content-Type it is text/plain (RFC 2045 section 5.2).
func mediaType(h textproto.MIMEHeader) (string, map[string]string, error) {
	ct := h.Get("Content-Type")
	if strings.TrimSpace(ct) == "" {
		return "text/plain", map[string]string{}, nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return "", nil, fmt.Errorf("Content-Type %q: %v", mailtext.OneLine(ct), err)
	}
	return mt, params, nil
}

// decodeBody removes a base64 or quoted-printable transfer encoding;
// RFC 6533 allows them on the global status and header types.
func decodeBody(h textproto.MIMEHeader, body []byte) ([]byte, error) {
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	switch cte {
	case "", "7bit", "8bit", "binary":
		return body, nil
	case "quoted-printable":
		b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			return nil, fmt.Errorf("quoted-printable content: %v", err)
		}
		return b, nil
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, body)
		b := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(b, clean)
		if err != nil {
			return nil, fmt.Errorf("base64 content: %v", err)
		}
		return b[:n], nil
	}
	return nil, fmt.Errorf("unknown Content-Transfer-Encoding %q", mailtext.OneLine(cte))
}

// toUTF8 turns text in charset into UTF-8: UTF-8 and US-ASCII as they
// are, ISO-8859-1 by its code points; other charsets are left as they are.
func toUTF8(b []byte, charset string) string {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "iso_8859-1", "l1":
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	}
	return string(b)
}
