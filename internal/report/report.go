// Package report writes delivery status notifications: the non-delivery
// report a person reads and a program parses (RFC 3464 inside an RFC 6522
// multipart/report), laid out like Exchange's (exchange-semantics.md
// section 5.1): what happened in plain words, then a section for
// administrators with the generating server and, per recipient, the
// enhanced status code (RFC 3463), the remote server and its exact reply.
package report

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/textproto"
	"strings"
	"time"
)

// Recipient is one recipient the report is about.
type Recipient struct {
	Written     string // as the sender wrote it
	Type        string // address type, upper case
	Address     string // address within its type
	ORCPT       string // RFC 3461 original recipient "type;value", "" if none
	Status      string // enhanced status code, e.g. "5.1.1"
	RemoteHost  string // the server that answered, "" if none
	RemoteText  string // its reply, or our own diagnostic
	LastAttempt time.Time
	Action      string // success notifications: "delivered" or "relayed"
	Reason      string // plain words for the sender in place of Explain(Status, Type), "" for those
}

// Report is what a non-delivery report says.
type Report struct {
	ReportingMTA string // this server's FQDN
	Postmaster   string // the From address: postmaster@<default domain>
	To           string // the original sender
	EnvID        string // RFC 3461 ENVID of the original
	Ret          string // "FULL" returns the whole original; otherwise its headers
	Arrival      time.Time
	Date         time.Time // when the report is written
	Recipients   []Recipient

	// Delay makes the report a delay notification (Action: delayed)
	// instead of a non-delivery report: the server keeps trying until
	// WillRetryUntil.
	Delay          bool
	WillRetryUntil time.Time

	// Success makes the report a success notification: each recipient's
	// Action says whether it was delivered or relayed on to a system that
	// sends no further reports (RFC 3461 section 6.2).
	Success bool
}

// NDR writes the report for a message whose content is original: a
// non-delivery report, or with Delay set a delay notification. The result
// is a complete RFC 5322 message; its envelope sender must be the null
// reverse path.
func NDR(r Report, original io.Reader) ([]byte, error) {
	orig, err := io.ReadAll(original)
	if err != nil {
		return nil, fmt.Errorf("reading the original message: %w", err)
	}
	head := headerBlock(orig)
	hdr, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(append([]byte{}, head...), '\r', '\n')))).ReadMIMEHeader()
	subject := decode(hdr.Get("Subject"))
	sent := r.Arrival
	if d, err := parseDate(hdr.Get("Date")); err == nil {
		sent = d
	}
	boundary := "waypost-" + randomHex(12)
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("From: Mail Delivery System <%s>\r\n", r.Postmaster)
	w("To: <%s>\r\n", r.To)
	prefix := "Undeliverable: "
	switch {
	case r.Delay:
		prefix = "Delivery delayed: "
	case r.Success:
		prefix = "Delivered: "
	}
	w("Subject: %s\r\n", mime.QEncoding.Encode("utf-8", prefix+subject))
	w("Date: %s\r\n", r.Date.Format(time.RFC1123Z))
	w("Message-ID: <%s@%s>\r\n", randomHex(16), r.ReportingMTA)
	if id := hdr.Get("Message-Id"); id != "" {
		w("In-Reply-To: %s\r\nReferences: %s\r\n", id, id)
	}
	w("Auto-Submitted: auto-replied\r\n")
	w("MIME-Version: 1.0\r\n")
	w("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n", boundary)
	w("This is a delivery status notification in MIME format.\r\n\r\n")

	w("--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n", boundary)
	human(&b, r, subject, sent)

	w("\r\n--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary)
	status(&b, r)

	if strings.EqualFold(r.Ret, "FULL") {
		w("\r\n--%s\r\nContent-Type: message/rfc822\r\n\r\n", boundary)
		b.Write(orig)
		if !bytes.HasSuffix(orig, []byte("\r\n")) {
			b.WriteString("\r\n")
		}
	} else {
		w("\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary)
		b.Write(head)
	}
	w("\r\n--%s--\r\n", boundary)
	return b.Bytes(), nil
}

// human writes the part for people.
func human(b *bytes.Buffer, r Report, subject string, sent time.Time) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	if r.Success {
		w("Your message has been delivered to the following recipients:\r\n\r\n")
		w("      Subject: %s\r\n", oneLine(subject))
		w("      Sent:    %s\r\n\r\n", sent.Format("Monday, 2 January 2006 15:04 MST"))
		for _, rc := range r.Recipients {
			w("  %s\r\n", oneLine(rc.Written))
			if rc.Action == "relayed" {
				w("      Handed on to %s, which sends no further notifications.\r\n", oneLine(orDash(rc.RemoteHost)))
			}
			w("\r\n")
		}
		w("Generating server: %s\r\n", r.ReportingMTA)
		return
	}
	if r.Delay {
		w("Your message hasn't been delivered to some recipients yet. There is nothing you need to do:\r\n")
		w("the server will keep trying until %s, and will tell you if it gives up.\r\n\r\n", r.WillRetryUntil.Format("Monday, 2 January 2006 15:04 MST"))
	} else {
		w("Your message did not reach some or all of the intended recipients.\r\n\r\n")
	}
	w("      Subject: %s\r\n", oneLine(subject))
	w("      Sent:    %s\r\n\r\n", sent.Format("Monday, 2 January 2006 15:04 MST"))
	if r.Delay {
		w("Delivery is delayed to these recipients:\r\n\r\n")
	} else {
		w("The following recipients could not be reached:\r\n\r\n")
	}
	for _, rc := range r.Recipients {
		w("  %s\r\n", oneLine(rc.Written))
		switch {
		case rc.Reason != "":
			w("      %s\r\n", oneLine(rc.Reason))
		case !r.Delay:
			w("      %s\r\n", Explain(rc.Status, rc.Type))
		}
		w("\r\n")
	}
	w("Diagnostic information for administrators:\r\n\r\n")
	w("Generating server: %s\r\n\r\n", r.ReportingMTA)
	for _, rc := range r.Recipients {
		w("%s\r\n", oneLine(finalRecipient(rc)))
		if rc.RemoteHost != "" {
			w("Remote server: %s\r\n", oneLine(rc.RemoteHost))
		}
		w("Enhanced status code: %s\r\n", rc.Status)
		w("#%s ##\r\n\r\n", oneLine(diagnostic(rc)))
	}
	w("Original message headers are attached.\r\n")
}

// status writes the message/delivery-status part (RFC 3464 section 2).
func status(b *bytes.Buffer, r Report) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("Reporting-MTA: dns; %s\r\n", r.ReportingMTA)
	if r.EnvID != "" {
		w("Original-Envelope-Id: %s\r\n", oneLine(r.EnvID))
	}
	w("Arrival-Date: %s\r\n", r.Arrival.Format(time.RFC1123Z))
	for _, rc := range r.Recipients {
		w("\r\n")
		if rc.ORCPT != "" {
			w("Original-Recipient: %s\r\n", oneLine(rc.ORCPT))
		}
		w("Final-Recipient: %s\r\n", oneLine(finalRecipient(rc)))
		switch {
		case r.Delay:
			w("Action: delayed\r\n")
		case r.Success:
			w("Action: %s\r\n", orDefault(rc.Action, "delivered"))
		default:
			w("Action: failed\r\n")
		}
		w("Status: %s\r\n", rc.Status)
		if rc.RemoteHost != "" {
			w("Remote-MTA: dns; %s\r\n", oneLine(rc.RemoteHost))
		}
		if !r.Success || rc.RemoteText != "" {
			w("Diagnostic-Code: smtp; %s\r\n", oneLine(diagnostic(rc)))
		}
		if !rc.LastAttempt.IsZero() {
			w("Last-Attempt-Date: %s\r\n", rc.LastAttempt.Format(time.RFC1123Z))
		}
		if r.Delay && !r.WillRetryUntil.IsZero() {
			w("Will-Retry-Until: %s\r\n", r.WillRetryUntil.Format(time.RFC1123Z))
		}
	}
}

// finalRecipient is the Final-Recipient value: "rfc822;" for SMTP, "x400;"
// for X.400, and the address type's own name for the others (FAX, SMS...).
func finalRecipient(rc Recipient) string {
	switch strings.ToUpper(rc.Type) {
	case "SMTP", "":
		return "rfc822;" + rc.Address
	case "X400":
		return "x400;" + rc.Address
	}
	return strings.ToLower(rc.Type) + ";" + rc.Address
}

// diagnostic is the SMTP-style reply for a recipient: the remote server's
// exact reply when there is one, else ours, "550 5.4.4 ROUTING...".
func diagnostic(rc Recipient) string {
	t := strings.TrimSpace(rc.RemoteText)
	if len(t) >= 3 && t[0] >= '2' && t[0] <= '5' && t[1] >= '0' && t[1] <= '9' && t[2] >= '0' && t[2] <= '9' {
		return t
	}
	code := "550"
	switch {
	case strings.HasPrefix(rc.Status, "4"):
		code = "450"
	case strings.HasPrefix(rc.Status, "2"):
		code = "250"
	}
	if t == "" {
		t = "delivery failed"
	}
	return code + " " + rc.Status + " " + t
}

// headerBlock returns the header section of a message, with its final CRLF.
func headerBlock(msg []byte) []byte {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i+2]
	}
	if bytes.HasSuffix(msg, []byte("\r\n")) {
		return msg
	}
	return append(append([]byte{}, msg...), '\r', '\n')
}

func decode(s string) string {
	d := mime.WordDecoder{}
	if out, err := d.DecodeHeader(s); err == nil {
		return out
	}
	return s
}

func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, strings.TrimSpace(strings.Split(s, "(")[0])); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("no date")
}

// oneLine keeps header and report lines to one line: CR, LF and other
// controls become spaces, so no text from a message can add fields.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func orDash(s string) string {
	if s == "" {
		return "another system"
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
