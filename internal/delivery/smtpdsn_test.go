package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// A smart host that offers DSN gets RET, ENVID, NOTIFY and ORCPT, and the
// recipients whose NOTIFY went on are marked so (the next hop reports for
// them); one without DSN gets none, and nobody is marked.
func TestSMTPPassesDSNParameters(t *testing.T) {
	for _, dsn := range []bool{true, false} {
		ts := startTestServer(t, "", dsn)
		a := &SMTP{Hosts: []string{ts.addr}, Timeout: 5 * time.Second}
		m := message("x\r\n",
			Recipient{Type: "SMTP", Address: "carol@fabrikam.test", Notify: "SUCCESS,FAILURE", ORCPT: "rfc822;Carol@Fabrikam.test"},
			Recipient{Type: "SMTP", Address: "dave@fabrikam.test"},
			Recipient{Type: "SMTP", Address: "erin@fabrikam.test", Notify: "NEVER,SUCCESS"}, // invalid: left out
		)
		m.EnvID, m.Ret = "env-7", "HDRS"
		res := a.Deliver(context.Background(), m)
		for i, want := range []bool{dsn, false, false} {
			if res[i].Class != Relayed || res[i].NotifyPassed != want {
				t.Errorf("dsn=%v recipient %d: %+v, want NotifyPassed %v", dsn, i, res[i], want)
			}
		}
		got := ts.messages()
		if len(got) != 1 {
			t.Fatalf("dsn=%v: %d messages", dsn, len(got))
		}
		g := got[0]
		if !dsn {
			if g.mail.EnvelopeID != "" || g.mail.Return != "" || len(g.rcpts[0].Notify) != 0 || g.rcpts[0].OriginalRecipient != "" {
				t.Errorf("DSN parameters sent to a server without DSN: %+v %+v", g.mail, g.rcpts[0])
			}
			continue
		}
		if g.mail.EnvelopeID != "env-7" || g.mail.Return != smtp.DSNReturnHeaders {
			t.Errorf("MAIL parameters %+v", g.mail)
		}
		r := g.rcpts[0]
		if len(r.Notify) != 2 || r.Notify[0] != smtp.DSNNotifySuccess || r.Notify[1] != smtp.DSNNotifyFailure ||
			r.OriginalRecipientType != smtp.DSNAddressTypeRFC822 || r.OriginalRecipient != "Carol@Fabrikam.test" {
			t.Errorf("RCPT parameters %+v", r)
		}
		if len(g.rcpts[1].Notify) != 0 || len(g.rcpts[2].Notify) != 0 {
			t.Errorf("NOTIFY for recipients without a valid one: %+v %+v", g.rcpts[1], g.rcpts[2])
		}
	}
}
