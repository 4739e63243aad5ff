package api_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/api"
	"github.com/waypost/waypost/internal/delivery"
)

type messageList struct {
	State    string
	Full     bool
	Messages []api.MessageInfo
}

// deliver puts a message into a mailbox of e's hub with the real Maildir agent.
func (e *env) deliver(mailbox, from, subject string) {
	e.t.Helper()
	body := "From: " + from + "\r\nTo: " + mailbox + "\r\nSubject: " + subject + "\r\nDate: Mon, 2 Jun 2025 10:00:00 +0200\r\n\r\n" + subject + " body\r\n"
	msg := &delivery.Message{ID: "q", From: "sender@fabrikam.test", Size: int64(len(body)),
		Recipients: []delivery.Recipient{{Type: "SMTP", Address: mailbox, Mailbox: mailbox, Folder: delivery.Folder(mailbox)}},
		Open:       func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }}
	if res := e.boxes.Deliver(context.Background(), msg); res[0].Class != delivery.Delivered {
		e.t.Fatalf("delivery: %+v", res[0])
	}
}

func (e *env) list(t *testing.T, r req) messageList {
	t.Helper()
	var l messageList
	decode(t, e.do(r), http.StatusOK, &l)
	return l
}

func subjects(l messageList) string {
	var s []string
	for _, m := range l.Messages {
		s = append(s, m.Subject)
	}
	return strings.Join(s, ",")
}

func TestMailboxListFetchDelete(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	l := e.list(t, alice("GET", "/api/v1/mailbox/messages"))
	if l.State != "0.0" || !l.Full || l.Messages == nil || len(l.Messages) != 0 {
		t.Fatalf("empty mailbox: %+v", l)
	}
	empty := l.State

	e.deliver("alice@contoso.test", `"Bob" <bob@contoso.test>`, "one")
	time.Sleep(10 * time.Millisecond) // distinct modification times: listed in order
	e.deliver("alice@contoso.test", "=?utf-8?q?Zo=C3=AB?= <zoe@fabrikam.test>", "=?utf-8?q?caf=C3=A9?=")
	e.deliver("bob@contoso.test", "alice@contoso.test", "for bob")
	l1 := e.list(t, alice("GET", "/api/v1/mailbox/messages"))
	if !l1.Full || subjects(l1) != "one,café" {
		t.Fatalf("list: %+v", l1)
	}
	m := l1.Messages[0]
	if m.From != `"Bob" <bob@contoso.test>` || m.Date != "2025-06-02T10:00:00+02:00" || m.ID == "" || m.Size < 100 || l1.Messages[1].From != "Zoë <zoe@fabrikam.test>" {
		t.Errorf("messages %+v", l1.Messages)
	}

	// The state from before the mail came: both are new.
	if l := e.list(t, alice("GET", "/api/v1/mailbox/messages?since="+empty)); l.Full || subjects(l) != "one,café" || l.State != l1.State {
		t.Errorf("since %s: %+v", empty, l)
	}
	// Since the current state: nothing new.
	if l := e.list(t, alice("GET", "/api/v1/mailbox/messages?since="+l1.State)); l.Full || len(l.Messages) != 0 || l.State != l1.State {
		t.Errorf("since %s: %+v", l1.State, l)
	}
	e.deliver("alice@contoso.test", "carol@fabrikam.test", "three")
	l2 := e.list(t, alice("GET", "/api/v1/mailbox/messages?since="+l1.State))
	if l2.Full || subjects(l2) != "three" || l2.State == l1.State {
		t.Errorf("since %s after a delivery: %+v", l1.State, l2)
	}

	// Fetch: the stored file, byte for byte.
	resp := e.do(alice("GET", "/api/v1/mailbox/messages/"+m.ID))
	got, _ := io.ReadAll(resp.Body)
	files, _ := filepath.Glob(filepath.Join(e.boxes.Dir(delivery.Folder("alice@contoso.test")), "new", m.ID))
	if len(files) != 1 {
		t.Fatalf("no file %s", m.ID)
	}
	want, _ := os.ReadFile(files[0])
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "message/rfc822" || string(got) != string(want) || int64(len(got)) != m.Size {
		t.Errorf("fetch: %d %s\n%q\nwant\n%q", resp.StatusCode, resp.Header.Get("Content-Type"), got, want)
	}

	// A message read by another client moves to cur/ with flags: same id,
	// same number, not new again.
	cur := filepath.Join(filepath.Dir(filepath.Dir(files[0])), "cur", m.ID+":2,S")
	if err := os.Rename(files[0], cur); err != nil {
		t.Fatal(err)
	}
	if l := e.list(t, alice("GET", "/api/v1/mailbox/messages?since="+l2.State)); len(l.Messages) != 0 || l.State != l2.State {
		t.Errorf("after a move to cur/: %+v", l)
	}
	if resp := e.do(alice("GET", "/api/v1/mailbox/messages/"+m.ID)); resp.StatusCode != 200 {
		t.Errorf("fetch from cur/: %d", resp.StatusCode)
	}

	// Delete, then it is gone.
	if resp := e.do(alice("DELETE", "/api/v1/mailbox/messages/"+m.ID)); resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete: %d", resp.StatusCode)
	}
	if _, err := os.Stat(cur); !os.IsNotExist(err) {
		t.Errorf("the file is still there: %v", err)
	}
	apiError(t, e.do(alice("GET", "/api/v1/mailbox/messages/"+m.ID)), http.StatusNotFound, api.CodeNotFound)
	apiError(t, e.do(alice("DELETE", "/api/v1/mailbox/messages/"+m.ID)), http.StatusNotFound, api.CodeNotFound)
	if l := e.list(t, alice("GET", "/api/v1/mailbox/messages")); subjects(l) != "café,three" || l.State != l2.State {
		t.Errorf("after delete: %+v", l)
	}

	// The numbering survives a restart of the hub (a new server).
	e.restart()
	e.deliver("alice@contoso.test", "carol@fabrikam.test", "four")
	if l := e.list(t, alice("GET", "/api/v1/mailbox/messages?since="+l2.State)); l.Full || subjects(l) != "four" {
		t.Errorf("after a restart: %+v", l)
	}
}

func TestMailboxStateOfAnotherNumbering(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	e.deliver("alice@contoso.test", "bob@contoso.test", "one")
	l := e.list(t, alice("GET", "/api/v1/mailbox/messages"))
	// The uid list lost: a new numbering, and the old state gets everything.
	if err := os.Remove(filepath.Join(e.boxes.Dir(delivery.Folder("alice@contoso.test")), "waypost-uidlist")); err != nil {
		t.Fatal(err)
	}
	for _, since := range []string{l.State, "1.0", "99999999999.5"} {
		if got := e.list(t, alice("GET", "/api/v1/mailbox/messages?since="+since)); !got.Full || subjects(got) != "one" {
			t.Errorf("since %s: %+v", since, got)
		}
	}
	// A damaged uid list: a new numbering too, not an error.
	l = e.list(t, alice("GET", "/api/v1/mailbox/messages"))
	if err := os.WriteFile(filepath.Join(e.boxes.Dir(delivery.Folder("alice@contoso.test")), "waypost-uidlist"), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := e.list(t, alice("GET", "/api/v1/mailbox/messages?since="+l.State)); !got.Full || subjects(got) != "one" || got.State == l.State {
		t.Errorf("after a damaged list, since %s: %+v", l.State, got)
	}
	// A state from the future of this numbering: everything, too.
	l = e.list(t, alice("GET", "/api/v1/mailbox/messages"))
	validity, _, _ := strings.Cut(l.State, ".")
	if got := e.list(t, alice("GET", "/api/v1/mailbox/messages?since="+validity+".7")); !got.Full || subjects(got) != "one" {
		t.Errorf("since %s.7: %+v", validity, got)
	}
}

func TestMailboxBadInput(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	e.deliver("alice@contoso.test", "bob@contoso.test", "alice's")
	for _, s := range []string{"", "abc", "1", "1.", ".1", "1.2.3", "-1.2", "1.-2", "1 .2", "123456789012345678901.1", "99999999999999999999.1"} {
		apiError(t, e.do(alice("GET", "/api/v1/mailbox/messages?since="+url.QueryEscape(s))), http.StatusBadRequest, api.CodeBadSince)
	}
	// Bob's mailbox is on hub-branch: this hub has none of his.
	apiError(t, e.do(bob("GET", "/api/v1/mailbox/messages")), http.StatusMisdirectedRequest, api.CodeWrongServer)
}

func TestMailboxPathTraversal(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	e.deliver("alice@contoso.test", "bob@contoso.test", "alice's")
	e.deliver("nopw@contoso.test", "bob@contoso.test", "not alice's")
	aliceDir := e.boxes.Dir(delivery.Folder("alice@contoso.test"))
	secret := "top secret text"
	for _, p := range []string{filepath.Join(e.boxes.Root, "secret"), filepath.Join(aliceDir, "secret"), filepath.Join(aliceDir, "new", "sub", "secret")} {
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := os.ReadDir(filepath.Join(e.boxes.Dir(delivery.Folder("nopw@contoso.test")), "new"))
	if len(other) != 1 {
		t.Fatal("no message for nopw")
	}
	for _, tc := range []struct {
		id     string
		status int
		code   string
	}{
		{"..%2F..%2Fsecret", 400, api.CodeBadID},
		{"..%2Fsecret", 400, api.CodeBadID},
		{"%2E%2E", 400, api.CodeBadID},
		{".", 0, ""}, // cleaned by net/http: a redirect to the list
		{"%2Fetc%2Fpasswd", 400, api.CodeBadID},
		{"sub%2Fsecret", 400, api.CodeBadID},
		{".hidden", 400, api.CodeBadID},
		{"a%3A2%2CS", 400, api.CodeBadID},
		{"x%00y", 400, api.CodeBadID},
		{"secret", 404, api.CodeNotFound},
		{"sub", 404, api.CodeNotFound},           // a folder in new/
		{"new", 404, api.CodeNotFound},           // the folder itself
		{other[0].Name(), 404, api.CodeNotFound}, // another user's message
	} {
		for _, method := range []string{"GET", "DELETE"} {
			resp := e.do(alice(method, "/api/v1/mailbox/messages/"+tc.id))
			body, _ := io.ReadAll(resp.Body)
			if strings.Contains(string(body), secret) || strings.Contains(string(body), "not alice's") {
				t.Errorf("%s %s: served what is not Alice's: %s", method, tc.id, body)
			}
			if tc.code == "" {
				if resp.StatusCode == http.StatusNoContent || resp.Header.Get("Content-Type") == "message/rfc822" {
					t.Errorf("%s %s: %d %s", method, tc.id, resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				continue
			}
			if resp.StatusCode != tc.status || !strings.Contains(string(body), `"code":"`+tc.code+`"`) {
				t.Errorf("%s %s: %d %s, want %d %s", method, tc.id, resp.StatusCode, body, tc.status, tc.code)
			}
		}
	}
	// Everything is still there.
	for _, p := range []string{filepath.Join(e.boxes.Root, "secret"), filepath.Join(aliceDir, "secret"), filepath.Join(e.boxes.Dir(delivery.Folder("nopw@contoso.test")), "new", other[0].Name())} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
