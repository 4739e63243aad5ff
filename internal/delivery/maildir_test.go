package delivery

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func message(body string, rcpts ...Recipient) *Message {
	return &Message{ID: "q1", From: "bob@fabrikam.test", Recipients: rcpts, Size: int64(len(body)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }}
}

func TestMaildirDelivers(t *testing.T) {
	m := &Maildir{Root: t.TempDir(), Hostname: "hub1.contoso.test"}
	alice := Recipient{Type: "SMTP", Address: "alice@contoso.test", Mailbox: "Alice", Folder: Folder("Alice@Contoso.test")}
	body := "Subject: hi\r\n\r\nhello\r\n.line\r\n"
	res := m.Deliver(context.Background(), message(body, alice))
	if len(res) != 1 || res[0].Class != Delivered || res[0].Status != "2.0.0" {
		t.Fatalf("%+v", res)
	}
	files, _ := os.ReadDir(filepath.Join(m.Dir(alice.Folder), "new"))
	if len(files) != 1 {
		t.Fatalf("%d files in new/", len(files))
	}
	got, _ := os.ReadFile(filepath.Join(m.Dir(alice.Folder), "new", files[0].Name()))
	want := "Return-Path: <bob@fabrikam.test>\r\nDelivered-To: alice@contoso.test\r\n" + body
	if string(got) != want {
		t.Errorf("stored\n%q\nwant\n%q", got, want)
	}
	if !strings.HasSuffix(files[0].Name(), ",S="+strconv.Itoa(len(want))) {
		t.Errorf("file name %s lacks the size", files[0].Name())
	}
	if tmp, _ := os.ReadDir(filepath.Join(m.Dir(alice.Folder), "tmp")); len(tmp) != 0 {
		t.Errorf("tmp/ not empty: %v", tmp)
	}
}

func TestFolderCannotEscape(t *testing.T) {
	for _, a := range []string{"../../etc@x", "a/b@c", "..", "."} {
		f := Folder(a)
		if strings.Contains(f, "/") || f == ".." || f == "." {
			t.Errorf("Folder(%q) = %q", a, f)
		}
	}
}

func TestMaildirFailureIsRetry(t *testing.T) {
	root := t.TempDir()
	blocker := filepath.Join(root, "file")
	os.WriteFile(blocker, nil, 0o600)
	m := &Maildir{Root: blocker} // a file, not a folder
	res := m.Deliver(context.Background(), message("x\r\n", Recipient{Type: "SMTP", Address: "a@b", Folder: "a"}))
	if res[0].Class != Retry || res[0].Status != "4.3.0" {
		t.Errorf("%+v", res[0])
	}
	res = (&Maildir{Root: root}).Deliver(context.Background(), message("x\r\n", Recipient{Type: "SMTP", Address: "a@b"}))
	if res[0].Class != Retry {
		t.Errorf("no folder: %+v", res[0])
	}
}

func TestMaildirConcurrentNamesAreUnique(t *testing.T) {
	m := &Maildir{Root: t.TempDir(), Hostname: "h"}
	r := Recipient{Type: "SMTP", Address: "a@b", Mailbox: "A", Folder: "a"}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := message("x\r\n", r)
			msg.ID = "q" + strconv.Itoa(i)
			if res := m.Deliver(context.Background(), msg); res[0].Class != Delivered {
				t.Error(res[0])
			}
		}()
	}
	wg.Wait()
	files, _ := os.ReadDir(filepath.Join(m.Dir("a"), "new"))
	if len(files) != 50 {
		t.Errorf("%d messages stored, want 50", len(files))
	}
}

// A message delivered again (after a crash, before the queue recorded the
// first delivery) leaves one copy per recipient: found in new/, or in
// cur/ where a client moved it; another recipient in the same mailbox
// gets its own copy.
func TestMaildirDeliversOnce(t *testing.T) {
	m := &Maildir{Root: t.TempDir(), Hostname: "hub1.contoso.test"}
	alice := Recipient{Type: "SMTP", Address: "alice@contoso.test", Mailbox: "Alice", Folder: "alice"}
	msg := message("Subject: once\r\n\r\nbody\r\n", alice)
	msg.ID, msg.Arrival = "18f0c1a2b3c4d5e6-0123456789ab", processStart.Add(-time.Hour)
	count := func() (names []string) {
		for _, sub := range []string{"new", "cur"} {
			entries, _ := os.ReadDir(filepath.Join(m.Dir("alice"), sub))
			for _, e := range entries {
				names = append(names, sub+"/"+e.Name())
			}
		}
		return names
	}
	for i := range 2 {
		if res := m.Deliver(context.Background(), msg); res[0].Class != Delivered {
			t.Fatalf("delivery %d: %+v", i+1, res[0])
		} else if i == 1 && !strings.Contains(res[0].Text, "there already") {
			t.Errorf("the second delivery says %q", res[0].Text)
		}
	}
	names := count()
	if len(names) != 1 {
		t.Fatalf("after two deliveries: %v, want one file", names)
	}
	// The name is a Maildir unique name: time.unique.host, no '/' or ':'.
	name := strings.TrimPrefix(names[0], "new/")
	if parts := strings.SplitN(name, ".", 3); len(parts) != 3 || parts[0] != strconv.FormatInt(msg.Arrival.Unix(), 10) ||
		!strings.HasPrefix(parts[1], "W"+msg.ID+"_") || strings.ContainsAny(name, "/:") {
		t.Errorf("name %q is not time.W<queue ID>_<hash>.host", name)
	}

	// A client reads it: new/NAME becomes cur/NAME,W=40:2,S (Dovecot may
	// add the W= field).
	if err := os.Rename(filepath.Join(m.Dir("alice"), "new", name), filepath.Join(m.Dir("alice"), "cur", name+",W=40:2,S")); err != nil {
		t.Fatal(err)
	}
	m = &Maildir{Root: m.Root, Hostname: m.Hostname} // a new process
	if res := m.Deliver(context.Background(), msg); res[0].Class != Delivered {
		t.Fatalf("delivery after the client read it: %+v", res[0])
	}
	if names := count(); len(names) != 1 {
		t.Errorf("after a delivery again: %v, want cur/ only", names)
	}

	alias := alice
	alias.Address = "a.smith@contoso.test"
	msg.Recipients = []Recipient{alias}
	m.Deliver(context.Background(), msg)
	if names := count(); len(names) != 2 {
		t.Errorf("a second recipient in the mailbox: %v, want two files", names)
	}
}
