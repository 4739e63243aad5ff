package client

import (
	"bytes"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/mailtext"
)

// Draft is a message the user writes.
type Draft struct {
	To, Cc, Bcc []string // recipients as written
	Subject     string
	Body        string
}

// envelope is the SMTP address a recipient is submitted to: its SMTP
// address, or for another type its IMCEA encapsulation at the user's
// domain, which the hub decapsulates (an authoritative accepted domain).
func envelope(r Recipient, domain string) string {
	if r.Type == "SMTP" {
		return r.Address
	}
	return address.EncodeIMCEA(r.Type, r.Address, domain)
}

// headerAddress is how a recipient appears in To or Cc: its name and the
// address it is submitted to.
func headerAddress(r Recipient, domain string) string {
	name := r.Name
	if name == "" && r.Type != "SMTP" {
		name = address.FormatOneOff(address.Address{Type: r.Type, Value: r.Address})
	}
	return (&mail.Address{Name: name, Address: envelope(r, domain)}).String()
}

// compose writes the RFC 5322 message: CRLF line ends, the subject and
// names encoded (RFC 2047) when not ASCII, the body plain text in UTF-8,
// quoted-printable when it is not short ASCII lines.
func compose(from mail.Address, rcpts []Recipient, d Draft, domain string, date time.Time) ([]byte, string) {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	id := "<" + mailtext.RandomHex(12) + "." + date.UTC().Format("20060102150405") + "@" + domain + ">"
	h("From", from.String())
	for _, field := range []string{"to", "cc"} {
		var list []string
		for _, r := range rcpts {
			if r.Field == field {
				list = append(list, headerAddress(r, domain))
			}
		}
		if len(list) > 0 {
			h(strings.ToUpper(field[:1])+field[1:], strings.Join(list, ",\r\n "))
		}
	}
	h("Subject", mime.QEncoding.Encode("utf-8", mailtext.OneLine(d.Subject)))
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", id)
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	body := strings.ReplaceAll(strings.ReplaceAll(d.Body, "\r\n", "\n"), "\r", "\n")
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	if plain(body) {
		h("Content-Transfer-Encoding", "7bit")
		b.WriteString("\r\n")
		b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
		return b.Bytes(), id
	}
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	qp.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes(), id
}

// plain reports whether text can travel as 7bit: ASCII without controls
// other than tab, and lines under 900 bytes.
func plain(text string) bool {
	for _, line := range strings.Split(text, "\n") {
		if len(line) > 900 {
			return false
		}
		for i := 0; i < len(line); i++ {
			if c := line[i]; c >= 0x7f || c < 0x20 && c != '\t' {
				return false
			}
		}
	}
	return utf8.ValidString(text)
}
