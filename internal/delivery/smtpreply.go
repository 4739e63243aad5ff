package delivery

// SMTP replies as the client reads them: RFC 5321 section 4.2 (a code, and
// lines joined by "-" until the last, which has " "), with the enhanced
// status code of RFC 2034 and RFC 3463 when the text starts with one.

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/waypost/waypost/internal/mailtext"
)

// smtpReply is a reply of the server. It is also the error of a command
// whose reply is not the one it expects: a refusal, the connection still
// works (isReply).
type smtpReply struct {
	Code   int
	Status [3]int   // enhanced status code; zero when the reply has none
	Lines  []string // each line's text after the code and separator, as sent
}

// Limits of a reply: RFC 5321 section 4.5.3.1.5 allows 512 octets a line;
// go-smtp's client allowed 2000. A reply is as long as an EHLO list.
const (
	maxReplyLine  = 2000
	maxReplyLines = 1000
)

// Error is the reply as it came, its lines joined by spaces.
func (r *smtpReply) Error() string {
	return strconv.Itoa(r.Code) + " " + strings.Join(r.Lines, " ")
}

// Text is the reply's text as sent, lines joined by "\n": what a 250 to
// the final dot said, for Result.RemoteText.
func (r *smtpReply) Text() string {
	return strings.Join(r.Lines, "\n")
}

// Message is the reply's text without its enhanced status code: the first
// line's is removed, and so is the same code starting any later line (RFC
// 2034 section 4 repeats it on every line). Lines are joined by "\n".
func (r *smtpReply) Message() string {
	if r.Status[0] == 0 {
		return r.Text()
	}
	prefix, _, _ := strings.Cut(r.Lines[0], " ")
	out := make([]string, len(r.Lines))
	for i, l := range r.Lines {
		code, rest, _ := strings.Cut(l, " ")
		if i == 0 || code == prefix {
			l = rest
		}
		out[i] = l
	}
	return strings.Join(out, "\n")
}

// readReply reads one reply, of one line or many. A line that is not a
// reply line, a code that changes between lines or a reply over the limits
// is an error: the session cannot go on.
func readReply(br *bufio.Reader) (*smtpReply, error) {
	r := &smtpReply{}
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		code, last, text, ok := parseReplyLine(line)
		if !ok {
			return nil, fmt.Errorf("malformed reply line %q", mailtext.PrintableASCII(line, 80))
		}
		if len(r.Lines) > 0 && code != r.Code {
			return nil, fmt.Errorf("reply line %q in a reply of code %d", mailtext.PrintableASCII(line, 80), r.Code)
		}
		if len(r.Lines) == maxReplyLines {
			return nil, fmt.Errorf("a reply of more than %d lines", maxReplyLines)
		}
		r.Code = code
		r.Lines = append(r.Lines, text)
		if last {
			break
		}
	}
	r.Status = enhancedCode(r.Lines[0])
	return r, nil
}

// readLine reads a line up to CRLF (a bare LF is taken too) and returns it
// without its end.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		b = append(b, chunk...)
		if len(b) > maxReplyLine {
			return "", fmt.Errorf("a reply line longer than %d octets", maxReplyLine)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

// parseReplyLine splits "250-text", "250 text" or "250".
func parseReplyLine(line string) (code int, last bool, text string, ok bool) {
	if len(line) < 3 || line[0] < '2' || line[0] > '5' || !isDigit(line[1]) || !isDigit(line[2]) {
		return 0, false, "", false
	}
	code, _ = strconv.Atoi(line[:3])
	switch {
	case len(line) == 3:
		return code, true, "", true
	case line[3] == ' ':
		return code, true, line[4:], true
	case line[3] == '-':
		return code, false, line[4:], true
	}
	return 0, false, "", false
}

// enhancedCode reads the enhanced status code that starts text (RFC 3463
// section 2: class "." subject "." detail, class 2, 4 or 5, subject and
// detail of one to three digits), or returns zero.
func enhancedCode(text string) [3]int {
	word, _, _ := strings.Cut(text, " ")
	parts := strings.Split(word, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.Contains("245", parts[0]) {
		return [3]int{}
	}
	var out [3]int
	for i, p := range parts {
		if len(p) < 1 || len(p) > 3 {
			return [3]int{}
		}
		for j := 0; j < len(p); j++ {
			if !isDigit(p[j]) {
				return [3]int{}
			}
		}
		out[i], _ = strconv.Atoi(p)
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
