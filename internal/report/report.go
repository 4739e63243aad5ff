// Package report writes delivery status notifications: the non-delivery
// report a person reads and a program parses (RFC 3464 inside an RFC 6522
// multipart/report), laid out like Exchange's (exchange-semantics.md
// section 5.1): what happened in plain words, then a section for
// administrators with the generating server and, per recipient, the
// enhanced status code (RFC 3463), the remote server and its exact reply.
// Reports whose fields need UTF-8 use the RFC 6533 global types. Parse
// reads such reports back (its own and other servers'): the
// multipart/report, the RFC 3464 section 2 fields, the returned message.
package report

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/mailtext"
	"github.com/waypost/waypost/internal/status"
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

// NDR writes the report for a message whose content is original, as
// Write does, and returns it whole: for callers whose original is small
// and already in memory (the cached-mode client's outbox).
func NDR(r Report, original io.Reader) ([]byte, error) {
	orig, err := io.ReadAll(original)
	if err != nil {
		return nil, fmt.Errorf("reading the original message: %w", err)
	}
	var b bytes.Buffer
	if err := Write(&b, r, bytes.NewReader(orig)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// maxReturnedHeader bounds the header returned in a report: far above
// any header a receive connector accepts (100 KiB by default, Postfix's
// header_size_limit), so only a message that never passed one is cut.
const maxReturnedHeader = 1 << 20

// Write writes to w the report for a message whose content is original:
// a non-delivery report, or with Delay set a delay notification. The
// result is a complete RFC 5322 message; its envelope sender must be the
// null reverse path. The original is streamed, never held whole: only its
// header is read into memory, and when the whole message is returned
// (RET=FULL) it is read twice, once to learn whether it is 8-bit and
// once to copy it (a 50 MB bounce costs no 50 MB of memory).
func Write(w io.Writer, r Report, original io.ReadSeeker) error {
	head, err := readHeader(original)
	if err != nil {
		return fmt.Errorf("reading the original message: %w", err)
	}
	rcpts := make([]Recipient, len(r.Recipients))
	for i, rc := range r.Recipients {
		rc.Status = statusCode(r, rc.Status)
		rcpts[i] = rc
	}
	r.Recipients = rcpts
	// RET=FULL asks for the whole message in reports of failure only
	// (RFC 3461 sections 4.3 and 6.2); the others return its header.
	full := strings.EqualFold(r.Ret, "FULL") && !r.Delay && !r.Success
	hdr, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(append([]byte{}, head...), '\r', '\n')))).ReadMIMEHeader()
	subject := decode(hdr.Get("Subject"))
	sent := r.Arrival
	if d, err := parseDate(hdr.Get("Date")); err == nil {
		sent = d
	}
	boundary := "waypost-" + mailtext.RandomHex(12)
	var b bytes.Buffer
	f := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	f("From: Mail Delivery System <%s>\r\n", r.Postmaster)
	f("To: <%s>\r\n", r.To)
	prefix := "Undeliverable: "
	switch {
	case r.Delay:
		prefix = "Delivery delayed: "
	case r.Success:
		prefix = "Delivered: "
	}
	b.WriteString("Subject:")
	fold(&b, len("Subject:"), " "+mime.QEncoding.Encode("utf-8", prefix+subject))
	b.WriteString("\r\n")
	f("Date: %s\r\n", r.Date.Format(time.RFC1123Z))
	f("Message-ID: <%s@%s>\r\n", mailtext.RandomHex(16), r.ReportingMTA)
	if id := hdr.Get("Message-Id"); id != "" {
		f("In-Reply-To: %s\r\nReferences: %s\r\n", id, id)
	}
	f("Auto-Submitted: auto-replied\r\n")
	f("MIME-Version: 1.0\r\n")
	f("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n", boundary)
	f("This is a delivery status notification in MIME format.\r\n\r\n")

	f("--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n", boundary)
	human(&b, r, subject, sent, full)

	// Status fields that need more than ASCII (an SMTPUTF8 address, a
	// utf-8 ORCPT) make it a message/global-delivery-status (RFC 6533
	// section 4.1); the returned header likewise (section 4.3).
	var st bytes.Buffer
	deliveryStatus(&st, r, false)
	if !isASCII(st.Bytes()) {
		st.Reset()
		deliveryStatus(&st, r, true)
		f("\r\n--%s\r\nContent-Type: message/global-delivery-status\r\nContent-Transfer-Encoding: 8bit\r\n\r\n", boundary)
	} else {
		f("\r\n--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary)
	}
	b.Write(st.Bytes())

	typ, eight := "text/rfc822-headers", !isASCII(head)
	if full {
		typ = "message/rfc822"
		if eight, err = hasEightBit(original); err != nil {
			return fmt.Errorf("reading the original message: %w", err)
		}
	}
	if !isASCII(head) {
		typ = map[bool]string{true: "message/global", false: "message/global-headers"}[full]
	}
	f("\r\n--%s\r\nContent-Type: %s\r\n", boundary, typ)
	if eight {
		f("Content-Transfer-Encoding: 8bit\r\n")
	}
	f("\r\n")
	if !full {
		b.Write(head)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return err
	}
	b.Reset()
	if full {
		if err := copyOriginal(w, original); err != nil {
			return err
		}
	}
	f("\r\n--%s--\r\n", boundary)
	_, err = w.Write(b.Bytes())
	return err
}

// human writes the part for people.
func human(b *bytes.Buffer, r Report, subject string, sent time.Time, full bool) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	if r.Success {
		w("Your message has been delivered to the following recipients:\r\n\r\n")
		line(b, "      Subject: ", subject)
		w("      Sent:    %s\r\n\r\n", sent.Format("Monday, 2 January 2006 15:04 MST"))
		for _, rc := range r.Recipients {
			line(b, "  ", rc.Written)
			if rc.Action == "relayed" {
				w("      Handed on to %s, which sends no further notifications.\r\n", mailtext.OneLine(orDash(rc.RemoteHost)))
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
	line(b, "      Subject: ", subject)
	w("      Sent:    %s\r\n\r\n", sent.Format("Monday, 2 January 2006 15:04 MST"))
	if r.Delay {
		w("Delivery is delayed to these recipients:\r\n\r\n")
	} else {
		w("The following recipients could not be reached:\r\n\r\n")
	}
	for _, rc := range r.Recipients {
		line(b, "  ", rc.Written)
		switch {
		case rc.Reason != "":
			paragraph(b, "      ", rc.Reason)
		case !r.Delay:
			w("      %s\r\n", Explain(rc.Status, rc.Type))
		}
		w("\r\n")
	}
	w("Diagnostic information for administrators:\r\n\r\n")
	w("Generating server: %s\r\n\r\n", r.ReportingMTA)
	for _, rc := range r.Recipients {
		line(b, "", finalRecipient(rc, imceaDomain(r)))
		if rc.RemoteHost != "" {
			w("Remote server: %s\r\n", mailtext.OneLine(rc.RemoteHost))
		}
		w("Enhanced status code: %s\r\n", rc.Status)
		line(b, "#", diagnostic(rc)+" ##")
		w("\r\n")
	}
	if full {
		w("The original message is attached.\r\n")
	} else {
		w("Original message headers are attached.\r\n")
	}
}

// paragraph writes text word-wrapped near 78 characters, every line
// starting with indent.
func paragraph(b *bytes.Buffer, indent, text string) {
	cur := ""
	for _, word := range strings.Fields(mailtext.OneLine(text)) {
		if cur != "" && len(indent)+len(cur)+1+len(word) > 78 {
			line(b, indent, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += word
	}
	if cur != "" {
		line(b, indent, cur)
	}
}

// line writes one line of the part for people, folded like a field so
// that no text from elsewhere makes it longer than RFC 5322 allows.
func line(b *bytes.Buffer, prefix, text string) {
	b.WriteString(prefix)
	fold(b, len(prefix), mailtext.OneLine(text))
	b.WriteString("\r\n")
}

// deliveryStatus writes the body of the message/delivery-status part (RFC 3464
// section 2), or with global set of a message/global-delivery-status part
// (RFC 6533 section 4.1). Each field is folded to stay within RFC 5322's
// line length.
func deliveryStatus(b *bytes.Buffer, r Report, global bool) {
	field(b, "Reporting-MTA", "dns; "+r.ReportingMTA)
	if r.EnvID != "" {
		field(b, "Original-Envelope-Id", r.EnvID)
	}
	field(b, "Arrival-Date", r.Arrival.Format(time.RFC1123Z))
	for _, rc := range r.Recipients {
		b.WriteString("\r\n")
		if typ, addr, ok := strings.Cut(rc.ORCPT, ";"); ok {
			field(b, "Original-Recipient", addressField(typ, addr, true, global))
		} else if rc.ORCPT != "" {
			field(b, "Original-Recipient", "unknown;"+rc.ORCPT) // RFC 3464 section 2.3.1
		}
		typ, addr, _ := strings.Cut(finalRecipient(rc, imceaDomain(r)), ";")
		field(b, "Final-Recipient", addressField(typ, addr, false, global))
		switch {
		case r.Delay:
			field(b, "Action", "delayed")
		case r.Success:
			field(b, "Action", orDefault(rc.Action, "delivered"))
		default:
			field(b, "Action", "failed")
		}
		field(b, "Status", rc.Status)
		if rc.RemoteHost != "" {
			field(b, "Remote-MTA", remoteMTA(mailtext.OneLine(rc.RemoteHost)))
		}
		if !r.Success || rc.RemoteText != "" {
			field(b, "Diagnostic-Code", "smtp; "+diagnostic(rc))
		}
		if !rc.LastAttempt.IsZero() {
			field(b, "Last-Attempt-Date", rc.LastAttempt.Format(time.RFC1123Z))
		}
		if r.Delay && !r.WillRetryUntil.IsZero() {
			field(b, "Will-Retry-Until", r.WillRetryUntil.Format(time.RFC1123Z))
		}
	}
}

// finalRecipient is the Final-Recipient value: "rfc822;" for SMTP
// ("utf-8;" for an SMTPUTF8 address, RFC 6533 section 3), and for every
// other address type what Exchange writes, the recipient's SMTP address
// ([MS-OXCMAIL] section 2.1.3.6.1): "rfc822;" with the address
// encapsulated in IMCEA at the organization's default domain
// (docs/design/exchange-semantics.md sections 3.1 and 5.6).
//
// Only rfc822, utf-8 and x400 are registered DSN address types (IANA "DSN
// Types", RFC 3464 section 2.1.2), and bounce parsers such as Sisimai and
// flufl.bounce read only the first two: "fax;+1 555 0100" is valid RFC 3464
// that they cannot use. X.400 goes the IMCEA way too: the x400 type means
// the RFC 2156 form, and Waypost holds X.400 addresses in RFC 1685 text.
// The address as the sender wrote it is in the part for people; an
// Original-Recipient is written only from the sender's ORCPT (RFC 3461
// section 6.3 (d)), as one made up here ("fax;+1 555 0100") would be read
// by flufl.bounce as a list of bogus addresses ("fax", "+1").
func finalRecipient(rc Recipient, domain string) string {
	if isSMTP(rc.Type) {
		if !isASCII([]byte(rc.Address)) {
			return "utf-8;" + rc.Address
		}
		return "rfc822;" + rc.Address
	}
	return "rfc822;" + address.EncodeIMCEA(rc.Type, rc.Address, domain)
}

func isSMTP(typ string) bool { return typ == "" || strings.EqualFold(typ, "SMTP") }

// imceaDomain is the domain non-SMTP addresses are encapsulated at: the
// organization's default domain, which is the postmaster's
// (docs/design/interfaces.md section 1, default_domain).
func imceaDomain(r Report) string {
	if _, d, ok := strings.Cut(r.Postmaster, "@"); ok && d != "" {
		return d
	}
	return r.ReportingMTA
}

// diagnostic is the SMTP-style reply for a recipient: the remote server's
// exact reply when there is one, else ours, "550 5.4.4 ROUTING...".
func diagnostic(rc Recipient) string {
	t := strings.TrimSpace(rc.RemoteText)
	if len(t) >= 3 && t[0] >= '2' && t[0] <= '5' && t[1] >= '0' && t[1] <= '9' && t[2] >= '0' && t[2] <= '9' {
		return t
	}
	code := status.ReplyMailboxUnavailable
	switch {
	case strings.HasPrefix(rc.Status, "4"):
		code = status.ReplyMailboxBusy
	case strings.HasPrefix(rc.Status, "2"):
		code = status.ReplyOK
	}
	if t == "" {
		t = "delivery failed"
	}
	return strconv.Itoa(code) + " " + rc.Status + " " + t
}

// readHeader reads the header section of the message in rd from its
// start, with its final CRLF (the whole message when it has no body,
// given a final CRLF if it lacks one), up to maxReturnedHeader bytes.
func readHeader(rd io.ReadSeeker) ([]byte, error) {
	if _, err := rd.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	br := bufio.NewReader(io.LimitReader(rd, maxReturnedHeader))
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if string(line) == "\r\n" {
				return head, nil // the blank line that ends the header
			}
			head = append(head, line...)
		}
		if err == bufio.ErrBufferFull {
			continue // a line longer than the buffer: read on
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if !bytes.HasSuffix(head, []byte("\r\n")) {
		head = append(head, '\r', '\n')
	}
	return head, nil
}

// hasEightBit reports whether the message in rd has an octet above 127,
// reading it through from its start.
func hasEightBit(rd io.ReadSeeker) (bool, error) {
	if _, err := rd.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := rd.Read(buf)
		if !isASCII(buf[:n]) {
			return true, nil
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// copyOriginal copies the message in rd to w from its start, ending it
// with a CRLF when it lacks one, so that the boundary after it starts a
// line (RFC 2046 section 5.1.1).
func copyOriginal(w io.Writer, rd io.ReadSeeker) error {
	if _, err := rd.Seek(0, io.SeekStart); err != nil {
		return err
	}
	t := &tail{w: w}
	if _, err := io.Copy(t, rd); err != nil {
		return err
	}
	if t.n < 2 || t.last != [2]byte{'\r', '\n'} {
		_, err := w.Write([]byte("\r\n"))
		return err
	}
	return nil
}

// tail passes writes on and keeps the last two bytes written.
type tail struct {
	w    io.Writer
	n    int64
	last [2]byte
}

func (t *tail) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	switch {
	case n >= 2:
		t.last = [2]byte{p[n-2], p[n-1]}
	case n == 1:
		t.last = [2]byte{t.last[1], p[0]}
	}
	t.n += int64(n)
	return n, err
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
