package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// want is what a test expects of a parsed report; zero fields of Human
// and Subject are not checked.
type want struct {
	subject      string
	humanType    string
	human        []string // pieces the human-readable text contains
	statusType   string
	message      MessageFields
	recipients   []RecipientFields
	returnedType string
	returned     string
}

func zone(h int) *time.Location { return time.FixedZone("", h*3600) }

// The examples of RFC 3464 appendix E and RFC 3461 section 10 (see
// testdata/*/README.md), field by field.
var rfcExamples = map[string]want{
	"rfc3464/simple.eml": {
		subject:   "Returned mail: Cannot send message for 5 days",
		humanType: "text/plain",
		human: []string{"The original message was received at Sat, 2 Jul 1994 17:10:28 -0400\nfrom root@localhost\n",
			"<louisl@larry.slip.umd.edu>... Deferred: Connection timed out\n            with larry.slip.umd.edu.\n", "Message will be deleted from queue\n"},
		statusType: "message/delivery-status",
		message:    MessageFields{ReportingMTA: MTA{Type: "dns", Name: "cs.utk.edu"}, Line: 1},
		recipients: []RecipientFields{{
			OriginalRecipient: Address{"rfc822", "louisl@larry.slip.umd.edu", "louisl@larry.slip.umd.edu"},
			FinalRecipient:    Address{"rfc822", "louisl@larry.slip.umd.edu", "louisl@larry.slip.umd.edu"},
			Action:            "failed", Status: "4.0.0",
			DiagnosticCode:  Diagnostic{"smtp", "426 connection timed out"},
			LastAttemptDate: time.Date(1994, 7, 7, 17, 15, 49, 0, zone(-4)),
			Line:            3,
		}},
		returnedType: "message/rfc822", returned: "[original message goes here]\n",
	},
	"rfc3464/multi-recipient.eml": {
		subject:    "Returned mail: User unknown",
		humanType:  "text/plain",
		human:      []string{"       ----- The following addresses had delivery problems -----\n<arathib@vnet.ibm.com> (unrecoverable error)\n<wsnell@sdcc13.ucsd.edu> (unrecoverable error)\n"},
		statusType: "message/delivery-status",
		message:    MessageFields{ReportingMTA: MTA{Type: "dns", Name: "cs.utk.edu"}, Line: 1},
		recipients: []RecipientFields{{
			OriginalRecipient: Address{"rfc822", "arathib@vnet.ibm.com", "arathib@vnet.ibm.com"},
			FinalRecipient:    Address{"rfc822", "arathib@vnet.ibm.com", "arathib@vnet.ibm.com"},
			Action:            "failed", Status: "5.0.0", StatusComment: "permanent failure",
			DiagnosticCode: Diagnostic{"smtp", "550 'arathib@vnet.IBM.COM' is not a registered gateway user"},
			RemoteMTA:      MTA{Type: "dns", Name: "vnet.ibm.com"},
			Line:           3,
		}, {
			OriginalRecipient: Address{"rfc822", "johnh@hpnjld.njd.hp.com", "johnh@hpnjld.njd.hp.com"},
			FinalRecipient:    Address{"rfc822", "johnh@hpnjld.njd.hp.com", "johnh@hpnjld.njd.hp.com"},
			Action:            "delayed", Status: "4.0.0", StatusComment: "hpnjld.njd.jp.com: host name lookup failure",
			Line: 11,
		}, {
			OriginalRecipient: Address{"rfc822", "wsnell@sdcc13.ucsd.edu", "wsnell@sdcc13.ucsd.edu"},
			FinalRecipient:    Address{"rfc822", "wsnell@sdcc13.ucsd.edu", "wsnell@sdcc13.ucsd.edu"},
			Action:            "failed", Status: "5.0.0",
			DiagnosticCode: Diagnostic{"smtp", "550 user unknown"},
			RemoteMTA:      MTA{Type: "dns", Name: "sdcc13.ucsd.edu"},
			Line:           16,
		}},
		returnedType: "message/rfc822", returned: " [original message goes here]\n",
	},
	"rfc3464/gateway.eml": {
		subject:    "Status of: Re: Battery current sense",
		humanType:  "text/plain",
		human:      []string{"Invalid address - nair_s\n%DIR-E-NODIRMTCH, No matching Directory Entry\nEntry found\n"},
		statusType: "message/delivery-status",
		message:    MessageFields{ReportingMTA: MTA{Type: "mailbus", Name: "SYS30"}, Line: 1},
		recipients: []RecipientFields{{
			FinalRecipient: Address{"unknown", "nair_s", "nair_s"},
			Action:         "failed", Status: "5.0.0", StatusComment: "unknown permanent failure",
			Line: 3,
		}},
	},
	"rfc3464/delayed.eml": {
		subject:    `WARNING: message delayed at "nsfnet-relay.ac.uk"`,
		humanType:  "text/plain",
		human:      []string{"The following message:\n\nUA-ID: Reliable PC (...\n", "    thomas@de-montfort.ac.uk\n", "Please quote the Q-ID in any queries regarding this mail.\n"},
		statusType: "message/delivery-status",
		message:    MessageFields{ReportingMTA: MTA{Type: "dns", Name: "sun2.nsfnet-relay.ac.uk"}, Line: 1},
		recipients: []RecipientFields{{
			FinalRecipient: Address{"rfc822", "thomas@de-montfort.ac.uk", "thomas@de-montfort.ac.uk"},
			Action:         "delayed", Status: "4.0.0", StatusComment: "unknown temporary failure",
			Line: 3,
		}},
	},
	"rfc3461/delivered.eml": {
		subject:    "Delivery Notification (success) for Bob@Example.COM",
		humanType:  "text/plain",
		human:      []string{"Your message (id QQ314159) was successfully delivered to\nBob@Example.COM.\n"},
		statusType: "message/delivery-status",
		message:    MessageFields{OriginalEnvelopeID: "QQ314159", ReportingMTA: MTA{Type: "dns", Name: "mail.Example.COM"}, Line: 1},
		recipients: []RecipientFields{{
			OriginalRecipient: Address{"rfc822", "Bob@Example.COM", "Bob@Example.COM"},
			FinalRecipient:    Address{"rfc822", "Bob@Example.COM", "Bob@Example.COM"},
			Action:            "delivered", Status: "2.0.0",
			Line: 4,
		}},
		returnedType: "message/rfc822", returned: "(headers of returned message go here)\n",
	},
	"rfc3461/failed.eml": {
		subject:    "Delivery Notification (failure) for Carol@Ivory.EDU",
		humanType:  "text/plain",
		human:      []string{"(while talking to Ivory.EDU)\n>>> RCPT TO:<Carol@Ivory.EDU> NOTIFY=FAILURE\n<<< 550 error - no such recipient\n"},
		statusType: "message/delivery-status",
		message:    MessageFields{OriginalEnvelopeID: "QQ314159", ReportingMTA: MTA{Type: "dns", Name: "Example.ORG"}, Line: 1},
		recipients: []RecipientFields{{
			OriginalRecipient: Address{"rfc822", "Carol@Ivory.EDU", "Carol@Ivory.EDU"},
			FinalRecipient:    Address{"rfc822", "Carol@Ivory.EDU", "Carol@Ivory.EDU"},
			Action:            "failed", Status: "5.0.0",
			DiagnosticCode: Diagnostic{"smtp", "550 error - no such recipient"},
			Extensions:     []Field{{"SMTP-Remote-Recipient", "Carol@Ivory.EDU", 6}},
			Line:           4,
		}},
		returnedType: "message/rfc822", returned: "(headers of returned message go here)\n",
	},
	"rfc3461/relayed.eml": {
		subject:    "mail relayed for Dana@Ivory.EDU",
		humanType:  "text/plain",
		human:      []string{"relayed to:\n\nymail!Dana\n\nby the FooMail gateway at Ivory.EDU.\n"},
		statusType: "message/delivery-status",
		message:    MessageFields{OriginalEnvelopeID: "QQ314159", ReportingMTA: MTA{Type: "dns", Name: "Ivory.EDU"}, Line: 1},
		recipients: []RecipientFields{{
			OriginalRecipient: Address{"rfc822", "Dana@Ivory.EDU", "Dana@Ivory.EDU"},
			FinalRecipient:    Address{"rfc822", "Dana@Ivory.EDU", "Dana@Ivory.EDU"},
			Action:            "relayed", Status: "2.0.0",
			Line: 4,
		}},
		returnedType: "message/rfc822", returned: "(headers of returned message go here)\n",
	},
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// check compares a parsed report with what is wanted, field by field.
func check(t *testing.T, d *DSN, w want, nl string) {
	t.Helper()
	lf := func(s string) string { return strings.ReplaceAll(s, "\n", nl) }
	if w.subject != "" && d.Header.Get("Subject") != w.subject {
		t.Errorf("Subject %q, want %q", d.Header.Get("Subject"), w.subject)
	}
	if w.humanType != "" && d.HumanType != w.humanType {
		t.Errorf("human-readable part %q, want %q", d.HumanType, w.humanType)
	}
	for _, h := range w.human {
		if !strings.Contains(d.Human, lf(h)) {
			t.Errorf("human-readable text lacks %q:\n%s", lf(h), d.Human)
		}
	}
	if d.StatusType != w.statusType {
		t.Errorf("status part %q, want %q", d.StatusType, w.statusType)
	}
	checkMessage(t, d.Message, w.message)
	if len(d.Recipients) != len(w.recipients) {
		t.Fatalf("%d recipients, want %d: %+v", len(d.Recipients), len(w.recipients), d.Recipients)
	}
	for i := range w.recipients {
		checkRecipient(t, i, d.Recipients[i], w.recipients[i])
	}
	if d.ReturnedType != w.returnedType || string(d.Returned) != lf(w.returned) {
		t.Errorf("returned part %s %q, want %s %q", d.ReturnedType, d.Returned, w.returnedType, lf(w.returned))
	}
}

func checkMessage(t *testing.T, got, want MessageFields) {
	t.Helper()
	if !got.ArrivalDate.Equal(want.ArrivalDate) {
		t.Errorf("Arrival-Date %v, want %v", got.ArrivalDate, want.ArrivalDate)
	}
	got.ArrivalDate, want.ArrivalDate = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("per-message fields\n got %+v\nwant %+v", got, want)
	}
}

func checkRecipient(t *testing.T, i int, got, want RecipientFields) {
	t.Helper()
	for _, d := range []struct {
		name      string
		got, want *time.Time
	}{{"Last-Attempt-Date", &got.LastAttemptDate, &want.LastAttemptDate}, {"Will-Retry-Until", &got.WillRetryUntil, &want.WillRetryUntil}} {
		if !d.got.Equal(*d.want) {
			t.Errorf("recipient %d: %s %v, want %v", i, d.name, *d.got, *d.want)
		}
		*d.got, *d.want = time.Time{}, time.Time{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("recipient %d\n got %+v\nwant %+v", i, got, want)
	}
}

func TestRFCExamples(t *testing.T) {
	for name, w := range rfcExamples {
		for _, nl := range []string{"\n", "\r\n"} {
			t.Run(name+map[string]string{"\n": " LF", "\r\n": " CRLF"}[nl], func(t *testing.T) {
				b := bytes.ReplaceAll(readTestdata(t, name), []byte("\n"), []byte(nl))
				d, err := Parse(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				check(t, d, w, nl)
			})
		}
	}
}

// The RFC 3464 examples as the RFC prints them, where that differs from
// the testdata (see its README): each is refused with an error that says
// what is wrong and where.
func TestRFCExamplesAsPrinted(t *testing.T) {
	simple := string(readTestdata(t, "rfc3464/simple.eml"))
	head := "Date: Thu, 7 Jul 1994 17:16:05 -0400 From: Mail Delivery Subsystem\n<MAILER-DAEMON@CS.UTK.EDU> Message-Id:\n<199407072116.RAA14128@CS.UTK.EDU> Subject: Returned mail: Cannot\nsend message for 5 days To: <owner-info-mime@cs.utk.edu> MIME-\nVersion: 1.0 Content-Type: multipart/report; report-type=delivery-\nstatus;\n"
	simple = head + simple[strings.Index(simple, "       boundary="):]
	multi := strings.Replace(string(readTestdata(t, "rfc3464/multi-recipient.eml")),
		"\n--JAA13167.773673707/CS.UTK.EDU\ncontent-type: message/delivery-status", "\n --JAA13167.773673707/CS.UTK.EDU\ncontent-type: message/delivery-status", 1)
	forwarded := string(readTestdata(t, "rfc3461/forwarded-failure.eml"))
	withBlank := strings.Replace(forwarded, "--defgh\n", "--defgh\n\n", 1)
	for _, c := range []struct{ name, msg, err string }{
		{"simple, header run together", simple, "reading the message header: malformed header line"},
		{"multi-recipient, indented boundary", multi, "the multipart/report has no message/delivery-status part (its parts: text/plain, message/rfc822)"},
		{"RFC 3461 10.9, no blank line after the boundary", forwarded, `part 1 of the multipart/report: malformed MIME header: missing colon: "Your message, originally addressed to George@Tax-ME.GOV, and"`},
		{"RFC 3461 10.9, Reporting-MTA without type", withBlank, `the message/delivery-status part: line 1: Reporting-MTA "Boondoggle.GOV" has no type: write it as type;value, e.g. Reporting-MTA: dns; mail.example.com`},
	} {
		_, err := Parse(strings.NewReader(c.msg))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.err)
		}
	}
	// With its type, 10.9 reads as its text says.
	fixed := strings.Replace(withBlank, "Reporting-MTA: Boondoggle.GOV", "Reporting-MTA: dns; Boondoggle.GOV", 1)
	d, err := Parse(strings.NewReader(fixed))
	if err != nil {
		t.Fatal(err)
	}
	check(t, d, want{
		human:      []string{"write error to mailbox, disk quota exceeded\n"},
		statusType: "message/delivery-status",
		message:    MessageFields{OriginalEnvelopeID: "QQ314159", ReportingMTA: MTA{Type: "dns", Name: "Boondoggle.GOV"}, Line: 1},
		recipients: []RecipientFields{{
			OriginalRecipient: Address{"rfc822", "George@Tax-ME.GOV", "George@Tax-ME.GOV"},
			FinalRecipient:    Address{"rfc822", "Sam@Boondoggle.GOV", "Sam@Boondoggle.GOV"},
			Action:            "failed", Status: "4.2.2", StatusComment: "disk quota exceeded", Line: 4,
		}},
		returnedType: "message/rfc822", returned: "(headers of returned message go here)\n",
	}, "\n")
}

// Everything RFC 3464 section 2 allows in the fields, in one status part.
func TestParseStatusFields(t *testing.T) {
	body := "original-envelope-id: QQ314159 (not a comment)\r\n" +
		"REPORTING-MTA: DNS (the name system) ; hub-hq.contoso.test\r\n" +
		"DSN-Gateway: dns; gw.contoso.test\r\n" +
		"Received-From-MTA: dns; mail.fabrikam.test (192.0.2.1)\r\n" +
		"Arrival-Date: Fri, 08 Jul 1994 09:21:25 -0400 (EDT)\r\n" +
		"X-Waypost-Queue-ID: 42\r\n" +
		"\r\n" +
		"Original-Recipient: rfc822;bob+2Btag@fabrikam.test\r\n" +
		"Final-Recipient: rfc822 (internet);\r\n\tbob+tag@fabrikam.test\r\n" +
		"Action: FAILED\r\n" +
		"Status: 5.1.1(=?utf-8?q?caf=C3=A9?= closed)\r\n" +
		"Remote-MTA: dns; [192.0.2.7] (port 2525)\r\n" +
		"Diagnostic-Code: smtp ; 550-mailbox unavailable\r\n 550 user has moved (no forwarding address)\r\n" +
		"Last-Attempt-Date: 7 Jul 1994 17:15:49 -0400\r\n" +
		"Final-Log-ID: 3354017BFA8\r\n" +
		"X-Note: one\r\n" +
		"X-Note: two\r\n" +
		" \t \r\n" + // white space only: a blank line
		"\n" + // and an LF among CRLFs
		"Original-Recipient: x400;c+3DUS+3Ba+3D+20+3Bp+3DFabrikam+3Bs+3DSmith+3B\n" +
		"Final-Recipient: X400;c=US;a= ;p=Fabrikam;s=Smith;\n" +
		"Action: delayed\n" +
		"Status: 4.4.7\n" +
		"Will-Retry-Until: Tue, 01 Dec 2026 09:00:05 +0000\n" +
		"Localized-Diagnostic: fr; caf\xc3\xa9\n" +
		"\n" +
		"Original-Recipient: utf-8;j\\x{F6}rg\\x{2B}\\x{5C}\\x{D800}@b\\x{FC}cher.example\n" +
		"Final-Recipient: FAX;+1 555 0100\n" +
		"Action: relayed\n" +
		"Status: 2.0.0\n"
	m, rs, err := ParseStatus([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	checkMessage(t, m, MessageFields{
		OriginalEnvelopeID: "QQ314159 (not a comment)",
		ReportingMTA:       MTA{Type: "dns", Name: "hub-hq.contoso.test"},
		DSNGateway:         MTA{Type: "dns", Name: "gw.contoso.test"},
		ReceivedFromMTA:    MTA{Type: "dns", Name: "mail.fabrikam.test", Comment: "192.0.2.1"},
		ArrivalDate:        time.Date(1994, 7, 8, 9, 21, 25, 0, zone(-4)),
		Extensions:         []Field{{"X-Waypost-Queue-ID", "42", 6}},
		Line:               1,
	})
	if len(rs) != 3 {
		t.Fatalf("%d recipients: %+v", len(rs), rs)
	}
	checkRecipient(t, 0, rs[0], RecipientFields{
		OriginalRecipient: Address{"rfc822", "bob+2Btag@fabrikam.test", "bob+tag@fabrikam.test"},
		FinalRecipient:    Address{"rfc822", "bob+tag@fabrikam.test", "bob+tag@fabrikam.test"},
		Action:            "failed", Status: "5.1.1", StatusComment: "café closed",
		RemoteMTA:       MTA{Type: "dns", Name: "[192.0.2.7]", Comment: "port 2525"},
		DiagnosticCode:  Diagnostic{"smtp", "550-mailbox unavailable 550 user has moved (no forwarding address)"},
		LastAttemptDate: time.Date(1994, 7, 7, 17, 15, 49, 0, zone(-4)),
		FinalLogID:      "3354017BFA8",
		Extensions:      []Field{{"X-Note", "one", 18}, {"X-Note", "two", 19}},
		Line:            8,
	})
	checkRecipient(t, 1, rs[1], RecipientFields{
		OriginalRecipient: Address{"x400", "c+3DUS+3Ba+3D+20+3Bp+3DFabrikam+3Bs+3DSmith+3B", "c=US;a= ;p=Fabrikam;s=Smith;"},
		FinalRecipient:    Address{"x400", "c=US;a= ;p=Fabrikam;s=Smith;", "c=US;a= ;p=Fabrikam;s=Smith;"},
		Action:            "delayed", Status: "4.4.7",
		WillRetryUntil: time.Date(2026, 12, 1, 9, 0, 5, 0, time.UTC),
		Extensions:     []Field{{"Localized-Diagnostic", "fr; café", 27}},
		Line:           22,
	})
	checkRecipient(t, 2, rs[2], RecipientFields{
		OriginalRecipient: Address{"utf-8", `j\x{F6}rg\x{2B}\x{5C}\x{D800}@b\x{FC}cher.example`, `jörg+\\x{D800}@bücher.example`},
		FinalRecipient:    Address{"fax", "+1 555 0100", "+1 555 0100"},
		Action:            "relayed", Status: "2.0.0",
		Line: 29,
	})
}

// Xtext is decoded only where it can be nothing else.
func TestOriginalRecipientXtext(t *testing.T) {
	for raw, value := range map[string]string{
		"bob@fabrikam.test":          "bob@fabrikam.test",
		"bob+tag@fabrikam.test":      "bob+tag@fabrikam.test",     // "+ta" is no escape
		"bob+2Btag@fabrikam.test":    "bob+tag@fabrikam.test",     // the xtext of it
		"b=ob+2B@fabrikam.test":      "b=ob+2B@fabrikam.test",     // "=" is never in xtext
		"bob+0A@fabrikam.test":       "bob+0A@fabrikam.test",      // decodes to a control
		"bob+2b@fabrikam.test":       "bob+2b@fabrikam.test",      // hex digits are upper case
		"bob+2":                      "bob+2",                     // cut short
		"Bob Smith+40fabrikam.test":  "Bob Smith+40fabrikam.test", // a space is never in xtext
		"+22Bob+20Smith+22@fab.test": `"Bob Smith"@fab.test`,
	} {
		_, rs, err := ParseStatus([]byte("Reporting-MTA: dns; a.test\n\nOriginal-Recipient: rfc822;" + raw + "\nFinal-Recipient: rfc822;x@y.test\nAction: failed\nStatus: 5.0.0\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := rs[0].OriginalRecipient; got.Raw != raw || got.Value != value {
			t.Errorf("Original-Recipient %q read as %+v, want value %q", raw, got, value)
		}
	}
}

// Bad status parts are refused with the line and what is wrong.
func TestParseStatusErrors(t *testing.T) {
	const pm = "Reporting-MTA: dns; a.test\n\n"
	const rc = "Final-Recipient: rfc822;b@c.test\nAction: failed\n"
	for _, c := range []struct {
		body string
		line int
		msg  string
	}{
		{"", 1, "no fields"},
		{"\r\n\r\n", 1, "no fields"},
		{"Reporting-MTA: dns; a.test\r\n", 1, "no recipient fields follow the per-message fields"},
		{"Reporting-MTA: dns; a.test\nArrival-Date: Thu, 7 Jul 1994 17:15:49 -0400\nFinal-Recipient: rfc822;b@c.test\n", 3, "Final-Recipient is a per-recipient field, but the per-message fields that begin on line 1 have not ended"},
		{"Arrival-Date: Thu, 7 Jul 1994 17:15:49 -0400\n\n" + rc + "Status: 5.0.0\n", 1, "lack Reporting-MTA"},
		{pm + rc, 3, "the fields of the recipient that begin here lack Status"},
		{pm + "Action: failed\nStatus: 5.0.0\n", 3, "lack Final-Recipient"},
		{pm + rc + "Status: 5.1\n", 5, `Status "5.1" is not a status code`},
		{pm + rc + "Status: 5.1.1.1\n", 5, "is not a status code"},
		{pm + rc + "Status: 5 .1.1\n", 5, "is not a status code"},
		{pm + rc + "Status: 5.1.1 (unclosed\n", 5, "Status: a comment that is not closed"},
		{pm + rc + "Status: 5.1.1)\n", 5, "Status: a ')' with no '('"},
		{pm + rc + "Status: 5.1.1\nStatus: 5.1.2\n", 6, "a second Status field (the first is on line 5)"},
		{pm + "Final-Recipient: rfc822;b@c.test\nAction: bounced\nStatus: 5.0.0\n", 4, `Action "bounced" is none of failed, delayed, delivered, relayed, expanded`},
		{pm + "Final-Recipient: b@c.test\n", 3, `Final-Recipient "b@c.test" has no type: write it as type;value, e.g. Final-Recipient: rfc822;alice@example.com`},
		{pm + "Final-Recipient: rfc822;  \n", 3, "Final-Recipient has no address after the ';'"},
		{pm + "Final-Recipient: rfc 822;b@c.test\n", 3, `the type "rfc 822" before the ';' is not a name like rfc822`},
		{pm + rc + "Status: 5.0.0\nRemote-MTA: dns;\n", 6, "Remote-MTA has no name after the ';'"},
		{pm + rc + "Status: 5.0.0\nDiagnostic-Code: 550 no\n", 6, `Diagnostic-Code "550 no" has no type`},
		{pm + rc + "Status: 5.0.0\nLast-Attempt-Date: yesterday\n", 6, `Last-Attempt-Date "yesterday" is not a date and time`},
		{pm + rc + "Status: 5.0.0\nReporting-MTA: dns; b.test\n", 6, "Reporting-MTA is a per-message field, but it is among the fields of the recipient that begin on line 3"},
		{"Reporting-MTA: dns; a.test\nReporting-MTA: dns; b.test\n", 2, "a second Reporting-MTA field (the first is on line 1)"},
		{" Reporting-MTA: dns; a.test\n", 1, "a continuation line (it starts with white space) with no field before it"},
		{pm + " Final-Recipient: rfc822;b@c.test\n", 3, "a continuation line"},
		{"Reporting-MTA dns a.test\n", 1, `"Reporting-MTA dns a.test" is not a field`},
		{"Reporting MTA: dns; a.test\n", 1, `"Reporting MTA" is not a field name`},
		{": dns; a.test\n", 1, `"" is not a field name`},
		{"Reporting-MTA: dns; a.test\r\r\n", 1, "a carriage return without a line feed"},
	} {
		_, _, err := ParseStatus([]byte(c.body))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v, want a *SyntaxError", c.body, err)
			continue
		}
		if se.Line != c.line || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("%q: error %q, want line %d: ...%s...", c.body, err, c.line, c.msg)
		}
	}
}

// Errors outside the status part name the part.
func TestParseErrors(t *testing.T) {
	dsn := func(ct, parts string) string {
		return "From: a@b.test\r\nContent-Type: " + ct + "\r\n\r\n" + parts
	}
	status := "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; a.test\r\n\r\nFinal-Recipient: rfc822;b@c.test\r\nAction: failed\r\nStatus: 5.0.0\r\n"
	for _, c := range []struct{ msg, err string }{
		{"no header at all", "reading the message header"},
		{dsn("text/plain", "hello\r\n"), "not a delivery status notification: the message is text/plain and holds no multipart/report"},
		{dsn("multipart/report; report-type=disposition-notification; boundary=b", status+"--b--\r\n"), "the message is multipart/report and holds no multipart/report with report-type=delivery-status"},
		{dsn("multipart/report; report-type=delivery-status", status), "the multipart/report: a multipart Content-Type without a boundary parameter"},
		{dsn("multipart/report; report-type=delivery-status; boundary=b", status), "part 1 of the multipart/report: the body ends before the closing boundary"},
		{dsn("multipart/report; report-type=delivery-status; boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n"), "the multipart/report has no message/delivery-status part (its parts: text/plain)"},
		{dsn("multipart/report; report-type=delivery-status; boundary=b", "--b\r\nContent-Type: text/\r\n\r\nhi\r\n"+status+"--b--\r\n"), `part 1 of the multipart/report: Content-Type "text/": mime: expected token after slash`},
		{dsn("multipart/report; report-type=delivery-status; boundary=b", strings.Replace(status, "Status: 5.0.0", "Status: 5", 1)+"--b--\r\n"), `the message/delivery-status part: line 5: Status "5" is not a status code`},
		{dsn("multipart/report; report-type=delivery-status; boundary=b", strings.Replace(status, "\r\n\r\nReporting", "\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nReporting", 1)+"--b--\r\n"), `the message/delivery-status part: unknown Content-Transfer-Encoding "x-uuencode"`},
		{dsn("multipart/mixed; boundary=m", "--m\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n--m--\r\n"), "the multipart/report in part 1 of the message has no message/delivery-status part"},
	} {
		_, err := Parse(strings.NewReader(c.msg))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q:\n error %v\n want one containing %q", c.msg, err, c.err)
		}
	}
}

// A report can be found inside other multiparts and attached messages, and
// its parts may be encoded (RFC 6533 allows it for the global types).
func TestParseNestedAndEncoded(t *testing.T) {
	inner := "From: postmaster@a.test\r\nSubject: inner\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n" +
		"--alt\r\nContent-Type: text/html\r\n\r\n<p>no</p>\r\n" +
		"--alt\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 ferm=E9\r\n" +
		"--alt--\r\n" +
		"--b\r\nContent-Type: message/global-delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"UmVwb3J0aW5nLU1UQTogZG5zOyBhLnRlc3QNCg0KRmluYWwtUmVjaXBpZW50OiB1dGYtODtq\r\nw7ZyZ0BiLnRlc3QNCkFjdGlvbjogZmFpbGVkDQpTdGF0dXM6IDUuMS4xDQo=\r\n" +
		"--b\r\nContent-Type: message/global-headers\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSubject: J=C3=B6rg\r\n" +
		"--b--\r\n"
	outer := "From: someone@c.test\r\nSubject: Fwd: a bounce\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n" +
		"--m\r\nContent-Type: text/plain\r\n\r\nHave a look.\r\n" +
		"--m\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "--m--\r\n"
	d, err := Parse(strings.NewReader(outer))
	if err != nil {
		t.Fatal(err)
	}
	check(t, d, want{
		subject: "inner", humanType: "text/plain", human: []string{"Café fermé"},
		statusType:   "message/global-delivery-status",
		message:      MessageFields{ReportingMTA: MTA{Type: "dns", Name: "a.test"}, Line: 1},
		recipients:   []RecipientFields{{FinalRecipient: Address{"utf-8", "jörg@b.test", "jörg@b.test"}, Action: "failed", Status: "5.1.1", Line: 3}},
		returnedType: "message/global-headers", returned: "Subject: Jörg",
	}, "\n")
}
