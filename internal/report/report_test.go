package report

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"
)

const original = "From: Alice <alice@contoso.test>\r\nTo: [FAX:+1 555 0100]\r\nSubject: =?utf-8?q?Quarterly_r=C3=A9sultats?=\r\nDate: Sun, 29 Nov 2026 09:00:00 +0000\r\nMessage-ID: <m1@contoso.test>\r\n\r\nThe numbers.\r\n"

func sample() Report {
	t0 := time.Date(2026, 11, 29, 9, 0, 5, 0, time.UTC)
	return Report{
		ReportingMTA: "hub-hq.contoso.test", Postmaster: "postmaster@contoso.test", To: "alice@contoso.test",
		EnvID: "env-1", Arrival: t0, Date: t0.Add(time.Minute),
		Recipients: []Recipient{
			{Written: "[FAX:+1 555 0100]", Type: "FAX", Address: "+1 555 0100", Status: "5.4.4", RemoteText: "ROUTING.NoConnectorForAddressType; unable to route for address type FAX"},
			{Written: "bob@fabrikam.test", Type: "SMTP", Address: "bob@fabrikam.test", ORCPT: "rfc822;bob@fabrikam.test", Status: "5.1.1", RemoteHost: "mx.fabrikam.test", RemoteText: "550 5.1.1 no such user", LastAttempt: t0.Add(30 * time.Second)},
			{Written: "X400:c=US;a= ;p=Fabrikam;s=Smith;", Type: "X400", Address: "c=US;a= ;p=Fabrikam;s=Smith;", Status: "4.4.7", RemoteText: "Queue expired; Message expired"},
		},
	}
}

func TestNDRStructure(t *testing.T) {
	out, err := NDR(sample(), strings.NewReader(original))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subj != "Undeliverable: Quarterly résultats" {
		t.Errorf("subject %q", subj)
	}
	if msg.Header.Get("Auto-Submitted") != "auto-replied" || !strings.Contains(msg.Header.Get("From"), "postmaster@contoso.test") || msg.Header.Get("In-Reply-To") != "<m1@contoso.test>" {
		t.Errorf("headers %v", msg.Header)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("content type %q %v", mt, params)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var parts []string
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, string(b))
		types = append(types, p.Header.Get("Content-Type"))
	}
	if len(parts) != 3 || !strings.HasPrefix(types[1], "message/delivery-status") || types[2] != "text/rfc822-headers" {
		t.Fatalf("parts %v", types)
	}
	human := parts[0]
	for _, want := range []string{
		"Subject: Quarterly résultats", "Sent:    Sunday, 29 November 2026 09:00 UTC",
		"[FAX:+1 555 0100]", "None of the organization's connectors can send to FAX addresses from your site",
		"bob@fabrikam.test", "wasn't found", "Generating server: hub-hq.contoso.test",
		"Remote server: mx.fabrikam.test", "#550 5.1.1 no such user ##",
		"#550 5.4.4 ROUTING.NoConnectorForAddressType", "#450 4.4.7 Queue expired; Message expired ##",
	} {
		if !strings.Contains(human, want) {
			t.Errorf("human part lacks %q:\n%s", want, human)
		}
	}
	ds := parts[1]
	for _, want := range []string{
		"Reporting-MTA: dns; hub-hq.contoso.test\r\nOriginal-Envelope-Id: env-1\r\nArrival-Date: Sun, 29 Nov 2026 09:00:05 +0000\r\n\r\n",
		"\r\n\r\nFinal-Recipient: rfc822;IMCEAFAX-+2B1+20555+200100@contoso.test\r\nAction: failed\r\nStatus: 5.4.4\r\n",
		"Original-Recipient: rfc822;bob@fabrikam.test\r\nFinal-Recipient: rfc822;bob@fabrikam.test\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.fabrikam.test\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\nLast-Attempt-Date: Sun, 29 Nov 2026 09:00:35 +0000\r\n",
		"\r\n\r\nFinal-Recipient: rfc822;IMCEAX400-c=US+3Ba=+20+3Bp=Fabrikam+3Bs=Smith+3B@contoso.test\r\n",
	} {
		if !strings.Contains(ds, want) {
			t.Errorf("delivery-status lacks %q:\n%s", want, ds)
		}
	}
	if !strings.Contains(parts[2], "Message-ID: <m1@contoso.test>") || strings.Contains(parts[2], "The numbers.") {
		t.Errorf("headers part: %q", parts[2])
	}
}

func TestNDRReturnsFullMessage(t *testing.T) {
	r := sample()
	r.Ret = "FULL"
	out, _ := NDR(r, strings.NewReader(original))
	if !bytes.Contains(out, []byte("Content-Type: message/rfc822\r\n\r\nFrom: Alice")) || !bytes.Contains(out, []byte("The numbers.")) {
		t.Errorf("RET=FULL does not return the message:\n%s", out)
	}
}

func TestNoInjectionFromOriginal(t *testing.T) {
	r := sample()
	r.Recipients[0].RemoteText = "550 bad\r\nX-Injected: yes"
	out, _ := NDR(r, strings.NewReader("Subject: hi\r\n\r\nbody\r\n"))
	if bytes.Contains(out, []byte("\r\nX-Injected")) {
		t.Error("a remote reply added a line to the report")
	}
}

func TestDelayNotification(t *testing.T) {
	r := sample()
	r.Delay = true
	r.WillRetryUntil = r.Arrival.Add(48 * time.Hour)
	r.Recipients = r.Recipients[1:2]
	r.Recipients[0].Status = "4.4.7"
	out, err := NDR(r, strings.NewReader(original))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"Subject: =?utf-8?q?Delivery_delayed:", "Delivery is delayed to these recipients", "will keep trying until Tuesday, 1 December 2026 09:00 UTC",
		"Action: delayed\r\nStatus: 4.4.7\r\n", "Will-Retry-Until: Tue, 01 Dec 2026 09:00:05 +0000\r\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("delay report lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Action: failed") || strings.Contains(s, "Undeliverable") {
		t.Error("a delay notification reads like a failure")
	}
}

// A recipient's Reason replaces the plain-words explanation of its status
// in the part for people, word-wrapped under the recipient; the status
// part is unchanged.
func TestNDRReason(t *testing.T) {
	r := sample()
	r.Recipients = r.Recipients[:1]
	r.Recipients[0].Reason = "None of your e-mail accounts could send to this recipient.\r\nInjected: no. " + strings.Repeat("More words to wrap. ", 10)
	out, err := NDR(r, strings.NewReader(original))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.Contains(s, "\r\n      None of your e-mail accounts could send to this recipient. Injected: no.") || strings.Contains(s, "\r\nInjected") {
		t.Errorf("reason missing or not kept to its paragraph:\n%s", s)
	}
	for _, l := range strings.Split(s, "\r\n") {
		if strings.Contains(l, "More words") && (len(l) > 78 || !strings.HasPrefix(l, "      ")) {
			t.Errorf("reason line not wrapped under the recipient: %q", l)
		}
	}
	if strings.Contains(s, Explain("5.4.4", "FAX")) {
		t.Errorf("the default explanation is still there:\n%s", s)
	}
	if !strings.Contains(s, "Status: 5.4.4\r\n") || !strings.Contains(s, "Final-Recipient: rfc822;IMCEAFAX-+2B1+20555+200100@contoso.test\r\n") {
		t.Errorf("status part changed:\n%s", s)
	}
}
