package scheduler

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/queue"
)

func TestNonDeliveryReportReachesTheSender(t *testing.T) {
	f := newFixture(t)
	_, err := f.add(queue.Envelope{From: "alice@contoso.test", Arrival: f.now, EnvID: "e-42", Recipients: []queue.Recipient{
		{Written: "nobody@contoso.test", Type: "SMTP", Address: "nobody@contoso.test", ORCPT: "rfc822;nobody@contoso.test"},
		{Written: "[FAX:+1 555 0100]", Type: "FAX", Address: "+1 555 0100"},
		{Written: "quiet@contoso.test", Type: "SMTP", Address: "quiet@contoso.test", Notify: "NEVER"},
	}}, strings.NewReader("Subject: Fax the figures\r\nMessage-ID: <x1@contoso.test>\r\n\r\nfigures\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.s.RunOnce(context.Background()) // fails the recipients, queues the report
	f.s.RunOnce(context.Background()) // delivers the report
	box := f.inbox(t, delivery.Folder("alice@contoso.test"))
	if len(box) != 1 {
		t.Fatalf("alice has %d messages, want the one report", len(box))
	}
	ndr := strings.ReplaceAll(box[0], "\r\n ", " ") // unfolded (RFC 5322 section 2.2.3)
	for _, want := range []string{
		"Return-Path: <>\r\n", "Subject: Undeliverable: Fax the figures", "Auto-Submitted: auto-replied",
		"multipart/report; report-type=delivery-status", "Original-Envelope-Id: e-42",
		"Final-Recipient: rfc822;nobody@contoso.test\r\nAction: failed\r\nStatus: 5.1.1",
		"Final-Recipient: rfc822;IMCEAFAX-+2B1+20555+200100@contoso.test\r\nAction: failed\r\nStatus: 5.4.4",
		"Diagnostic-Code: smtp; 550 5.4.4 ROUTING.NoConnectorForAddressType; unable to route for address type\r\n", // exchange-semantics.md 8.9
		"None of the organization's connectors can send to FAX addresses from your site",
	} {
		if !strings.Contains(ndr, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(ndr, "quiet@contoso.test") {
		t.Error("a recipient with NOTIFY=NEVER is in the report")
	}
	if msgs, _ := f.s.Queue.List(); len(msgs) != 0 {
		t.Errorf("%d messages left in the queue", len(msgs))
	}
}

func TestNoReportForTheNullSender(t *testing.T) {
	f := newFixture(t)
	_, err := f.add(queue.Envelope{From: "", Arrival: f.now, Recipients: []queue.Recipient{
		{Written: "nobody@contoso.test", Type: "SMTP", Address: "nobody@contoso.test"},
	}}, strings.NewReader("Subject: a bounce\r\n\r\nx\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.s.RunOnce(context.Background())
	f.s.RunOnce(context.Background())
	if msgs, _ := f.s.Queue.List(); len(msgs) != 0 {
		t.Errorf("a report to the null sender was queued: %d messages", len(msgs))
	}
}

// TestFinishedMessageLeftBehindIsRemoved: a message whose recipients are all
// final but which is still queued (a crash between the last update and the
// removal) is reported and removed by the next pass.
func TestFinishedMessageLeftBehindIsRemoved(t *testing.T) {
	f := newFixture(t)
	_, err := f.add(queue.Envelope{From: "alice@contoso.test", Arrival: f.now, Recipients: []queue.Recipient{
		{Written: "x@contoso.test", Type: "SMTP", Address: "x@contoso.test", State: queue.Failed, Last: queue.Result{Class: queue.ClassFailed, Status: "5.1.1"}},
	}}, strings.NewReader("Subject: s\r\n\r\nb\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.s.RunOnce(context.Background())
	f.s.RunOnce(context.Background())
	if msgs, _ := f.s.Queue.List(); len(msgs) != 0 {
		t.Errorf("%d messages left in the queue", len(msgs))
	}
	if box := f.inbox(t, delivery.Folder("alice@contoso.test")); len(box) != 1 || !strings.Contains(box[0], "Undeliverable: s") {
		t.Errorf("no report for the finished message: %d", len(box))
	}
}

// TestDelayNotificationOnce: a recipient still waiting after
// delay_notification (30m here) gets the sender one delay notification,
// once; NOTIFY=FAILURE alone asks for none.
func TestDelayNotificationOnce(t *testing.T) {
	f := newFixture(t)
	m, err := f.add(queue.Envelope{From: "alice@contoso.test", Arrival: f.now, Recipients: []queue.Recipient{
		{Written: "carol@fabrikam.test", Type: "SMTP", Address: "carol@fabrikam.test"},
		{Written: "dave@fabrikam.test", Type: "SMTP", Address: "dave@fabrikam.test", Notify: "FAILURE"},
	}}, strings.NewReader("Subject: slow\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.s.RunOnce(context.Background()) // no connector agent: both wait
	for _, step := range []time.Duration{29 * time.Minute, 2 * time.Minute, 10 * time.Minute} {
		f.now = f.now.Add(step)
		f.s.RunOnce(context.Background())
		f.s.RunOnce(context.Background())
	}
	box := f.inbox(t, delivery.Folder("alice@contoso.test"))
	if len(box) != 1 {
		t.Fatalf("alice has %d messages, want one delay notification", len(box))
	}
	for _, want := range []string{"Delivery delayed: slow", "Action: delayed", "Final-Recipient: rfc822;carol@fabrikam.test", "Will-Retry-Until: "} {
		if !strings.Contains(box[0], want) {
			t.Errorf("notification lacks %q", want)
		}
	}
	if strings.Contains(box[0], "dave@fabrikam.test") {
		t.Error("NOTIFY=FAILURE got a delay notification")
	}
	if got, _ := f.s.Queue.Get(m.ID); got == nil || got.Recipients[0].State != queue.Pending {
		t.Error("the delayed message should still be queued")
	}
}

// TestSuccessNotification: NOTIFY=SUCCESS gets the sender a success
// notification (Action: delivered for a mailbox here); other recipients
// get none.
func TestSuccessNotification(t *testing.T) {
	f := newFixture(t)
	_, err := f.add(queue.Envelope{From: "alice@contoso.test", Arrival: f.now, Recipients: []queue.Recipient{
		{Written: "a@contoso.test", Type: "SMTP", Address: "a@contoso.test", Notify: "SUCCESS,FAILURE"},
	}}, strings.NewReader("Subject: minutes\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.s.RunOnce(context.Background())
	f.s.RunOnce(context.Background())
	box := f.inbox(t, delivery.Folder("alice@contoso.test"))
	if len(box) != 2 {
		t.Fatalf("alice has %d messages, want the message and its success notification", len(box))
	}
	var dsn string
	for _, m := range box {
		if strings.Contains(m, "Delivered: minutes") {
			dsn = m
		}
	}
	for _, want := range []string{"Action: delivered\r\nStatus: 2.0.0", "Final-Recipient: rfc822;a@contoso.test", "has been delivered to the following recipients"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("success notification lacks %q:\n%s", want, dsn)
		}
	}
}
