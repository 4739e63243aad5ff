package delivery

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/powercut"
)

// A note of these tests: "PATH\x00CONTENT", a delivery reported done.
func deliveredNote(path, content string) string { return path + "\x00" + content }

// TestMaildirPowerCut replays every power cut of Maildir deliveries
// (internal/powercut: the method of ALICE, Pillai et al., OSDI 2014, and
// CrashMonkey, Mohan et al., OSDI 2018): a first delivery that creates the
// mailboxes folder and the mailbox, a second message to two mailboxes,
// and the first delivered again as after a crash. Once Deliver reported a
// recipient delivered, no power cut loses the message; new/ never holds a
// partial message nor two copies of one delivery.
func TestMaildirPowerCut(t *testing.T) {
	root := t.TempDir()
	rec, err := powercut.New(root)
	if err != nil {
		t.Fatal(err)
	}
	m := &Maildir{Root: filepath.Join(root, "mailboxes"), Hostname: "hub1.contoso.test", FS: rec}
	alice := Recipient{Type: "SMTP", Address: "alice@contoso.test", Mailbox: "Alice", Folder: Folder("alice@contoso.test")}
	bob := Recipient{Type: "SMTP", Address: "bob@contoso.test", Mailbox: "Bob", Folder: Folder("bob@contoso.test")}
	arrival := time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)
	deliver := func(id, body string, rcpts ...Recipient) {
		msg := message(body, rcpts...)
		msg.ID, msg.Arrival = id, arrival
		for i, res := range m.Deliver(context.Background(), msg) {
			if res.Class != Delivered {
				t.Fatalf("%s to %s: %+v", id, rcpts[i].Address, res)
			}
			r := rcpts[i]
			rec.Note(deliveredNote(filepath.Join("mailboxes", r.Folder, "Maildir"),
				"Return-Path: <bob@fabrikam.test>\r\nDelivered-To: "+r.Address+"\r\n"+body))
		}
	}
	deliver("0001-a", "Subject: one\r\n\r\nfirst\r\n", alice)
	deliver("0002-b", "Subject: two\r\n\r\nsecond\r\n", alice, bob)
	deliver("0001-a", "Subject: one\r\n\r\nfirst\r\n", alice)

	n := rec.Replay(t, checkMaildirs)
	t.Logf("%d operations, %d crash states", len(rec.Ops()), n)
}

// checkMaildirs checks a crash state of TestMaildirPowerCut.
func checkMaildirs(c *powercut.Crash) error {
	for _, n := range c.Notes {
		dir, want, _ := strings.Cut(n, "\x00")
		if !holds(filepath.Join(c.Dir, dir), want) {
			return fmt.Errorf("a delivered message is lost from %s: %q", dir, want)
		}
	}
	// Every message in new/ is whole (its size is in its name), and none
	// is there twice.
	news, _ := filepath.Glob(filepath.Join(c.Dir, "mailboxes", "*", "Maildir", "new", "*"))
	seen := map[string]bool{}
	for _, p := range news {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, size, _ := strings.Cut(filepath.Base(p), ",S=")
		if strconv.Itoa(len(b)) != size {
			return fmt.Errorf("%s holds %d bytes", p, len(b))
		}
		if seen[string(b)+filepath.Dir(p)] {
			return fmt.Errorf("a second copy in %s: %s", filepath.Dir(p), filepath.Base(p))
		}
		seen[string(b)+filepath.Dir(p)] = true
	}
	return nil
}

// holds says whether the Maildir dir has a message with content want in
// new/ or cur/.
func holds(dir, want string) bool {
	for _, sub := range []string{"new", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(dir, sub, e.Name())); err == nil && string(b) == want {
				return true
			}
		}
	}
	return false
}

// TestDropPowerCut replays every power cut of drop deliveries into a
// folder Deliver creates (see TestMaildirPowerCut): once a delivery is
// reported, its file is there, whole.
func TestDropPowerCut(t *testing.T) {
	root := t.TempDir()
	rec, err := powercut.New(root)
	if err != nil {
		t.Fatal(err)
	}
	d := &Drop{Dir: filepath.Join(root, "gateways", "fax-out"), DefaultDomain: "contoso.test", FS: rec}
	for _, id := range []string{"0001-a", "0002-b", "0001-a"} {
		body := "Subject: fax " + id + "\r\n\r\npage 1\r\n"
		msg := message(body, Recipient{Type: "FAX", Address: "+1 555 0100"})
		msg.ID = id
		if res := d.Deliver(context.Background(), msg); res[0].Class != Relayed {
			t.Fatalf("%s: %+v", id, res[0])
		}
		rec.Note(deliveredNote(filepath.Join("gateways", "fax-out", id+".eml"),
			"X-Sender: <bob@fabrikam.test>\r\nX-Receiver: <IMCEAFAX-+2B1+20555+200100@contoso.test>\r\n"+body))
	}
	n := rec.Replay(t, func(c *powercut.Crash) error {
		for _, n := range c.Notes {
			p, want, _ := strings.Cut(n, "\x00")
			if b, err := os.ReadFile(filepath.Join(c.Dir, p)); err != nil || string(b) != want {
				return fmt.Errorf("a delivered file is lost: %s holds %q, %v", p, b, err)
			}
		}
		return nil
	})
	t.Logf("%d operations, %d crash states", len(rec.Ops()), n)
}

// An earlier process may have died between creating a Maildir's folders
// and fsyncing them: the first delivery of this process makes them
// durable all the same.
func TestMaildirPowerCutAfterUnsyncedMkdir(t *testing.T) {
	root := t.TempDir()
	rec, err := powercut.New(root)
	if err != nil {
		t.Fatal(err)
	}
	alice := Recipient{Type: "SMTP", Address: "alice@contoso.test", Mailbox: "Alice", Folder: Folder("alice@contoso.test")}
	// The earlier process: folders made, never synced.
	for _, d := range []string{"mailboxes", "mailboxes/" + alice.Folder, "mailboxes/" + alice.Folder + "/Maildir",
		"mailboxes/" + alice.Folder + "/Maildir/tmp", "mailboxes/" + alice.Folder + "/Maildir/new", "mailboxes/" + alice.Folder + "/Maildir/cur"} {
		if err := rec.Mkdir(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	m := &Maildir{Root: filepath.Join(root, "mailboxes"), Hostname: "hub1.contoso.test", FS: rec}
	body := "Subject: one\r\n\r\nfirst\r\n"
	msg := message(body, alice)
	msg.ID = "0001-a"
	if res := m.Deliver(context.Background(), msg); res[0].Class != Delivered {
		t.Fatalf("%+v", res[0])
	}
	rec.Note(deliveredNote(filepath.Join("mailboxes", alice.Folder, "Maildir"),
		"Return-Path: <bob@fabrikam.test>\r\nDelivered-To: "+alice.Address+"\r\n"+body))
	rec.Replay(t, checkMaildirs)
}
