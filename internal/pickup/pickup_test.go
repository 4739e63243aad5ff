package pickup

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/scheduler"
	"github.com/waypost/waypost/internal/tracking"
)

func TestParsePickupEnvelopeLines(t *testing.T) {
	p, err := Parse([]byte("X-Sender: <fax@contoso.test>\nX-Receiver: <alice@contoso.test>\nx-receiver: <IMCEAFAX-+2B1+20555+200100@contoso.test> NOTIFY=NEVER\n" +
		"From: Fax <fax@contoso.test>\nTo: bob@contoso.test\nBcc: carol@contoso.test\nMessage-ID: <1@fax>\nSubject: fax\n\nbody\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.From != "fax@contoso.test" || !slices.Equal(p.Recipients, []string{"alice@contoso.test", "IMCEAFAX-+2B1+20555+200100@contoso.test"}) {
		t.Errorf("envelope %q -> %q; the X- lines, not the header, are the envelope", p.From, p.Recipients)
	}
	want := "From: Fax <fax@contoso.test>\r\nTo: bob@contoso.test\r\nMessage-ID: <1@fax>\r\nSubject: fax\r\n\r\nbody\r\n"
	if string(p.Content) != want {
		t.Errorf("content (envelope lines and Bcc removed, CRLF):\n%q\nwant\n%q", p.Content, want)
	}
	if p.MessageID != "<1@fax>" {
		t.Errorf("Message-ID %q", p.MessageID)
	}
}

func TestParsePickupNullSender(t *testing.T) {
	p, err := Parse([]byte("X-Sender: <>\r\nX-Receiver: <alice@contoso.test>\r\nSubject: report\r\n\r\n"))
	if err != nil || p.From != "" || len(p.Recipients) != 1 {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestParsePickupHeader(t *testing.T) {
	p, err := Parse([]byte("From: \"Fax, Gateway\" <fax@contoso.test>\r\nTo: Alice <alice@contoso.test>,\r\n bob@contoso.test\r\n" +
		"Cc: alice@contoso.test\r\nBcc: Carol <carol@contoso.test>,\r\n\tdave@contoso.test\r\nReceived: from x\r\nReceived: from y\r\nSubject: s\r\n\r\nBcc: not a field\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.From != "fax@contoso.test" {
		t.Errorf("sender %q", p.From)
	}
	if !slices.Equal(p.Recipients, []string{"alice@contoso.test", "bob@contoso.test", "carol@contoso.test", "dave@contoso.test"}) {
		t.Errorf("recipients %q (To, Cc, Bcc, each once)", p.Recipients)
	}
	if strings.Contains(string(p.Content), "Carol") || strings.Contains(string(p.Content), "dave") || !strings.Contains(string(p.Content), "\r\n\r\nBcc: not a field\r\n") {
		t.Errorf("Bcc field (with its continuation) must go, the body stay:\n%s", p.Content)
	}
	if p.Hops != 2 {
		t.Errorf("hops %d, want 2", p.Hops)
	}
	p, err = Parse([]byte("Sender: gw@contoso.test\r\nFrom: a@contoso.test, b@contoso.test\r\nTo: c@contoso.test\r\n\r\n"))
	if err != nil || p.From != "gw@contoso.test" {
		t.Errorf("Sender comes before From: %+v %v", p, err)
	}
}

func TestParsePickupBad(t *testing.T) {
	for _, tc := range []struct{ name, text, status, reason string }{
		{"no recipients", "From: fax@contoso.test\r\nSubject: s\r\n\r\nx", "5.1.3", "no recipients"},
		{"no sender", "To: alice@contoso.test\r\n\r\nx", "5.1.7", "no sender"},
		{"bad To", "From: fax@contoso.test\r\nTo: alice@@contoso.test\r\n\r\n", "5.1.3", "To"},
		{"bad X-Receiver", "X-Sender: <>\r\nX-Receiver: <alice contoso>\r\n\r\n", "5.1.3", "X-Receiver"},
		{"empty X-Receiver", "X-Sender: <>\r\nX-Receiver: <>\r\n\r\n", "5.1.3", "X-Receiver"},
		{"no X-Sender", "X-Receiver: <alice@contoso.test>\r\nFrom: a@contoso.test\r\n\r\n", "5.1.7", "X-Sender"},
		{"two X-Senders", "X-Sender: <a@contoso.test>\r\nX-Sender: <b@contoso.test>\r\nX-Receiver: <alice@contoso.test>\r\n\r\n", "5.1.7", "X-Sender"},
		{"empty file", "", "5.1.7", "no sender"},
	} {
		_, err := Parse([]byte(tc.text))
		var b *BadFile
		if !errors.As(err, &b) {
			t.Errorf("%s: %v, want a bad file", tc.name, err)
			continue
		}
		if b.Status != tc.status || !strings.Contains(b.Reason, tc.reason) || b.Fix == "" {
			t.Errorf("%s: %+v, want status %s and a reason naming %q with a fix", tc.name, b, tc.status, tc.reason)
		}
	}
}

func TestCRLF(t *testing.T) {
	for in, want := range map[string]string{"a\nb\r\nc\rd": "a\r\nb\r\nc\r\nd", "": "", "x": "x", "\r\r\n": "\r\n\r\n"} {
		if got := string(crlf([]byte(in))); got != want {
			t.Errorf("crlf(%q) = %q, want %q", in, got, want)
		}
	}
}

const pickupOrg = `
[organization]
default_domain = "contoso.test"
[[accepted_domain]]
domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
data_dir = "data"
[[send_connector]]
name = "X400"
address_spaces = ["X400:c=US;a= ;p=Contoso;1"]
source_servers = ["hub1"]
max_message_size = "1KB"
delivery = { kind = "drop", directory = "x400-out", pickup = "x400-in" }
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test"]
`

// openFolders is the pickup side of hub1 of pickupOrg, with a real queue,
// scheduler (for Add) and tracking log in dir.
func openFolders(t *testing.T, dir string) (*Folders, *queue.Store) {
	t.Helper()
	org, err := config.Parse([]byte(pickupOrg), filepath.Join(dir, "org.toml"), dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := directory.NewMemory(org.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	var eng atomic.Pointer[routing.Engine]
	eng.Store(routing.New(org, d))
	q, _, err := queue.Open(filepath.Join(dir, "data", "queue"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	tl, err := tracking.Open(filepath.Join(dir, "data", "tracking.log"), "hub1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	f := &Folders{Server: org.Server("hub1"), Engine: &eng, Queue: &scheduler.Scheduler{Server: "hub1", Queue: q, Engine: &eng}, Track: tl,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return f, q
}

func TestPickupFolder(t *testing.T) {
	dir := t.TempDir()
	f, q := openFolders(t, dir)
	in := filepath.Join(dir, "x400-in")
	f.Scan() // creates the folder
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(in, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.eml", "X-Sender: <>\nX-Receiver: <alice@contoso.test>\nSubject: report\n\nyour message was delivered\n")
	write(".b.eml", "X-Sender: <>\nX-Receiver: <alice@contoso.test>\n\nbeing written\n")
	write("c.eml.tmp", "X-Sender: <>\nX-Receiver: <alice@contoso.test>\n\nbeing written\n")
	write(f.claimPrefix()+"d.eml", "From: gw@contoso.test\nTo: alice@contoso.test\n\nclaimed before a crash\n")
	write("e.eml", "From: gw@contoso.test\nSubject: nobody\n\n")
	write("f.eml", "From: gw@contoso.test\nTo: alice@contoso.test\n\n"+strings.Repeat("x", 1000)+"\n")
	write("g.eml", "X-Sender: <>\nX-Receiver: <alice@contoso.test>\n"+strings.Repeat("Received: from a loop\n", 31)+"\n")
	write("h.eml", "X-Sender: <>\nX-Receiver: <alice@contoso.test>\n"+strings.Repeat("Received: from far away\n", 30)+"\n")
	f.Scan()

	msgs, err := q.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("%d messages queued, want 3 (a.eml, the claimed d.eml, h.eml)", len(msgs))
	}
	for _, m := range msgs {
		if len(m.Recipients) != 1 || m.Recipients[0].Address != "alice@contoso.test" || m.ReceivedBy != "pickup:X400" {
			t.Errorf("queued %+v", m.Envelope)
		}
		rc, _ := q.Open(m.ID)
		b, _ := io.ReadAll(rc)
		rc.Close()
		if !strings.HasPrefix(string(b), "Received: from pickup folder of connector X400\r\n") || strings.Contains(string(b), "X-Receiver") {
			t.Errorf("queued content:\n%s", b)
		}
	}
	var left []string
	entries, _ := os.ReadDir(in)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if !slices.Equal(left, []string{".b.eml", "badmail", "c.eml.tmp"}) {
		t.Errorf("pickup folder holds %q: taken files must be gone, temp names untouched", left)
	}
	for name, why := range map[string]string{"e.eml": "no recipients", "f.eml": "size limit", "g.eml": "5.4.6"} {
		reason, err := os.ReadFile(filepath.Join(in, "badmail", name+".reason"))
		if err != nil || !strings.Contains(string(reason), why) || !strings.Contains(string(reason), "fix: ") {
			t.Errorf("%s.reason: %v\n%s", name, err, reason)
		}
		if _, err := os.Stat(filepath.Join(in, "badmail", name)); err != nil {
			t.Errorf("%s not kept in badmail: %v", name, err)
		}
	}
	track, _ := os.ReadFile(filepath.Join(dir, "data", "tracking.log"))
	if n := strings.Count(string(track), `"detail":"via pickup X400"`); n != 3 {
		t.Errorf("%d RECEIVE events via pickup, want 3:\n%s", n, track)
	}
	// A file of the same name goes to badmail beside the first.
	write("e.eml", "From: gw@contoso.test\n\n")
	f.Scan()
	if _, err := os.Stat(filepath.Join(in, "badmail", "e.eml.1.reason")); err != nil {
		t.Errorf("second bad e.eml: %v", err)
	}
}

// A panic while a file is taken (here a scheduler without its queue, a
// bug) is recovered where the pickup goroutine takes the file: logged with
// its stack, the file in badmail with status 4.3.0, never taken again;
// the next file is taken once the bug is gone.
func TestPickupPanic(t *testing.T) {
	dir := t.TempDir()
	f, q := openFolders(t, dir)
	var logs strings.Builder
	f.Log = slog.New(slog.NewTextHandler(&logs, nil))
	in := filepath.Join(dir, "x400-in")
	f.Scan() // creates the folder
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(in, name), []byte("X-Sender: <>\nX-Receiver: <alice@contoso.test>\n\nhello\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.eml")
	sched := f.Queue.(*scheduler.Scheduler)
	sched.Queue = nil
	f.Scan() // panics in the scheduler's Add
	sched.Queue = q
	reason, err := os.ReadFile(filepath.Join(in, "badmail", "a.eml.reason"))
	if err != nil || !strings.Contains(string(reason), "status: 4.3.0") || !strings.Contains(string(reason), "the hub failed while taking the file") {
		t.Errorf("a.eml.reason: %v\n%s", err, reason)
	}
	if !strings.Contains(logs.String(), "panic while taking a pickup file") || !strings.Contains(logs.String(), "goroutine ") {
		t.Errorf("the panic is not logged with its stack:\n%s", logs.String())
	}
	write("b.eml")
	f.Scan()
	if msgs, err := q.List(); err != nil || len(msgs) != 1 {
		t.Errorf("after the panic, b.eml: %d messages queued (%v), want 1", len(msgs), err)
	}
	entries, _ := os.ReadDir(in)
	if len(entries) != 1 || entries[0].Name() != "badmail" {
		t.Errorf("the pickup folder holds %v, want badmail only", entries)
	}
}
