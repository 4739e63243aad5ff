package pickup

import (
	"bytes"
	"fmt"
	"net/mail"
	"strings"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/mailtext"
	"github.com/waypost/waypost/internal/status"
)

// File is a message read from a pickup folder: its envelope and the
// content to queue.
type File struct {
	From       string   // envelope sender, "" for the null sender
	Recipients []string // SMTP addresses (IMCEA for other types), each once
	Content    []byte   // CRLF line ends; envelope lines and Bcc removed
	MessageID  string   // the Message-ID field, "" if none
	Hops       int      // Received fields in the header
}

// BadFile says why a pickup file cannot be taken: the text of its .reason
// file beside it in badmail/.
type BadFile struct {
	Status string // enhanced status code, e.g. "5.1.3"
	Reason string // what is wrong
	Fix    string // what to do
}

func (b *BadFile) Error() string { return b.Status + " " + b.Reason + " (fix: " + b.Fix + ")" }

func badPickup(status, fix, format string, args ...any) *BadFile {
	return &BadFile{Status: status, Reason: fmt.Sprintf(format, args...), Fix: fix}
}

// Parse reads a file from a pickup folder, as Exchange's Replay and
// Pickup folders do. The envelope is given by X-Sender and X-Receiver
// lines at the top of the file (the form the drop agent writes; they are
// removed), or else taken from the header: Sender, or From, is the sender;
// To, Cc and Bcc are the recipients. Bcc fields are removed either way.
// Bare LF and CR line ends become CRLF. Every error is a *BadFile.
func Parse(data []byte) (*File, error) {
	data = crlf(data)
	p := &File{}
	var sender []string
	var receivers []string
	// The envelope lines: X-Sender and X-Receiver, before anything else.
envelope:
	for {
		line, rest, ok := bytes.Cut(data, []byte("\r\n"))
		if !ok {
			break
		}
		name, value, _ := strings.Cut(string(line), ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "x-sender":
			sender = append(sender, value)
		case "x-receiver":
			receivers = append(receivers, value)
		default:
			break envelope
		}
		data = rest
	}
	fields, body := splitHeader(data)
	if len(sender)+len(receivers) > 0 {
		if len(sender) != 1 {
			return nil, badPickup(status.BadSenderSyntax, "write exactly one X-Sender: <address> line (X-Sender: <> for the null sender) before the X-Receiver lines",
				"the envelope has %d X-Sender lines", len(sender))
		}
		from, err := envelopeAddress(sender[0], true)
		if err != nil {
			return nil, badPickup(status.BadSenderSyntax, "write X-Sender: <user@domain>, or X-Sender: <> for the null sender", "X-Sender %q: %v", strings.TrimSpace(sender[0]), err)
		}
		p.From = from
		for _, v := range receivers {
			to, err := envelopeAddress(v, false)
			if err != nil {
				return nil, badPickup(status.BadMailboxSyntax, "write X-Receiver: <user@domain>, one recipient a line", "X-Receiver %q: %v", strings.TrimSpace(v), err)
			}
			p.addRecipient(to)
		}
	} else {
		from := fieldValue(fields, "Sender")
		what := "Sender"
		if from == "" {
			from, what = fieldValue(fields, "From"), "From"
		}
		if from == "" {
			return nil, badPickup(status.BadSenderSyntax, "add a From: field, or X-Sender and X-Receiver lines at the top of the file", "the message has no sender: no X-Sender line, no Sender or From field")
		}
		a, err := mail.ParseAddress(from)
		if err != nil {
			return nil, badPickup(status.BadSenderSyntax, "write one address in the "+what+" field, e.g. "+what+": Fax Gateway <fax@example.com>", "%s field %q: %v", what, logLine(from), err)
		}
		_, addr, err := address.ParseSMTP(a.Address)
		if err != nil {
			return nil, badPickup(status.BadSenderSyntax, "correct the "+what+" address", "%s address %q: %v", what, a.Address, err)
		}
		p.From = addr
		for _, name := range []string{"To", "Cc", "Bcc"} {
			for _, v := range fieldValues(fields, name) {
				if strings.TrimSpace(v) == "" {
					continue
				}
				list, err := mail.ParseAddressList(v)
				if err != nil {
					return nil, badPickup(status.BadMailboxSyntax, "correct the "+name+" field", "%s field %q: %v", name, logLine(v), err)
				}
				for _, a := range list {
					_, addr, err := address.ParseSMTP(a.Address)
					if err != nil {
						return nil, badPickup(status.BadMailboxSyntax, "correct the address in the "+name+" field", "%s address %q: %v", name, a.Address, err)
					}
					p.addRecipient(addr)
				}
			}
		}
	}
	if len(p.Recipients) == 0 {
		return nil, badPickup(status.BadMailboxSyntax, "add X-Receiver: <user@domain> lines at the top, or To, Cc or Bcc fields", "the message has no recipients")
	}
	var out bytes.Buffer
	for _, f := range fields {
		switch {
		case strings.EqualFold(f.name, "Bcc"):
			continue
		case strings.EqualFold(f.name, "Received"):
			p.Hops++
		case strings.EqualFold(f.name, "Message-ID") && p.MessageID == "":
			p.MessageID = strings.TrimSpace(unfold(f.raw[len(f.name)+1:]))
		}
		out.Write(f.raw)
	}
	out.Write(body)
	p.Content = out.Bytes()
	return p, nil
}

func (p *File) addRecipient(addr string) {
	for _, r := range p.Recipients {
		if strings.EqualFold(r, addr) {
			return
		}
	}
	p.Recipients = append(p.Recipients, addr)
}

// envelopeAddress reads the value of an X-Sender or X-Receiver line:
// "<address>" or a bare address, then optional ESMTP parameters, which are
// ignored. null allows "<>".
func envelopeAddress(v string, null bool) (string, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "<") {
		end := strings.IndexByte(v, '>')
		if end < 0 {
			return "", fmt.Errorf("no closing >")
		}
		v = v[:end+1]
	} else if i := strings.IndexAny(v, " \t"); i >= 0 {
		v = v[:i]
	}
	if v == "<>" {
		if null {
			return "", nil
		}
		return "", fmt.Errorf("a recipient cannot be empty")
	}
	if v == "" {
		return "", fmt.Errorf("no address")
	}
	_, addr, err := address.ParseSMTP(v)
	return addr, err
}

// headerField is one header field as written: raw holds its lines with their
// CRLFs, continuation lines included.
type headerField struct {
	name string
	raw  []byte
}

// splitHeader splits a message with CRLF line ends into its header fields
// and the rest (the empty line and the body). A line that is neither a
// field nor a continuation ends the header, as it would for a reader that
// takes it for the body.
func splitHeader(data []byte) ([]headerField, []byte) {
	var fields []headerField
	for len(data) > 0 {
		line, _, ok := bytes.Cut(data, []byte("\r\n"))
		n := len(line) + 2
		if !ok {
			n = len(line)
		}
		switch {
		case len(line) == 0:
			return fields, data
		case (line[0] == ' ' || line[0] == '\t') && len(fields) > 0:
			f := &fields[len(fields)-1]
			f.raw = append(f.raw, data[:n]...)
		default:
			name, _, ok := bytes.Cut(line, []byte(":"))
			if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
				return fields, data
			}
			fields = append(fields, headerField{name: string(name), raw: append([]byte(nil), data[:n]...)})
		}
		data = data[n:]
	}
	return fields, data
}

// fieldValue is the unfolded value of the first field named name.
func fieldValue(fields []headerField, name string) string {
	if v := fieldValues(fields, name); len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

func fieldValues(fields []headerField, name string) []string {
	var out []string
	for _, f := range fields {
		if strings.EqualFold(f.name, name) {
			out = append(out, unfold(f.raw[len(f.name)+1:]))
		}
	}
	return out
}

func unfold(b []byte) string {
	return strings.TrimSpace(strings.NewReplacer("\r\n ", " ", "\r\n\t", " ", "\r\n", "").Replace(string(b)))
}

// crlf makes every line end CRLF: bare LF (a file written on Unix) and
// bare CR alike.
func crlf(data []byte) []byte {
	if !bytes.ContainsAny(data, "\r\n") {
		return data
	}
	out := make([]byte, 0, len(data)+len(data)/32)
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			out = append(out, '\r', '\n')
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}

// logLine keeps text from a file on one line of a log or reason file.
func logLine(s string) string {
	s = mailtext.OneLine(s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
