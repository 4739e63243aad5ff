package client

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"
)

var now0 = time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)

func TestCompose(t *testing.T) {
	book := sampleBook()
	to, _ := Resolve(&book, "to", []string{"[FAX:+1 555 0100]", "bob@contoso.test"})
	cc, _ := Resolve(&book, "cc", []string{"Front Desk[FAX:+1 555 0101]"})
	bcc, _ := Resolve(&book, "bcc", []string{"secret@fabrikam.test"})
	rcpts := append(append(to, cc...), bcc...)
	raw, id := compose(mail.Address{Name: "Alice (HQ)", Address: "alice@contoso.test"}, rcpts,
		Draft{Subject: "Quarterly résultats\r\nBcc: injected@x", Body: "Les chiffres.\nLine two\n"}, "contoso.test", now0)
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) || bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\r")) {
		t.Errorf("bare CR or LF in %q", raw)
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	toList, err := m.Header.AddressList("To")
	if err != nil || len(toList) != 2 || toList[0].Address != "IMCEAFAX-+2B1+20555+200100@contoso.test" || toList[0].Name != "[FAX:+1 555 0100]" ||
		toList[1].Address != "bob@contoso.test" || toList[1].Name != "Bob (Branch)" {
		t.Errorf("To: %v %v", toList, err)
	}
	ccList, err := m.Header.AddressList("Cc")
	if err != nil || len(ccList) != 1 || ccList[0].Name != "Front Desk" || !strings.HasPrefix(ccList[0].Address, "IMCEAFAX-") {
		t.Errorf("Cc: %v %v", ccList, err)
	}
	if strings.Contains(string(raw), "secret@fabrikam.test") || m.Header.Get("Bcc") != "" {
		t.Errorf("a Bcc recipient shows in the message")
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if subj != "Quarterly résultats  Bcc: injected@x" {
		t.Errorf("subject %q", subj)
	}
	if m.Header.Get("Message-ID") != id || !strings.HasSuffix(id, "@contoso.test>") {
		t.Errorf("message id %q / %q", m.Header.Get("Message-ID"), id)
	}
	if d, err := m.Header.Date(); err != nil || !d.Equal(now0) {
		t.Errorf("date %v %v", d, err)
	}
	body, _ := io.ReadAll(m.Body)
	if m.Header.Get("Content-Transfer-Encoding") != "7bit" || string(body) != "Les chiffres.\r\nLine two\r\n" {
		t.Errorf("body %q (%s)", body, m.Header.Get("Content-Transfer-Encoding"))
	}
	raw, _ = compose(mail.Address{Address: "alice@contoso.test"}, to, Draft{Subject: "x", Body: "Grüße"}, "contoso.test", now0)
	m, _ = mail.ReadMessage(bytes.NewReader(raw))
	body, _ = io.ReadAll(m.Body)
	if m.Header.Get("Content-Transfer-Encoding") != "quoted-printable" || !strings.Contains(string(body), "Gr=C3=BC=C3=9Fe") {
		t.Errorf("non-ASCII body %q", body)
	}
}
