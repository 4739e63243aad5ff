package client

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"strings"
	"testing"
)

// Offline, a deliverable recipient is queued and one of an uncached type
// is held; both stay in the outbox on disk, and no report is written.
func TestSendOffline(t *testing.T) {
	p := newProfile(t, []string{"SMTP", "X500"})
	res, err := p.Send(context.Background(), Draft{To: []string{"[FAX:+1 555 0100]", "carol@fabrikam.test"}, Cc: []string{"FAX:+1 555 0142"}, Subject: "Offline", Body: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Online || res.Held != 1 || res.Pending != 2 || res.Sent != 0 || res.Refused != 0 || len(res.Reports) != 0 || res.Outbox != 1 || len(res.Warnings) == 0 {
		t.Errorf("result %+v", res)
	}
	items, err := p.Outbox()
	if err != nil || len(items) != 1 {
		t.Fatalf("outbox %v %v", items, err)
	}
	it := items[0]
	if it.ID != res.ID || it.Count(Held) != 1 || it.Count(Pending) != 2 || it.Attempts != 1 || it.LastError == "" {
		t.Errorf("item %+v", it)
	}
	if r := it.Recipients[2]; r.Entry != "Bob (Branch)" || r.State != Pending {
		t.Errorf("a FAX proxy of a mailbox goes to the hub: %+v", r)
	}
	if inbox, _ := p.Inbox(); len(inbox) != 0 {
		t.Errorf("offline send wrote to the inbox: %+v", inbox)
	}
	if !strings.Contains(it.Message, "Subject: Offline\r\n") {
		t.Errorf("message %q", it.Message)
	}

	// A sync while still offline changes nothing and says so.
	sres, err := p.Sync(context.Background())
	if err != nil || sres.Online || sres.Outbox != 1 {
		t.Errorf("offline sync: %+v %v", sres, err)
	}
	if items, _ := p.Outbox(); len(items) != 1 || items[0].Count(Held) != 1 {
		t.Errorf("offline sync touched the outbox: %+v", items)
	}
}

func TestSendBadRecipient(t *testing.T) {
	p := newProfile(t, []string{"SMTP"})
	_, err := p.Send(context.Background(), Draft{To: []string{"ok@contoso.test", "bad@@contoso.test"}, Subject: "x"})
	if err == nil || !strings.Contains(err.Error(), "bad@@contoso.test") {
		t.Errorf("error %v", err)
	}
	if _, err := p.Send(context.Background(), Draft{Subject: "x"}); err == nil || !strings.Contains(err.Error(), "no recipients") {
		t.Errorf("no recipients: %v", err)
	}
	if items, _ := p.Outbox(); len(items) != 0 {
		t.Errorf("a refused draft reached the outbox: %+v", items)
	}
}

// The local report is a multipart/report (RFC 3464) laid out like
// Outlook's in the seed: the subject, the send time, each recipient that
// could not be reached with its name, and the reason.
func TestLocalNDR(t *testing.T) {
	p := newProfile(t, []string{"SMTP", "X500"})
	book := sampleBook()
	rcpts, _ := Resolve(&book, "to", []string{"Front Desk[FAX:+1 555 0101]", "[FAX:+1 555 0100]", "bob@contoso.test"})
	types := &TypesCache{AddressTypes: AddressTypes{Site: "HQ", Types: []string{"SMTP", "X500"}, Version: "v1"}, Checked: now0}
	for i := range rcpts {
		rcpts[i].decide(types, true, true)
	}
	msg, _ := compose(mail.Address{Name: "Alice (HQ)", Address: "alice@contoso.test"}, rcpts, Draft{Subject: "Fax the numbers"}, "contoso.test", now0)
	it := &Item{ID: "m1", Created: now0, Subject: "Fax the numbers", Recipients: rcpts, Message: string(msg)}
	id, err := p.localNDR(it, []Recipient{rcpts[0], rcpts[1]}, types)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := p.Show(id)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if subj != "Undeliverable: Fax the numbers" || m.Header.Get(localHeader) != "m1" || !strings.Contains(m.Header.Get("To"), "alice@contoso.test") {
		t.Errorf("headers %v", m.Header)
	}
	mt, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("content type %s %v", mt, params)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var parts []string
	var human, status string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part)
		ct := part.Header.Get("Content-Type")
		parts = append(parts, strings.Split(ct, ";")[0])
		switch {
		case strings.HasPrefix(ct, "text/plain"):
			human = string(b)
		case ct == "message/delivery-status":
			status = string(b)
		}
	}
	if strings.Join(parts, ",") != "text/plain,message/delivery-status,text/rfc822-headers" {
		t.Errorf("parts %v", parts)
	}
	for _, want := range []string{
		"Your message did not reach some or all of the intended recipients.",
		"Subject: Fax the numbers",
		"Sent:    Sunday, 29 November 2026 09:00 UTC",
		"The following recipients could not be reached:",
		"  Front Desk [FAX:+1 555 0101]  (Sunday, 29 November 2026 09:00 UTC)",
		"  [FAX:+1 555 0100]  (Sunday, 29 November 2026 09:00 UTC)",
		"None of your e-mail accounts could send to this recipient. Your site (HQ) may send to SMTP, X500 addresses, but not to FAX addresses",
	} {
		if !strings.Contains(flat(human), flat(want)) {
			t.Errorf("the report lacks %q:\n%s", want, human)
		}
	}
	if strings.Contains(human, "bob@contoso.test") && !strings.Contains(human, "Original message headers") {
		t.Errorf("bob was not refused:\n%s", human)
	}
	for _, want := range []string{"Final-Recipient: rfc822;IMCEAFAX-+2B1+20555+200101@contoso.test", "Final-Recipient: rfc822;IMCEAFAX-+2B1+20555+200100@contoso.test", "Action: failed", "Status: 5.4.4",
		"Diagnostic-Code: smtp; 550 5.4.4 None of your e-mail accounts could send to this recipient: address type FAX is not in the list of site HQ (version v1"} {
		if !strings.Contains(flat(status), flat(want)) {
			t.Errorf("the status part lacks %q:\n%s", want, status)
		}
	}
	inbox, err := p.Inbox()
	if err != nil || len(inbox) != 1 || !inbox[0].Local || inbox[0].ID != id || inbox[0].Subject != "Undeliverable: Fax the numbers" {
		t.Errorf("inbox %+v %v", inbox, err)
	}
	fi, _ := os.Stat(p.path(inboxDir, id+".eml"))
	if fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("report file mode %v", fi)
	}
}

func TestShowRejectsPaths(t *testing.T) {
	p := newProfile(t, nil)
	for _, id := range []string{"../profile.json", "../credentials", "", ".hidden", "a/b"} {
		if _, err := p.Show(id); err == nil || !strings.Contains(err.Error(), "no message") {
			t.Errorf("Show(%q): %v", id, err)
		}
	}
	if err := p.addInbox("1712345678.M1P2.hub-hq1,S=42", []byte("Subject: hi\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	inbox, _ := p.Inbox()
	if len(inbox) != 1 || inbox[0].Subject != "hi" || !p.hasInbox("1712345678.M1P2.hub-hq1,S=42") {
		t.Errorf("inbox %+v", inbox)
	}
	if _, err := p.Show(inbox[0].ID); err != nil {
		t.Errorf("Show(%q): %v", inbox[0].ID, err)
	}
}

// flat is text with its lines unfolded and runs of white space made one
// space, for looking up sentences that the report wraps.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }
