package report

import (
	"bytes"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/xtext"
)

// This file reads the body of a message/delivery-status part (RFC 3464
// section 2.1): per-message fields, then one group of fields per recipient,
// each group after a blank line. message/global-delivery-status (RFC 6533
// section 4.1) has the same syntax with UTF-8 allowed, and is read the same.

// MessageFields are the per-message fields (RFC 3464 section 2.2).
type MessageFields struct {
	OriginalEnvelopeID string    // as written; "" if absent
	ReportingMTA       MTA       // required
	DSNGateway         MTA       // zero if absent
	ReceivedFromMTA    MTA       // zero if absent
	ArrivalDate        time.Time // zero if absent
	Extensions         []Field   // other fields, in order
	Line               int       // line of the first field
}

// RecipientFields are the fields about one recipient (RFC 3464 section 2.3).
type RecipientFields struct {
	OriginalRecipient Address // zero if absent
	FinalRecipient    Address // required
	Action            string  // required; lower case: failed, delayed, delivered, relayed or expanded
	Status            string  // required; e.g. "5.1.1"
	StatusComment     string  // the comment after the status code, "" if none
	RemoteMTA         MTA
	DiagnosticCode    Diagnostic
	LastAttemptDate   time.Time
	FinalLogID        string
	WillRetryUntil    time.Time
	Extensions        []Field // other fields, in order (Localized-Diagnostic, X-...)
	Line              int     // line of the group's first field
}

// Field is a field the parser keeps as it is: name as written, value
// unfolded, with the white space around it removed.
type Field struct {
	Name, Value string
	Line        int
}

// MTA is an "mta-name-type; mta-name" value: Reporting-MTA, DSN-Gateway,
// Received-From-MTA, Remote-MTA.
type MTA struct {
	Type    string // lower case, e.g. "dns"
	Name    string // without comments
	Comment string // text of the comments, e.g. the client's IP address (section 2.2.4)
}

// Address is an "address-type;generic-address" value: Original-Recipient
// and Final-Recipient.
type Address struct {
	Type string // lower case, e.g. "rfc822", "x400", "utf-8", "fax"
	Raw  string // the address as written
	// Value is the address decoded: a utf-8 address's \x{HEX} escapes
	// (RFC 6533 section 3) become characters, and an Original-Recipient
	// written as RFC 3461 xtext (an ORCPT copied as it was received) is
	// decoded when it is valid xtext with at least one +HH escape.
	Value string
}

// Diagnostic is a Diagnostic-Code: "diagnostic-type; text".
type Diagnostic struct {
	Type string // lower case, e.g. "smtp"
	Text string // as written, comments included (they are part of a reply)
}

// SyntaxError is a fault in the body of a status part. Line counts from 1
// at the first line of the body.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func errorf(line int, format string, args ...any) error {
	return &SyntaxError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// The fields RFC 3464 defines, by lower-case name.
var (
	messageNames = map[string]bool{"original-envelope-id": true, "reporting-mta": true, "dsn-gateway": true,
		"received-from-mta": true, "arrival-date": true}
	recipientNames = map[string]bool{"original-recipient": true, "final-recipient": true, "action": true,
		"status": true, "remote-mta": true, "diagnostic-code": true, "last-attempt-date": true,
		"final-log-id": true, "will-retry-until": true}
)

// ParseStatus reads the body of a message/delivery-status or
// message/global-delivery-status part. Line ends may be CRLF or LF; a
// line of only white space separates groups like an empty one. The
// fields of a group may come in any order; each defined field at most
// once per group. Errors are *SyntaxError.
func ParseStatus(body []byte) (MessageFields, []RecipientFields, error) {
	groups, err := splitGroups(body)
	if err != nil {
		return MessageFields{}, nil, err
	}
	if len(groups) == 0 {
		return MessageFields{}, nil, errorf(1, "no fields: a delivery-status part starts with Reporting-MTA and has one group of fields per recipient")
	}
	m, err := messageFields(groups[0])
	if err != nil {
		return MessageFields{}, nil, err
	}
	if len(groups) == 1 {
		return MessageFields{}, nil, errorf(groups[0].last(), "no recipient fields follow the per-message fields: after a blank line, each recipient needs Final-Recipient, Action and Status (RFC 3464 section 2.3)")
	}
	rs := make([]RecipientFields, 0, len(groups)-1)
	for _, g := range groups[1:] {
		r, err := recipientFields(g)
		if err != nil {
			return MessageFields{}, nil, err
		}
		rs = append(rs, r)
	}
	return m, rs, nil
}

type rawField struct {
	name, value string
	line        int
	more        []string // continuation lines, joined into value at the end
}

type group []rawField

func (g group) last() int { return g[len(g)-1].line }

// splitGroups splits a body into groups of unfolded fields.
func splitGroups(body []byte) ([]group, error) {
	var groups []group
	open := false // a group is being read
	for n := 1; len(body) > 0; n++ {
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		l = bytes.TrimSuffix(l, []byte("\r"))
		if bytes.IndexByte(l, '\r') >= 0 {
			return nil, errorf(n, "a carriage return without a line feed")
		}
		if len(bytes.Trim(l, " \t")) == 0 {
			open = false
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			if !open {
				return nil, errorf(n, "a continuation line (it starts with white space) with no field before it: %q", clip(l))
			}
			g := groups[len(groups)-1]
			g[len(g)-1].more = append(g[len(g)-1].more, string(l))
			continue
		}
		colon := bytes.IndexByte(l, ':')
		if colon < 0 {
			return nil, errorf(n, "%q is not a field: a field is a name, a colon and a value", clip(l))
		}
		name := strings.TrimRight(string(l[:colon]), " \t")
		if !isFieldName(name) {
			return nil, errorf(n, "%q is not a field name: it may hold printable ASCII but no space or colon", clip([]byte(name)))
		}
		if !open {
			groups = append(groups, nil)
			open = true
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], rawField{name: name, value: string(l[colon+1:]), line: n})
	}
	for _, g := range groups {
		for i := range g {
			// Unfolding removes only the line breaks (RFC 5322 section 2.2.3).
			g[i].value = strings.Trim(g[i].value+strings.Join(g[i].more, ""), " \t")
			g[i].more = nil
		}
	}
	return groups, nil
}

func isFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// clip shortens text quoted in an error.
func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}

// seenOnce reports a second instance of a field RFC 3464 defines.
func seenOnce(seen map[string]int, key string, f rawField) error {
	if first, ok := seen[key]; ok {
		return errorf(f.line, "a second %s field (the first is on line %d)", f.name, first)
	}
	seen[key] = f.line
	return nil
}

func messageFields(g group) (MessageFields, error) {
	m := MessageFields{Line: g[0].line}
	seen := map[string]int{}
	for _, f := range g {
		key := strings.ToLower(f.name)
		if recipientNames[key] {
			return m, errorf(f.line, "%s is a per-recipient field, but the per-message fields that begin on line %d have not ended: a blank line must come before each recipient's fields", f.name, m.Line)
		}
		if !messageNames[key] {
			m.Extensions = append(m.Extensions, Field{f.name, f.value, f.line})
			continue
		}
		if err := seenOnce(seen, key, f); err != nil {
			return m, err
		}
		var err error
		switch key {
		case "original-envelope-id":
			m.OriginalEnvelopeID = f.value
		case "reporting-mta":
			m.ReportingMTA, err = parseMTA(f)
		case "dsn-gateway":
			m.DSNGateway, err = parseMTA(f)
		case "received-from-mta":
			m.ReceivedFromMTA, err = parseMTA(f)
		case "arrival-date":
			m.ArrivalDate, err = parseDateField(f)
		}
		if err != nil {
			return m, err
		}
	}
	if m.ReportingMTA.Type == "" {
		return m, errorf(m.Line, "the per-message fields that begin here lack Reporting-MTA (RFC 3464 section 2.2.2 requires it, e.g. Reporting-MTA: dns; mail.example.com)")
	}
	return m, nil
}

func recipientFields(g group) (RecipientFields, error) {
	r := RecipientFields{Line: g[0].line}
	seen := map[string]int{}
	for _, f := range g {
		key := strings.ToLower(f.name)
		if messageNames[key] {
			return r, errorf(f.line, "%s is a per-message field, but it is among the fields of the recipient that begin on line %d", f.name, r.Line)
		}
		if !recipientNames[key] {
			r.Extensions = append(r.Extensions, Field{f.name, f.value, f.line})
			continue
		}
		if err := seenOnce(seen, key, f); err != nil {
			return r, err
		}
		var err error
		switch key {
		case "original-recipient":
			r.OriginalRecipient, err = parseAddress(f, true)
		case "final-recipient":
			r.FinalRecipient, err = parseAddress(f, false)
		case "action":
			r.Action, err = parseAction(f)
		case "status":
			r.Status, r.StatusComment, err = parseStatusCode(f)
		case "remote-mta":
			r.RemoteMTA, err = parseMTA(f)
		case "diagnostic-code":
			r.DiagnosticCode, err = parseDiagnostic(f)
		case "last-attempt-date":
			r.LastAttemptDate, err = parseDateField(f)
		case "final-log-id":
			r.FinalLogID = f.value
		case "will-retry-until":
			r.WillRetryUntil, err = parseDateField(f)
		}
		if err != nil {
			return r, err
		}
	}
	for _, need := range []string{"final-recipient", "action", "status"} {
		if _, ok := seen[need]; !ok {
			return r, errorf(r.Line, "the fields of the recipient that begin here lack %s (RFC 3464 section 2.3 requires Final-Recipient, Action and Status)", canonical(need))
		}
	}
	return r, nil
}

func canonical(key string) string {
	return map[string]string{"final-recipient": "Final-Recipient", "action": "Action", "status": "Status"}[key]
}

// typed splits "type; rest" and checks the type, an atom with optional
// comments around it (RFC 3464 section 2.1.2).
func typed(f rawField, example string) (typ, rest string, err error) {
	t, rest, ok := strings.Cut(f.value, ";")
	if !ok {
		return "", "", errorf(f.line, "%s %q has no type: write it as type;value, e.g. %s: %s", f.name, clip([]byte(f.value)), f.name, example)
	}
	t, _, err = stripComments(t)
	if err != nil {
		return "", "", errorf(f.line, "%s: %v", f.name, err)
	}
	t = strings.Trim(t, " \t")
	if !isAtom(t) {
		return "", "", errorf(f.line, "%s: the type %q before the ';' is not a name like %s", f.name, clip([]byte(t)), strings.SplitN(example, ";", 2)[0])
	}
	return strings.ToLower(t), strings.Trim(rest, " \t"), nil
}

func parseMTA(f rawField) (MTA, error) {
	t, rest, err := typed(f, "dns; mail.example.com")
	if err != nil {
		return MTA{}, err
	}
	name, comment, err := stripComments(rest)
	if err != nil {
		return MTA{}, errorf(f.line, "%s: %v", f.name, err)
	}
	name = strings.Trim(name, " \t")
	if name == "" {
		return MTA{}, errorf(f.line, "%s has no name after the ';'", f.name)
	}
	return MTA{Type: t, Name: name, Comment: comment}, nil
}

func parseAddress(f rawField, original bool) (Address, error) {
	t, raw, err := typed(f, "rfc822;alice@example.com")
	if err != nil {
		return Address{}, err
	}
	if raw == "" {
		return Address{}, errorf(f.line, "%s has no address after the ';'", f.name)
	}
	a := Address{Type: t, Raw: raw, Value: raw}
	switch {
	case t == "utf-8":
		a.Value = xtext.DecodeUnitext(raw)
	case original:
		if v, ok := decodeXtext(raw); ok {
			a.Value = v
		}
	}
	return a, nil
}

func parseAction(f rawField) (string, error) {
	v, _, err := stripComments(f.value)
	if err != nil {
		return "", errorf(f.line, "Action: %v", err)
	}
	v = strings.ToLower(strings.Trim(v, " \t"))
	switch v {
	case "failed", "delayed", "delivered", "relayed", "expanded":
		return v, nil
	}
	return "", errorf(f.line, "Action %q is none of failed, delayed, delivered, relayed, expanded (RFC 3464 section 2.3.3)", clip([]byte(f.value)))
}

// parseStatusCode reads DIGIT "." 1*3DIGIT "." 1*3DIGIT, which a comment
// may follow (RFC 3464 section 2.3.4).
func parseStatusCode(f rawField) (code, comment string, err error) {
	code, comment, err = stripComments(f.value)
	if err != nil {
		return "", "", errorf(f.line, "Status: %v", err)
	}
	code = strings.Trim(code, " \t")
	if !IsStatusCode(code) {
		return "", "", errorf(f.line, "Status %q is not a status code: want three numbers such as 5.1.1 (RFC 3463)", clip([]byte(f.value)))
	}
	return code, comment, nil
}

// IsStatusCode reports whether s is an RFC 3463 status code as RFC 3464
// section 2.3.4 writes it: a digit, a dot, one to three digits, a dot, one
// to three digits.
func IsStatusCode(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 {
		return false
	}
	for _, p := range parts {
		if len(p) < 1 || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

func parseDiagnostic(f rawField) (Diagnostic, error) {
	t, text, err := typed(f, "smtp; 550 5.1.1 no such user")
	if err != nil {
		return Diagnostic{}, err
	}
	return Diagnostic{Type: t, Text: text}, nil
}

func parseDateField(f rawField) (time.Time, error) {
	v, _, err := stripComments(f.value)
	if err != nil {
		return time.Time{}, errorf(f.line, "%s: %v", f.name, err)
	}
	t, err := mail.ParseDate(strings.Join(strings.Fields(v), " "))
	if err != nil {
		return time.Time{}, errorf(f.line, "%s %q is not a date and time like Thu, 7 Jul 1994 17:15:49 -0400", f.name, clip([]byte(f.value)))
	}
	return t, nil
}

// isAtom reports whether s is an RFC 5322 atom: one or more atext.
func isAtom(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0) {
			return false
		}
	}
	return true
}

// stripComments removes the comments of a structured value (RFC 5322
// section 3.2.2: nested parentheses, backslash quoting; parentheses in a
// quoted string are not comments). Each comment becomes a space in rest;
// comment is their text, encoded-words decoded (RFC 3464 section 2.1.1).
func stripComments(s string) (rest, comment string, err error) {
	var out, com strings.Builder
	var comments []string
	depth := 0
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (depth > 0 || quoted) && i+1 < len(s):
			i++
			if depth > 0 {
				com.WriteByte(s[i])
			} else {
				out.WriteByte(c)
				out.WriteByte(s[i])
			}
		case quoted:
			out.WriteByte(c)
			if c == '"' {
				quoted = false
			}
		case c == '(':
			if depth > 0 {
				com.WriteByte(c)
			}
			depth++
		case c == ')':
			if depth == 0 {
				return "", "", fmt.Errorf("a ')' with no '(' before it")
			}
			depth--
			if depth > 0 {
				com.WriteByte(c)
			} else {
				comments = append(comments, strings.TrimSpace(com.String()))
				com.Reset()
				out.WriteByte(' ')
			}
		case depth > 0:
			com.WriteByte(c)
		default:
			if c == '"' {
				quoted = true
			}
			out.WriteByte(c)
		}
	}
	if depth > 0 {
		return "", "", fmt.Errorf("a comment that is not closed: '(' with no ')'")
	}
	comment = strings.Join(comments, " ")
	if strings.Contains(comment, "=?") {
		if d, err := new(mime.WordDecoder).DecodeHeader(comment); err == nil {
			comment = d
		}
	}
	return out.String(), comment, nil
}
