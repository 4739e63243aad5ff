package report

import (
	"bytes"
	"net"
	"strings"
	"unicode/utf8"

	"github.com/waypost/waypost/internal/mailtext"
	"github.com/waypost/waypost/internal/status"
	"github.com/waypost/waypost/internal/xtext"
)

// This file holds what the writer needs to keep its status fields within
// the RFCs: folding (RFC 5322 section 2.1.1: no line over 998 characters),
// status codes (RFC 3464 section 2.3.4), MTA names (RFC 3461 section 9.3)
// and the encodings of recipient addresses (RFC 3461 section 4, RFC 6533
// section 3).

// field writes "Name: value" folded at white space so that lines stay
// near 78 characters and never pass 998. A run of more than 900
// characters without white space is broken anyway, which adds a space
// to the value when it is unfolded.
func field(b *bytes.Buffer, name, value string) {
	b.WriteString(name + ":")
	fold(b, len(name)+1, " "+strings.TrimSpace(mailtext.OneLine(value)))
	b.WriteString("\r\n")
}

// fold writes s, which starts with white space, on a line already n
// bytes long, breaking before white space.
func fold(b *bytes.Buffer, n int, s string) {
	const soft, hard = 78, 900
	for n+len(s) > soft {
		at := -1
		for i := 1; i < len(s) && n+i <= soft; i++ {
			if isWSP(s[i]) && !isWSP(s[i-1]) {
				at = i
			}
		}
		if at < 0 {
			for i := 1; i < len(s) && n+i <= hard; i++ {
				if isWSP(s[i]) && !isWSP(s[i-1]) {
					at = i
					break
				}
			}
		}
		if at < 0 {
			if n+len(s) <= hard {
				break
			}
			cut := max(hard-n, 1)
			for cut > 1 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			b.WriteString(s[:cut] + "\r\n")
			s, n = " "+s[cut:], 0
			continue
		}
		b.WriteString(s[:at] + "\r\n")
		s, n = s[at:], 0
	}
	b.WriteString(s)
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// statusCode is rc's status code if it is one, else the generic code
// for the kind of report (RFC 3461 section 6.3 (g): 4.0.0 or 5.0.0 when
// nothing more precise is known).
func statusCode(r Report, code string) string {
	if IsStatusCode(code) {
		return code
	}
	switch {
	case r.Success:
		return status.OK
	case r.Delay || strings.HasPrefix(code, "4"):
		return status.TransientOther
	}
	return status.PermanentOther
}

// remoteMTA is the Remote-MTA value for the host a delivery agent named:
// a host name or IP address (with its port as a comment) is of type
// "dns", an IP address written as an address literal (RFC 3461 section
// 9.3, RFC 5321 section 4.1.3); anything else, such as the program a pipe
// connector runs, is of the experimental type "x-program".
func remoteMTA(host string) string {
	h, comment := host, ""
	if hh, port, err := net.SplitHostPort(host); err == nil {
		h, comment = hh, " (port "+port+")"
	}
	if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
		if ip.To4() != nil {
			return "dns; [" + ip.String() + "]" + comment
		}
		return "dns; [IPv6:" + ip.String() + "]" + comment
	}
	if isHostName(h) {
		return "dns; " + h + comment
	}
	return "x-program; " + host
}

// isHostName accepts a domain name of two or more labels (U-labels too:
// they can only be in a global status part), or localhost.
func isHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if strings.EqualFold(s, "localhost") {
		return true
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 || len(s) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80) {
				return false
			}
		}
	}
	return true
}

// addressField writes "type;address" for a Final-Recipient or
// Original-Recipient field. A utf-8 address is the utf-8-address form in
// a global status part and utf-8-addr-xtext otherwise (RFC 6533 section
// 3). Other addresses are written as they are, except that an
// Original-Recipient that would read as xtext (bob+41@x) is written as
// xtext, so that a reader that decodes xtext gets the address back.
func addressField(typ, addr string, original, global bool) string {
	switch {
	case strings.EqualFold(typ, "utf-8"):
		addr = encodeUnitext(addr, global)
	case original:
		if _, ok := decodeXtext(addr); ok {
			addr = xtext.Encode(addr)
		}
	}
	return strings.ToLower(typ) + ";" + addr
}

// encodeUnitext writes \x{HEX} for a backslash, and outside a global
// status part for every character utf-8-addr-xtext does not allow (RFC
// 6533 section 3: controls, space, "+", "=" and all of non-ASCII).
func encodeUnitext(s string, global bool) string {
	if !global {
		return xtext.EncodeUTF8Addr(s)
	}
	return strings.ReplaceAll(s, `\`, `\x{5C}`)
}

// isASCII reports whether b holds no byte above 0x7f.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
