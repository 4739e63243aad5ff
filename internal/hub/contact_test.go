package hub

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/queue"
)

const contactOrg = `
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
name = "Fax"
address_spaces = ["FAX:*;1"]
source_servers = ["hub1"]
delivery = { kind = "drop", directory = "fax-out" }
[[recipient]]
kind = "mailbox"
name = "Alice"
server = "hub1"
addresses = ["SMTP:alice@contoso.test"]
[[recipient]]
kind = "contact"
name = "Legal Fax"
addresses = ["SMTP:legalfax@contoso.test"]
target = "FAX:+1 555 0199"
[[recipient]]
kind = "contact"
name = "Legal Fax Alias"
addresses = ["SMTP:legal@contoso.test"]
target = "SMTP:legalfax@contoso.test"
[[recipient]]
kind = "contact"
name = "Alice Alias"
addresses = ["SMTP:a.alias@contoso.test"]
target = "SMTP:alice@contoso.test"
`

// TestContactDeliversToItsTarget: a contact is delivered at the end of
// its chain of targets, not at the address it was named by.
func TestContactDeliversToItsTarget(t *testing.T) {
	dir := t.TempDir()
	org, err := config.Parse([]byte(contactOrg), filepath.Join(dir, "org.toml"), dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(org, "hub1", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	h.sched.Now, h.sched.Rand = time.Now, func() float64 { return 0.5 } // as Run sets them
	for _, to := range []string{"legalfax@contoso.test", "legal@contoso.test", "a.alias@contoso.test"} {
		if _, err := h.sched.Add(queue.Envelope{From: "bob@fabrikam.test", Recipients: []queue.Recipient{{Written: to, Type: "SMTP", Address: to}}},
			strings.NewReader("Subject: to "+to+"\r\n\r\nx\r\n"), nil); err != nil {
			t.Fatal(err)
		}
	}
	h.sched.RunOnce(context.Background())
	files, _ := filepath.Glob(filepath.Join(dir, "fax-out", "*.eml"))
	if len(files) != 2 {
		t.Fatalf("%d fax files, want 2", len(files))
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if !strings.Contains(string(b), "X-Receiver: <IMCEAFAX-+2B1+20555+200199@contoso.test>\r\n") {
			t.Errorf("the fax gateway got\n%.200s\nwant the contact's target", b)
		}
	}
	box, _ := os.ReadDir(filepath.Join(dir, "data", "mailboxes", delivery.Folder("alice@contoso.test"), "Maildir", "new"))
	if len(box) != 1 {
		t.Errorf("alice has %d messages, want the one to her alias", len(box))
	}
	if msgs, _ := h.queue.List(); len(msgs) != 0 {
		t.Errorf("%d messages left", len(msgs))
	}
}
