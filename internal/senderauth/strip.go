package senderauth

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// StripForged returns msg without the Authentication-Results fields
// whose authserv-id is authServID: only this server may write them, so
// one that arrives with the message is a forgery (RFC 8601 section 5).
// The header section is held in memory (the receiver bounds it); the body
// streams.
func StripForged(msg io.Reader, authServID string) io.Reader {
	br := bufio.NewReaderSize(msg, 64<<10)
	var out, field bytes.Buffer // field: the field being read, with its continuation lines
	flush := func() {
		if !claims(unfold(field.String()), authServID) {
			out.Write(field.Bytes())
		}
		field.Reset()
	}
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			field.Write(line) // a line longer than the buffer goes on
			continue
		}
		if err != nil || string(line) == "\r\n" || string(line) == "\n" {
			if len(line) > 0 && line[0] != ' ' && line[0] != '\t' {
				flush()
			}
			field.Write(line)
			flush()
			if err != nil && err != io.EOF {
				return io.MultiReader(&out, errReader{err})
			}
			return io.MultiReader(&out, br)
		}
		if line[0] != ' ' && line[0] != '\t' {
			flush()
		}
		field.Write(line)
	}
}

func unfold(s string) string { return strings.NewReplacer("\r\n", "", "\n", "").Replace(s) }

// claims reports whether a header line starts an Authentication-Results
// field with this authserv-id (the first word of the value, RFC 8601
// section 2.2).
func claims(line, authServID string) bool {
	name, value, ok := strings.Cut(line, ":")
	if !ok || !strings.EqualFold(strings.TrimSpace(name), "Authentication-Results") {
		return false
	}
	id, _, _ := strings.Cut(value, ";")
	words := strings.Fields(id)
	return len(words) > 0 && strings.EqualFold(strings.TrimSuffix(words[0], "."), strings.TrimSuffix(authServID, "."))
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
