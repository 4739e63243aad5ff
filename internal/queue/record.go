package queue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strconv"
)

// recordFormat is the version of the metadata record written by this code.
const recordFormat = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is the metadata file: the Message, then its end record.
type record struct {
	Format  int             `json:"format"`
	Message json.RawMessage `json:"message"`
	End     string          `json:"end"`
}

// encodeRecord returns the metadata file of m. The wrapper is written by
// hand so that the checksummed bytes are exactly those in the file.
func encodeRecord(m *Message) ([]byte, error) {
	var enc bytes.Buffer
	e := json.NewEncoder(&enc)
	e.SetEscapeHTML(false) // "Bob <bob@x>" stays readable
	e.SetIndent("", "  ")
	if err := e.Encode(m); err != nil {
		return nil, fmt.Errorf("queue: encoding metadata of %s: %w", m.ID, err)
	}
	body := bytes.TrimSuffix(enc.Bytes(), []byte("\n"))
	var b bytes.Buffer
	b.Grow(len(body) + 64)
	b.WriteString(`{"format": ` + strconv.Itoa(recordFormat) + ",\n\"message\": ")
	b.Write(body)
	b.WriteString(",\n\"end\": \"" + endMark(body) + "\"}\n")
	return b.Bytes(), nil
}

func endMark(body []byte) string {
	return fmt.Sprintf("crc32c:%08x", crc32.Checksum(body, castagnoli))
}

// decodeRecord parses the metadata file at path (for messages) holding
// data, which must be the record of message id.
func decodeRecord(path, id string, data []byte) (*Message, error) {
	if len(data) == 0 {
		return nil, corruptErr(path, "empty file")
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, corruptErr(path, "not JSON (torn write?): %v", err)
	}
	if r.Format != recordFormat {
		return nil, corruptErr(path, "format %d, this version reads format %d", r.Format, recordFormat)
	}
	if r.End == "" {
		return nil, corruptErr(path, "no end record (torn write?)")
	}
	if want := endMark(r.Message); r.End != want {
		return nil, corruptErr(path, "end record %q does not match the message's checksum %q", r.End, want)
	}
	m := new(Message)
	if err := json.Unmarshal(r.Message, m); err != nil {
		return nil, corruptErr(path, "message: %v", err)
	}
	if m.ID != id {
		return nil, corruptErr(path, "record is of message %q", m.ID)
	}
	if len(m.Recipients) == 0 {
		return nil, corruptErr(path, "no recipients")
	}
	if m.Size < 0 {
		return nil, corruptErr(path, "a size of %d bytes", m.Size)
	}
	return m, nil
}

// The queue file msg/ID is the content, then the message's first record,
// then a trailer line of fixed length that gives the record's length:
//
//	waypost-queue-record 0000000517\n
//
// then, for each later change of the record while they fit (append.go),
// the new record and a trailer line of the other kind:
//
//	waypost-queue-update 0000000498\n
//
// The content is the first Size bytes, so it is read without parsing
// anything; the last record is found from the end of the file.
const (
	trailerPrefix = "waypost-queue-record " // after the record Add wrote
	updatePrefix  = "waypost-queue-update " // after an appended record; as long
	trailerLen    = len(trailerPrefix) + 10 + 1
)

// trailer returns the trailer line for a first record of n bytes.
func trailer(n int) []byte { return trailerOf(trailerPrefix, n) }

// updateTrailer returns the trailer line for an appended record of n
// bytes.
func updateTrailer(n int) []byte { return trailerOf(updatePrefix, n) }

func trailerOf(prefix string, n int) []byte {
	return fmt.Appendf(nil, "%s%010d\n", prefix, n)
}

// parseTrailer returns the record length a trailer line gives and whether
// it follows the first record (else an appended one), and false if b is
// not a trailer line.
func parseTrailer(b []byte) (n int64, first, ok bool) {
	if len(b) != trailerLen || b[len(b)-1] != '\n' {
		return 0, false, false
	}
	digits, first := bytes.CutPrefix(b, []byte(trailerPrefix))
	if !first {
		if digits, ok = bytes.CutPrefix(b, []byte(updatePrefix)); !ok {
			return 0, false, false
		}
	}
	for _, c := range digits[:len(digits)-1] {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	n, err := strconv.ParseInt(string(digits[:len(digits)-1]), 10, 64)
	return n, first, err == nil && n > 0
}
