package tracking

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// appendEvent appends e as one JSON line, byte for byte what
// encoding/json's Encoder with SetEscapeHTML(false) writes for it (the
// field order of Event, empty fields left out), without its reflection
// and allocations: a hub writes one or two lines per message.
func appendEvent(b []byte, e *Event) []byte {
	if y := e.Time.Year(); y < 0 || y > 9999 {
		return appendSlow(b, e) // MarshalJSON's error, as Encode gives it
	}
	b = append(b, `{"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendField(b, "event", e.Event, false)
	b = appendField(b, "id", e.ID, true)
	b = appendField(b, "message_id", e.MessageID, true)
	b = appendField(b, "sender", e.Sender, true)
	b = appendField(b, "recipient", e.Recipient, true)
	b = appendField(b, "next_hop", e.NextHop, true)
	b = appendField(b, "connector", e.Connector, true)
	b = appendField(b, "status", e.Status, true)
	b = appendField(b, "detail", e.Detail, true)
	b = appendField(b, "server", e.Server, true)
	b = appendField(b, "actor", e.Actor, true)
	return append(b, '}', '\n')
}

// appendField appends ,"name":"value" (nothing for an empty value when
// omitEmpty).
func appendField(b []byte, name, value string, omitEmpty bool) []byte {
	if value == "" && omitEmpty {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendString appends s as a JSON string: as it is when it needs no
// escape (the common case: addresses, IDs, status codes), else as
// encoding/json escapes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.Encode(s) // a string always encodes
			return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendSlow is appendEvent through encoding/json, for what appendEvent
// does not write itself; nil when e cannot be encoded.
func appendSlow(b []byte, e *Event) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil
	}
	return append(b, buf.Bytes()...)
}
