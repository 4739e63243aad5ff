package test

import (
	"fmt"
	"net"
	"net/smtp"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/hub"
	"github.com/waypost/waypost/test/harness"
)

// waypost runs the real binary and returns its exit code and output.
func waypost(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(harness.Binary(t), args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestEmbeddedDirectory: recipients imported into the embedded store are
// routed, expanded and delivered, and log in on submission; the store is
// read while the hub runs and changed only while it is stopped.
func TestEmbeddedDirectory(t *testing.T) {
	o := newOrg(t)
	// The organization file keeps its Alice; the store adds the rest.
	harness.Write(t, o.file, readFile(t, o.file)+"[directory]\nbackend = \"embedded\"\n")
	hash, err := hub.HashPassword("dora's password")
	if err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(o.dir, "people.csv")
	harness.Write(t, csv, fmt.Sprintf(`kind,name,server,address,address,member,member,member,password_hash
mailbox,Dora,hub1,SMTP:dora@contoso.test,X500:/o=Contoso/cn=dora,,,,%s
mailbox,Emil,hub1,SMTP:emil@contoso.test,,,,,
group,Team,,SMTP:team@contoso.test,,dora@contoso.test,inner@contoso.test,alice@contoso.test,
group,Inner,,SMTP:inner@contoso.test,,emil@contoso.test,team@contoso.test,,
`, hash))
	if code, out := waypost(t, "directory", "--config", o.file, "import", csv); code != 0 || !strings.Contains(out, "imported 4 entries") {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	h := harness.Start(t, o.file, "hub1", o.smtpAddr, o.submission)

	msg := "From: bob@fabrikam.test\r\nTo: team@contoso.test\r\nSubject: team\r\n\r\nHello team.\r\n"
	if err := smtp.SendMail(o.smtpAddr, nil, "bob@fabrikam.test", []string{"team@contoso.test", "EMIL@contoso.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice@contoso.test", "dora@contoso.test", "emil@contoso.test"} {
		harness.WaitFor(t, 10*time.Second, "delivery to "+who, func() bool { return len(harness.Maildir(t, o.data, delivery.Folder(who))) > 0 })
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(harness.Maildir(t, o.data, delivery.Folder("emil@contoso.test"))); n != 1 {
		t.Errorf("emil, named directly and through the nested loop, got %d copies; want 1", n)
	}
	// Unknown at RCPT; a user of the store logs in on submission.
	err = smtp.SendMail(o.smtpAddr, nil, "bob@fabrikam.test", []string{"nobody@contoso.test"}, []byte(msg))
	if err == nil || !strings.Contains(err.Error(), "5.1.1") {
		t.Errorf("unknown recipient: %v", err)
	}
	host, _, _ := net.SplitHostPort(o.submission)
	if err := smtp.SendMail(o.submission, smtp.PlainAuth("", "Dora@Contoso.test", "dora's password", host), "dora@contoso.test", []string{"carol@example.org"}, []byte("Subject: out\r\n\r\nx\r\n")); err != nil {
		t.Fatalf("AUTH as a user of the embedded store: %v", err)
	}
	err = smtp.SendMail(o.submission, smtp.PlainAuth("", "dora@contoso.test", "wrong", host), "dora@contoso.test", []string{"carol@example.org"}, []byte("x\r\n"))
	if err == nil || !strings.Contains(err.Error(), "535") {
		t.Errorf("wrong password: %v", err)
	}
	harness.WaitFor(t, 10*time.Second, "delivery to the smart host", func() bool { return o.sink.count() == 1 })

	// A reload that adds a recipient to the file keeps the store: both
	// the new file recipient and the store's recipients are found.
	harness.Write(t, o.file, readFile(t, o.file)+"\n[[recipient]]\nkind = \"mailbox\"\nname = \"Gus\"\nserver = \"hub1\"\naddresses = [\"SMTP:gus@contoso.test\"]\n")
	if code, out := waypost(t, "reload", "--config", o.file, "--server", "hub1"); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	if err := smtp.SendMail(o.smtpAddr, nil, "bob@fabrikam.test", []string{"gus@contoso.test", "dora@contoso.test"}, []byte(msg)); err != nil {
		t.Fatalf("after the reload: %v", err)
	}
	harness.WaitFor(t, 10*time.Second, "delivery to gus", func() bool { return len(harness.Maildir(t, o.data, delivery.Folder("gus@contoso.test"))) == 1 })
	harness.WaitFor(t, 10*time.Second, "second delivery to dora", func() bool { return len(harness.Maildir(t, o.data, delivery.Folder("dora@contoso.test"))) == 2 })

	// While the hub runs: reading works, changing says what to do.
	if code, out := waypost(t, "directory", "--config", o.file, "show", "EX:/O=Contoso/CN=Dora"); code != 0 || !strings.Contains(out, `"name":"Dora"`) {
		t.Errorf("show while the hub runs: exit %d\n%s", code, out)
	}
	if code, out := waypost(t, "route", "--config", o.file, "--server", "hub1", "inner@contoso.test"); code != 0 || !strings.Contains(out, `"outcome":"expanded"`) {
		t.Errorf("route while the hub runs: exit %d\n%s", code, out)
	}
	add := []string{"directory", "--config", o.file, "add", "--kind", "mailbox", "--name", "Finn", "--home", "hub1", "--address", "SMTP:finn@contoso.test"}
	code, out := waypost(t, add...)
	if code != 1 || !strings.Contains(out, "hub1 (waypost serve) is running") || !strings.Contains(out, "Stop the hub") {
		t.Errorf("add while the hub runs: exit %d\n%s", code, out)
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("stopping the hub: %v\n%s", err, h.Log())
	}
	if code, out := waypost(t, add...); code != 0 || !strings.Contains(out, `"name":"Finn"`) {
		t.Fatalf("add with the hub stopped: exit %d\n%s", code, out)
	}
	harness.Start(t, o.file, "hub1", o.smtpAddr)
	if err := smtp.SendMail(o.smtpAddr, nil, "bob@fabrikam.test", []string{"finn@contoso.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 10*time.Second, "delivery to finn", func() bool { return len(harness.Maildir(t, o.data, delivery.Folder("finn@contoso.test"))) == 1 })
}
