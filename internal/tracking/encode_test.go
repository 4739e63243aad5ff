package tracking

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// reference is how Write encoded events before appendEvent: encoding/json
// without HTML escaping.
func reference(t *testing.T, e *Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// appendEvent writes exactly what encoding/json writes, for plain and
// awkward text (quotes, backslashes, control characters, <>&, non-ASCII,
// invalid UTF-8, U+2028), empty fields and times of every precision and
// zone.
func TestAppendEventIsEncodingJSON(t *testing.T) {
	texts := []string{"", "alice@contoso.test", "<abc@contoso.test>", `say "hi"\now`, "tab\there\r\n\b\f\x00\x1f",
		"Zoë <zoe@fabrikam.test> & co", "\xff\xfe broken", "line\u2028sep\u2029", "日本語", "4.4.1 127.0.0.1:2526: dial tcp: refused"}
	times := []time.Time{
		time.Date(2026, 12, 5, 22, 30, 0, 0, time.UTC),
		time.Date(2026, 12, 5, 22, 30, 1, 123456789, time.UTC),
		time.Date(2026, 12, 5, 22, 30, 1, 120000000, time.FixedZone("", 5*3600+1800)),
		{},
	}
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return texts[r.IntN(len(texts))] }
	for i := range 2000 {
		e := Event{Time: times[i%len(times)], Event: pick(), ID: pick(), MessageID: pick(), Sender: pick(), Recipient: pick(),
			NextHop: pick(), Connector: pick(), Status: pick(), Detail: pick(), Server: pick(), Actor: pick()}
		if i%7 == 0 {
			e = Event{Time: e.Time, Event: Send, ID: "18ee7b9dde4e67d0-f23d6fd0d889", Recipient: "SMTP:bob@fabrikam.test"}
		}
		if got, want := appendEvent(nil, &e), reference(t, &e); !bytes.Equal(got, want) {
			t.Fatalf("event %+v:\n got %s\nwant %s", e, got, want)
		}
	}
	// Random bytes in every field.
	for range 500 {
		rnd := func() string {
			b := make([]byte, r.IntN(12))
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			return string(b)
		}
		e := Event{Time: times[0], Event: rnd(), ID: rnd(), Detail: rnd(), Actor: rnd()}
		if got, want := appendEvent(nil, &e), reference(t, &e); !bytes.Equal(got, want) {
			t.Fatalf("event %+v:\n got %q\nwant %q", e, got, want)
		}
	}
	// A year JSON cannot hold is an error, as with encoding/json.
	if got := appendEvent(nil, &Event{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); got != nil {
		t.Errorf("year 10000 encoded as %s", got)
	}
}

func BenchmarkWrite(b *testing.B) {
	l, err := Open(b.TempDir()+"/tracking.log", "hub1")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := Event{Event: Send, ID: "18ee7b9dde4e67d0-f23d6fd0d889", Sender: "bench@source.invalid", Recipient: "SMTP:sink@sink.invalid",
		NextHop: "connector:Sink@hub", Status: "2.0.0", Detail: "250 2.0.0 Ok: queued as 4Xk"}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Write(e); err != nil {
			b.Fatal(err)
		}
	}
}
