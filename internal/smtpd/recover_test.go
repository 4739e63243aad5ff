package smtpd

import (
	"io"
	"strings"
	"sync/atomic"
	"testing"
)

// panicQueue panics in its first Add, then queues as memQueue does.
type panicQueue struct {
	*memQueue
	calls atomic.Int32
}

func (q *panicQueue) Add(env Envelope, body io.Reader) (string, error) {
	if q.calls.Add(1) == 1 {
		panic("queue: test panic")
	}
	return q.memQueue.Add(env, body)
}

// A panic in a session (here the queue's, at DATA) is answered 421 4.3.0,
// logged with its stack, and closes only that connection: the listener
// serves the next client.
func TestSessionPanic(t *testing.T) {
	t.Parallel()
	var pq *panicQueue
	h := start(t, "Default", nil, func(l *Listener) {
		pq = &panicQueue{memQueue: &memQueue{}}
		l.q = pq
	})
	c := h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: boom\r\n\r\nx\r\n.\r\n")
	c.expect("421 4.3.0 ")
	c.closed()
	logs := h.logs.String()
	if !strings.Contains(logs, "panic in an SMTP session") || !strings.Contains(logs, "queue: test panic") || !strings.Contains(logs, "goroutine ") {
		t.Errorf("panic not logged with its stack:\n%s", logs)
	}
	c = h.hello()
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: fine\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
	if n := len(pq.all()); n != 1 {
		t.Errorf("%d messages queued, want 1", n)
	}
}

// A panic while the guard reads a command line (go-smtp's own recovery does
// not cover line reading) is recovered the same way. The metrics hook
// panics here, on the refusal of an unknown command.
func TestGuardPanic(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	h := start(t, "Default", nil, func(l *Listener) {
		l.SetEvents(Events{OnReject: func(int, string) {
			if n.Add(1) == 1 {
				panic("metrics: test panic")
			}
		}})
	})
	c := h.hello()
	c.send("XYZZ\r\n")
	c.expect("500 5.5.2 ") // written before the hook is told
	c.expect("421 4.3.0 ")
	c.closed()
	if logs := h.logs.String(); !strings.Contains(logs, "metrics: test panic") || !strings.Contains(logs, "goroutine ") {
		t.Errorf("panic not logged with its stack:\n%s", logs)
	}
	c = h.hello()
	c.cmd("XYZZ", "500 5.5.2 ")
	c.transaction("bob@fabrikam.test", "alice@contoso.test")
	c.send("Subject: fine\r\n\r\nx\r\n.\r\n")
	c.expect("250 ")
}
