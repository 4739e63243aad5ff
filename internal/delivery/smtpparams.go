package delivery

// The MAIL and RCPT command lines of the SMTP agent, with their extension
// parameters: SIZE (RFC 1870), BODY=8BITMIME (RFC 6152), SMTPUTF8 (RFC
// 6531), and the DSN parameters RET, ENVID, NOTIFY and ORCPT (RFC 3461,
// RFC 6533 for utf-8 ORCPTs), each only when the server offers it.

import (
	"strconv"
	"strings"

	"github.com/waypost/waypost/internal/xtext"
)

// rcptParams are the DSN parameters of one recipient.
type rcptParams struct {
	notify    []string // valid NOTIFY values; nil: none
	orcptType string   // "RFC822" or "UTF-8"; "": no ORCPT
	orcpt     string
}

// rcptOptions are the DSN parameters of r, written only when the server
// offers DSN. An ORCPT of another type than rfc822 and utf-8 is left out
// (a hub relay passes it in a header line), and so is an rfc822 one that
// is not printable ASCII, and a NOTIFY that is not valid.
func rcptOptions(r Recipient) rcptParams {
	var o rcptParams
	if r.Notify != "" {
		o.notify = notifyList(r.Notify)
	}
	if typ, addr, ok := strings.Cut(r.ORCPT, ";"); ok {
		switch t := strings.ToUpper(typ); t {
		case "RFC822":
			if printable(addr) {
				o.orcptType, o.orcpt = t, addr
			}
		case "UTF-8":
			o.orcptType, o.orcpt = t, addr
		}
	}
	return o
}

// notifyList is a NOTIFY value as a list, or nil when it is not valid
// (RFC 3461 section 4.1: NEVER alone, or each of SUCCESS, FAILURE and
// DELAY at most once).
func notifyList(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		v := strings.ToUpper(strings.TrimSpace(n))
		switch v {
		case "NEVER", "SUCCESS", "FAILURE", "DELAY":
		default:
			return nil
		}
		if seen[v] {
			return nil
		}
		seen[v] = true
		out = append(out, v)
	}
	if seen["NEVER"] && len(out) > 1 {
		return nil
	}
	return out
}

// mailLine is the MAIL command for m: BODY=8BITMIME and SIZE when offered,
// SMTPUTF8 when utf8 (an address is not ASCII) and offered, and, when DSN
// is offered, RET and ENVID (xtext; an ENVID that is not printable ASCII
// is left out rather than failing the delivery).
func mailLine(c *client, m *Message, utf8 bool) string {
	var b strings.Builder
	b.WriteString("MAIL FROM:<" + m.From + ">")
	if c.has("8BITMIME") {
		b.WriteString(" BODY=8BITMIME")
	}
	if c.has("SIZE") && m.Size != 0 {
		b.WriteString(" SIZE=" + strconv.FormatInt(m.Size, 10))
	}
	if utf8 && c.has("SMTPUTF8") {
		b.WriteString(" SMTPUTF8")
	}
	if c.has("DSN") {
		if m.Ret == "FULL" || m.Ret == "HDRS" {
			b.WriteString(" RET=" + m.Ret)
		}
		if m.EnvID != "" && printable(m.EnvID) {
			b.WriteString(" ENVID=" + xtext.Encode(m.EnvID))
		}
	}
	return b.String()
}

// rcptLine is the RCPT command for the address to, with the DSN
// parameters o when the server offers DSN. A utf-8 ORCPT is written as
// utf-8-addr-unitext to a server that offers SMTPUTF8, else as
// utf-8-addr-xtext (RFC 6533 section 3).
func rcptLine(c *client, to string, o rcptParams) string {
	var b strings.Builder
	b.WriteString("RCPT TO:<" + to + ">")
	if !c.has("DSN") {
		return b.String()
	}
	if len(o.notify) > 0 {
		b.WriteString(" NOTIFY=" + strings.Join(o.notify, ","))
	}
	switch o.orcptType {
	case "RFC822":
		b.WriteString(" ORCPT=RFC822;" + xtext.Encode(o.orcpt))
	case "UTF-8":
		if c.has("SMTPUTF8") {
			b.WriteString(" ORCPT=UTF-8;" + xtext.EncodeUTF8Unitext(o.orcpt))
		} else {
			b.WriteString(" ORCPT=UTF-8;" + xtext.EncodeUTF8Addr(o.orcpt))
		}
	}
	return b.String()
}

// printable reports whether s is printable ASCII, as xtext needs.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ascii reports whether s is all ASCII.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
