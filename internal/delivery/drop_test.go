package delivery

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDropWritesOneFilePerMessage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fax-out")
	d := &Drop{Dir: dir, DefaultDomain: "contoso.test"}
	m := message("Subject: fax\r\n\r\npage 1\r\n",
		Recipient{Type: "FAX", Address: "+1 555 0100"},
		Recipient{Type: "SMTP", Address: "archive@contoso.test"})
	res := d.Deliver(context.Background(), m)
	if res[0].Class != Relayed || res[1].Class != Relayed {
		t.Fatalf("%+v", res)
	}
	files, _ := os.ReadDir(dir)
	if len(files) != 1 || files[0].Name() != "q1.eml" {
		t.Fatalf("files %v", files)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "q1.eml"))
	want := "X-Sender: <bob@fabrikam.test>\r\nX-Receiver: <IMCEAFAX-+2B1+20555+200100@contoso.test>\r\nX-Receiver: <archive@contoso.test>\r\nSubject: fax\r\n\r\npage 1\r\n"
	if string(got) != want {
		t.Errorf("file\n%q\nwant\n%q", got, want)
	}
}

func TestDropFailureIsRetry(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o600)
	res := (&Drop{Dir: filepath.Join(blocker, "sub")}).Deliver(context.Background(), message("x\r\n", Recipient{Type: "FAX", Address: "1"}))
	if res[0].Class != Retry || !strings.Contains(res[0].Text, "drop folder") {
		t.Errorf("%+v", res[0])
	}
}

// A message delivered again after a crash replaces its own file, named
// after the queue ID: one copy.
func TestDropDeliversOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fax-out")
	d := &Drop{Dir: dir, DefaultDomain: "contoso.test"}
	m := message("Subject: fax\r\n\r\npage 1\r\n", Recipient{Type: "FAX", Address: "+1 555 0100"})
	for range 2 {
		if res := d.Deliver(context.Background(), m); res[0].Class != Relayed {
			t.Fatalf("%+v", res)
		}
	}
	if files, _ := os.ReadDir(dir); len(files) != 1 || files[0].Name() != "q1.eml" {
		t.Errorf("files %v, want q1.eml only", files)
	}
}
