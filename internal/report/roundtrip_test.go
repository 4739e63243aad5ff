package report

import (
	"bytes"
	"mime"
	"strings"
	"testing"
	"time"
)

// Every kind of report Waypost writes reads back, through Parse, to the
// values it was written from.

// rcptWant is what one recipient of a written report must read back as,
// spelled out here rather than computed by the writer's own functions.
type rcptWant struct {
	final    Address
	original Address // zero: no Original-Recipient
	action   string
	status   string
	remote   MTA
	diag     Diagnostic
}

type roundTrip struct {
	name         string
	report       Report
	original     string
	statusType   string
	returnedType string
	full         bool // the whole original comes back
	rcpts        []rcptWant
}

const originalUTF8 = "From: J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbccher.test>\r\nTo: <j\xc3\xb6rg@b\xc3\xbccher.test>\r\nSubject: Gr\xc3\xbc\xc3\x9fe\r\nDate: Sun, 29 Nov 2026 09:00:00 +0000\r\nMessage-ID: <m2@b\xc3\xbccher.test>\r\n\r\nHallo.\r\n"

func roundTrips() []roundTrip {
	t0 := time.Date(2026, 11, 29, 9, 0, 5, 0, time.UTC)
	base := func() Report {
		return Report{ReportingMTA: "hub-hq.contoso.test", Postmaster: "postmaster@contoso.test", To: "alice@contoso.test",
			EnvID: "env-1", Arrival: t0, Date: t0.Add(time.Minute)}
	}
	addr := func(typ, v string) Address { return Address{typ, v, v} }

	ndr := sample() // FAX with no connector, SMTP with ORCPT refused remotely, X.400 expired; RET absent: headers
	full := base()
	full.Ret, full.EnvID = "FULL", ""
	full.Recipients = []Recipient{
		{Written: "carol@fabrikam.test", Type: "SMTP", Address: "carol@fabrikam.test", ORCPT: "x400;c=US;a= ;p=Fabrikam;s=Carol;",
			Status: "5.7.1", RemoteHost: "127.0.0.1:2525", RemoteText: "554 5.7.1 <carol@fabrikam.test>: Relay access denied", LastAttempt: t0.Add(time.Minute)},
		{Written: "[FAX:+1 555 0100]", Type: "FAX", Address: "+1 555 0100", Status: "5.3.0", RemoteHost: "/usr/local/bin/sendfax", RemoteText: "line busy"},
		{Written: "dave+41@fabrikam.test", Type: "SMTP", Address: "dave+41@fabrikam.test", ORCPT: "rfc822;dave+41@fabrikam.test",
			Status: "", RemoteHost: "hooks.fabrikam.test:8443", RemoteText: "HTTP 400 Bad Request"},
		{Written: "erin@fabrikam.test", Type: "SMTP", Address: "erin@fabrikam.test", Status: "5.1.1", RemoteHost: "2001:db8::25", RemoteText: "550 5.1.1 unknown"},
	}
	delay := base()
	delay.Delay, delay.WillRetryUntil, delay.Ret = true, t0.Add(48*time.Hour), "FULL"
	delay.Recipients = []Recipient{{Written: "Bob <bob@fabrikam.test>", Type: "SMTP", Address: "bob@fabrikam.test", ORCPT: "rfc822;bob@fabrikam.test",
		Status: "4.4.1", RemoteHost: "mx.fabrikam.test", RemoteText: "421 4.4.1 try later", LastAttempt: t0.Add(time.Hour)}}
	success := base()
	success.Success, success.Ret = true, "FULL"
	success.Recipients = []Recipient{
		{Written: "frank@contoso.test", Type: "SMTP", Address: "frank@contoso.test", ORCPT: "rfc822;frank@contoso.test", Status: "2.0.0", Action: "delivered"},
		{Written: "X400:c=US;a= ;p=Fabrikam;s=Grace;", Type: "X400", Address: "c=US;a= ;p=Fabrikam;s=Grace;", Status: "2.0.0", Action: "relayed",
			RemoteHost: "x400gw.fabrikam.test", RemoteText: "250 2.0.0 queued as 7F3A", LastAttempt: t0.Add(time.Second)},
		{Written: "[SMS:+1 555 0199]", Type: "SMS", Address: "+1 555 0199", Status: "2.0.0", Action: "relayed", RemoteHost: "sms.fabrikam.test:443", RemoteText: "accepted"},
	}
	global := base()
	global.Ret = "FULL"
	global.Recipients = []Recipient{{Written: "j\u00f6rg@b\u00fccher.test", Type: "SMTP", Address: "j\u00f6rg@b\u00fccher.test", ORCPT: "utf-8;j\u00f6rg@b\u00fccher.test",
		Status: "5.2.2", RemoteHost: "mx.b\u00fccher.test", RemoteText: "552 5.2.2 Postfach voll"}}
	globalHdrs := global
	globalHdrs.Ret = "HDRS"
	utf8ASCII := base()
	utf8ASCII.Recipients = []Recipient{{Written: "a+b=c@fabrikam.test", Type: "SMTP", Address: "a+b=c@fabrikam.test", ORCPT: "utf-8;a+b=c@fabrikam.test", Status: "5.1.1"}}

	return []roundTrip{
		{name: "non-delivery report", report: ndr, original: original, statusType: "message/delivery-status", returnedType: "text/rfc822-headers",
			rcpts: []rcptWant{
				{final: addr("rfc822", "IMCEAFAX-+2B1+20555+200100@contoso.test"), action: "failed", status: "5.4.4",
					diag: Diagnostic{"smtp", "550 5.4.4 ROUTING.NoConnectorForAddressType; unable to route for address type FAX"}},
				{final: addr("rfc822", "bob@fabrikam.test"), original: addr("rfc822", "bob@fabrikam.test"), action: "failed", status: "5.1.1",
					remote: MTA{Type: "dns", Name: "mx.fabrikam.test"}, diag: Diagnostic{"smtp", "550 5.1.1 no such user"}},
				{final: addr("rfc822", "IMCEAX400-c=US+3Ba=+20+3Bp=Fabrikam+3Bs=Smith+3B@contoso.test"), action: "failed", status: "4.4.7",
					diag: Diagnostic{"smtp", "450 4.4.7 Queue expired; Message expired"}},
			}},
		{name: "non-delivery report, RET=FULL, agents' hosts and programs", report: full, original: original, statusType: "message/delivery-status", returnedType: "message/rfc822", full: true,
			rcpts: []rcptWant{
				{final: addr("rfc822", "carol@fabrikam.test"), original: addr("x400", "c=US;a= ;p=Fabrikam;s=Carol;"), action: "failed", status: "5.7.1",
					remote: MTA{Type: "dns", Name: "[127.0.0.1]", Comment: "port 2525"}, diag: Diagnostic{"smtp", "554 5.7.1 <carol@fabrikam.test>: Relay access denied"}},
				{final: addr("rfc822", "IMCEAFAX-+2B1+20555+200100@contoso.test"), action: "failed", status: "5.3.0",
					remote: MTA{Type: "x-program", Name: "/usr/local/bin/sendfax"}, diag: Diagnostic{"smtp", "550 5.3.0 line busy"}},
				{final: addr("rfc822", "dave+41@fabrikam.test"), original: Address{"rfc822", "dave+2B41@fabrikam.test", "dave+41@fabrikam.test"}, action: "failed", status: "5.0.0",
					remote: MTA{Type: "dns", Name: "hooks.fabrikam.test", Comment: "port 8443"}, diag: Diagnostic{"smtp", "550 5.0.0 HTTP 400 Bad Request"}},
				{final: addr("rfc822", "erin@fabrikam.test"), action: "failed", status: "5.1.1",
					remote: MTA{Type: "dns", Name: "[IPv6:2001:db8::25]"}, diag: Diagnostic{"smtp", "550 5.1.1 unknown"}},
			}},
		{name: "delay notification (RET=FULL returns headers)", report: delay, original: original, statusType: "message/delivery-status", returnedType: "text/rfc822-headers",
			rcpts: []rcptWant{{final: addr("rfc822", "bob@fabrikam.test"), original: addr("rfc822", "bob@fabrikam.test"), action: "delayed", status: "4.4.1",
				remote: MTA{Type: "dns", Name: "mx.fabrikam.test"}, diag: Diagnostic{"smtp", "421 4.4.1 try later"}}}},
		{name: "success notification (RET=FULL returns headers)", report: success, original: original, statusType: "message/delivery-status", returnedType: "text/rfc822-headers",
			rcpts: []rcptWant{
				{final: addr("rfc822", "frank@contoso.test"), original: addr("rfc822", "frank@contoso.test"), action: "delivered", status: "2.0.0"},
				{final: addr("rfc822", "IMCEAX400-c=US+3Ba=+20+3Bp=Fabrikam+3Bs=Grace+3B@contoso.test"), action: "relayed", status: "2.0.0",
					remote: MTA{Type: "dns", Name: "x400gw.fabrikam.test"}, diag: Diagnostic{"smtp", "250 2.0.0 queued as 7F3A"}},
				{final: addr("rfc822", "IMCEASMS-+2B1+20555+200199@contoso.test"), action: "relayed", status: "2.0.0",
					remote: MTA{Type: "dns", Name: "sms.fabrikam.test", Comment: "port 443"}, diag: Diagnostic{"smtp", "250 2.0.0 accepted"}},
			}},
		{name: "SMTPUTF8 recipient, RET=FULL", report: global, original: originalUTF8, statusType: "message/global-delivery-status", returnedType: "message/global", full: true,
			rcpts: []rcptWant{{final: addr("utf-8", "j\u00f6rg@b\u00fccher.test"), original: addr("utf-8", "j\u00f6rg@b\u00fccher.test"), action: "failed", status: "5.2.2",
				remote: MTA{Type: "dns", Name: "mx.b\u00fccher.test"}, diag: Diagnostic{"smtp", "552 5.2.2 Postfach voll"}}}},
		{name: "SMTPUTF8 recipient, headers", report: globalHdrs, original: originalUTF8, statusType: "message/global-delivery-status", returnedType: "message/global-headers",
			rcpts: []rcptWant{{final: addr("utf-8", "j\u00f6rg@b\u00fccher.test"), original: addr("utf-8", "j\u00f6rg@b\u00fccher.test"), action: "failed", status: "5.2.2",
				remote: MTA{Type: "dns", Name: "mx.b\u00fccher.test"}, diag: Diagnostic{"smtp", "552 5.2.2 Postfach voll"}}}},
		{name: "utf-8 ORCPT in ASCII", report: utf8ASCII, original: original, statusType: "message/delivery-status", returnedType: "text/rfc822-headers",
			rcpts: []rcptWant{{final: addr("rfc822", "a+b=c@fabrikam.test"), original: Address{"utf-8", `a\x{2B}b\x{3D}c@fabrikam.test`, "a+b=c@fabrikam.test"},
				action: "failed", status: "5.1.1", diag: Diagnostic{"smtp", "550 5.1.1 delivery failed"}}}},
	}
}

func TestGeneratedReportsRoundTrip(t *testing.T) {
	for _, c := range roundTrips() {
		t.Run(c.name, func(t *testing.T) {
			out, err := NDR(c.report, strings.NewReader(c.original))
			if err != nil {
				t.Fatal(err)
			}
			checkLines(t, out)
			d, err := Parse(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			checkRoundTrip(t, c, d)
		})
	}
}

func checkRoundTrip(t *testing.T, c roundTrip, d *DSN) {
	t.Helper()
	r := c.report
	subject, _ := new(mime.WordDecoder).DecodeHeader(d.Header.Get("Subject"))
	if !strings.HasSuffix(subject, ": Quarterly résultats") && !strings.HasSuffix(subject, ": Grüße") {
		t.Errorf("Subject %q", subject)
	}
	if d.Header.Get("Auto-Submitted") != "auto-replied" || d.HumanType != "text/plain" {
		t.Errorf("Auto-Submitted %q, human part %q", d.Header.Get("Auto-Submitted"), d.HumanType)
	}
	for _, rc := range r.Recipients {
		if !strings.Contains(d.Human, rc.Written) {
			t.Errorf("the human-readable part lacks %q:\n%s", rc.Written, d.Human)
		}
	}
	if d.StatusType != c.statusType {
		t.Errorf("status part %s, want %s", d.StatusType, c.statusType)
	}
	checkMessage(t, d.Message, MessageFields{ReportingMTA: MTA{Type: "dns", Name: r.ReportingMTA}, OriginalEnvelopeID: r.EnvID, ArrivalDate: r.Arrival, Line: 1})
	if len(d.Recipients) != len(c.rcpts) {
		t.Fatalf("%d recipients, want %d", len(d.Recipients), len(c.rcpts))
	}
	for i, w := range c.rcpts {
		got := d.Recipients[i]
		got.Line = 0
		want := RecipientFields{OriginalRecipient: w.original, FinalRecipient: w.final, Action: w.action, Status: w.status,
			RemoteMTA: w.remote, DiagnosticCode: w.diag, LastAttemptDate: r.Recipients[i].LastAttempt}
		if r.Delay {
			want.WillRetryUntil = r.WillRetryUntil
		}
		checkRecipient(t, i, got, want)
	}
	head, err := readHeader(strings.NewReader(c.original))
	if err != nil {
		t.Fatal(err)
	}
	ret := string(head)
	if c.full {
		ret = c.original
	}
	if d.ReturnedType != c.returnedType || string(d.Returned) != ret {
		t.Errorf("returned %s %q, want %s %q", d.ReturnedType, d.Returned, c.returnedType, ret)
	}
}

// checkLines fails if a line of a message is longer than RFC 5322
// section 2.1.1 allows, or ends without CRLF.
func checkLines(t *testing.T, msg []byte) {
	t.Helper()
	for i, l := range bytes.Split(msg, []byte("\r\n")) {
		if len(l) > 998 {
			t.Errorf("line %d has %d characters", i+1, len(l))
		}
		if bytes.ContainsAny(l, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, l)
		}
	}
}

// Long texts from elsewhere are folded, and read back the same.
func TestLongFieldsFold(t *testing.T) {
	words := strings.Repeat("the remote server said something rather long ", 60)
	token := strings.Repeat("x", 2500)
	r := sample()
	r.Recipients = []Recipient{
		{Written: "bob@fabrikam.test", Type: "SMTP", Address: "bob@fabrikam.test", Status: "5.0.0", RemoteHost: "mx.fabrikam.test",
			RemoteText: "550-first line\r\n550-" + words + "\r\n550 last line"},
		{Written: "carol@fabrikam.test", Type: "SMTP", Address: "carol@fabrikam.test", Status: "5.0.0", RemoteText: "550 " + token},
	}
	subject := strings.Repeat("Quarterly résultats ", 150)
	orig := "Subject: " + strings.Repeat("Quarterly =?utf-8?q?r=C3=A9sultats?=\r\n ", 150) + "end\r\n\r\nbody\r\n"
	out, err := NDR(r, strings.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, out)
	d, err := Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := new(mime.WordDecoder).DecodeHeader(d.Header.Get("Subject"))
	if !strings.HasPrefix(got, "Undeliverable: "+subject[:200]) || !strings.HasSuffix(got, "end") {
		t.Errorf("Subject %q", got)
	}
	if want := "550-first line  550-" + words + "  550 last line"; d.Recipients[0].DiagnosticCode.Text != want {
		t.Errorf("folded diagnostic reads back as\n%q\nwant\n%q", d.Recipients[0].DiagnosticCode.Text, want)
	}
	// A run of 2,500 characters without a space must be broken somewhere.
	if got := strings.ReplaceAll(d.Recipients[1].DiagnosticCode.Text, " ", ""); got != "550"+token {
		t.Errorf("long token reads back as %q", got)
	}
}

// Status codes a delivery agent got wrong become the generic ones RFC
// 3461 section 6.3 (g) names, in both parts.
func TestStatusCodeFallback(t *testing.T) {
	for _, c := range []struct {
		status string
		kind   string
		want   string
	}{{"", "failure", "5.0.0"}, {"550", "failure", "5.0.0"}, {"4.4", "failure", "4.0.0"}, {"5.01.1x", "failure", "5.0.0"},
		{"", "delay", "4.0.0"}, {"", "success", "2.0.0"}, {"5.1.1", "failure", "5.1.1"}, {"4.7.0", "delay", "4.7.0"}} {
		r := sample()
		r.Recipients = r.Recipients[1:2]
		r.Recipients[0].Status = c.status
		r.Delay, r.Success = c.kind == "delay", c.kind == "success"
		out, err := NDR(r, strings.NewReader(original))
		if err != nil {
			t.Fatal(err)
		}
		d, err := Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%q %s: %v", c.status, c.kind, err)
		}
		if d.Recipients[0].Status != c.want {
			t.Errorf("%q in a %s report became %q, want %q", c.status, c.kind, d.Recipients[0].Status, c.want)
		}
		if c.kind == "failure" && !strings.Contains(d.Human, "Enhanced status code: "+c.want+"\r\n") {
			t.Errorf("%q: the human-readable part does not say %s:\n%s", c.status, c.want, d.Human)
		}
	}
}

// Any ORCPT of printable ASCII reads back as itself.
func TestORCPTRoundTrip(t *testing.T) {
	for _, orcpt := range []string{"rfc822;bob@fabrikam.test", "rfc822;bob+tag@fabrikam.test", "rfc822;bob+2B@fabrikam.test",
		"rfc822;b=ob+41@fabrikam.test", "rfc822;+41+42+43", "rfc822;\"bob smith\"@fabrikam.test", "x400;c=US;a= ;p=Fabrikam;s=Smith;",
		"x400;+3D+20", "utf-8;bob\\x{41}@fabrikam.test", "utf-8;a b+c=d\\e@fabrikam.test", "unknown;nair_s"} {
		r := sample()
		r.Recipients = r.Recipients[1:2]
		r.Recipients[0].ORCPT = orcpt
		out, err := NDR(r, strings.NewReader(original))
		if err != nil {
			t.Fatal(err)
		}
		d, err := Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%s: %v", orcpt, err)
		}
		o := d.Recipients[0].OriginalRecipient
		if o.Type+";"+o.Value != orcpt {
			t.Errorf("ORCPT %q reads back as %+v", orcpt, o)
		}
	}
}
