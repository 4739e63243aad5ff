package scheduler

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/report"
	"github.com/waypost/waypost/internal/tracking"
)

// successAction is the RFC 3464 action of a NOTIFY=SUCCESS recipient
// that res finished: "delivered" into a mailbox here, "relayed" to a
// system that sends no further notifications (a drop folder, a program, a
// web service, an SMTP host without DSN), and "" when the next hop took
// NOTIFY on and reports itself: another hub, or an SMTP host that offers
// DSN (RFC 3461 section 5.2.1: no "relayed" notification then).
func successAction(res delivery.Result) string {
	switch {
	case res.Class == delivery.Delivered:
		return "delivered"
	case res.Class == delivery.Relayed && !res.NotifyPassed:
		return "relayed"
	}
	return ""
}

// bounce queues one non-delivery report for the failed recipients of m
// that asked for one (RFC 3461 NOTIFY: FAILURE, or nothing said). Mail
// from the null sender gets none: a double bounce is logged and dropped.
func (s *Scheduler) bounce(m *queue.Message) error {
	var failed []report.Recipient
	for _, r := range m.Recipients {
		n := strings.ToUpper(r.Notify)
		if r.State != queue.Failed || strings.Contains(n, "NEVER") || n != "" && !strings.Contains(n, "FAILURE") {
			continue
		}
		failed = append(failed, report.Recipient{Written: r.Written, Type: r.Type, Address: r.Address, ORCPT: r.ORCPT,
			Status: r.Last.Status, RemoteHost: r.Last.RemoteHost, RemoteText: r.Last.RemoteText, LastAttempt: r.LastAttempt,
			Reason: reasonOf(r.Last)})
	}
	if len(failed) == 0 {
		return nil
	}
	if m.From == "" {
		s.Log.Warn("double bounce: a message from the null sender failed; no report is sent", "id", m.ID, "recipients", len(failed))
		s.TrackEvent(tracking.Event{Event: tracking.DSN, ID: m.ID, Detail: "double bounce discarded"})
		return nil
	}
	return s.notify(m, report.Report{Recipients: failed}, "non-delivery report")
}

// notify queues a report about m to its sender, from the null sender
// (RFC 3461 section 6): r gives the recipients and the kind; the rest
// comes from m and this server.
func (s *Scheduler) notify(m *queue.Message, r report.Report, what string) error {
	org := s.Engine.Load().Org()
	r.ReportingMTA = s.Server
	if srv := org.Server(s.Server); srv != nil {
		r.ReportingMTA = srv.FQDN
	}
	r.Postmaster, r.To = "postmaster@"+org.DefaultDomain, m.From
	r.EnvID, r.Ret, r.Arrival, r.Date = m.EnvID, m.Ret, m.Arrival, s.now()
	body, err := s.Queue.OpenMessage(m)
	if err != nil {
		return err
	}
	defer body.Close()
	rd, done := reportReader(r, body)
	nm, err := s.Add(queue.Envelope{From: "", ReceivedBy: "dsn", Arrival: s.now(),
		Recipients: []queue.Recipient{{Written: m.From, Type: "SMTP", Address: m.From, Notify: "NEVER"}}}, rd, nil)
	done()
	if err != nil {
		return err
	}
	s.TrackEvent(tracking.Event{Event: tracking.DSN, ID: m.ID, Sender: m.From, Recipient: m.From, Detail: fmt.Sprintf("%s %s for %d recipients", what, nm.ID, len(r.Recipients))})
	s.Metrics.Report(reportKind(&r))
	return nil
}

// reasonOf gives the plain words of a report for failures the status
// code alone does not explain; "" leaves them to report.Explain.
func reasonOf(res queue.Result) string {
	if res.RemoteText == adminRemoval {
		return "An administrator removed the message from the mail queue before it could be delivered. Ask your administrator if you need to know why."
	}
	return ""
}

// reportReader is the report r about the message in body, written as it
// is read: the original is streamed into the queue, never held whole.
// A panic while writing it fails the read, not the hub. done stops the
// writer if the reader gave up early and waits for it, so body may be
// closed after.
func reportReader(r report.Report, body io.ReadSeeker) (rd io.Reader, done func()) {
	pr, pw := io.Pipe()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		err := errors.New("writing the report: panic")
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("writing the report: panic: %v\n%s", p, debug.Stack())
			}
			pw.CloseWithError(err)
		}()
		err = report.Write(pw, r, body)
	}()
	return pr, func() {
		pr.CloseWithError(errors.New("the report was not read to its end"))
		<-finished
	}
}
