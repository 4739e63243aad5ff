package test

import (
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/hub"
	"github.com/waypost/waypost/test/harness"
)

func TestDelayAcrossHops(t *testing.T) {
	hash, err := hub.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	sc := newScenario(t, "delay-across-hops", map[string]string{"PASSWORD_HASH": hash}, "A_RELAY", "A_SUBMIT", "B_RELAY", "DEAD_SMART_HOST")
	harness.Start(t, sc.File, "hub-a", sc.Vars["A_RELAY"], sc.Vars["A_SUBMIT"])
	harness.Start(t, sc.File, "hub-b", sc.Vars["B_RELAY"])
	host, _, _ := net.SplitHostPort(sc.Vars["A_SUBMIT"])
	auth := smtp.PlainAuth("", "alice@contoso.test", "pw", host)
	if err := smtp.SendMail(sc.Vars["A_SUBMIT"], auth, "alice@contoso.test", []string{"carol@fabrikam.test"}, []byte("Subject: quarterly\r\n\r\nfigures\r\n")); err != nil {
		t.Fatal(err)
	}
	alice := delivery.Folder("alice@contoso.test")
	harness.WaitFor(t, 20*time.Second, "a delay notification in alice's mailbox", func() bool {
		return len(harness.Maildir(t, sc.Data("hub-a"), alice)) > 0
	})
	if !strings.Contains(sc.Track("hub-b"), `"event":"DSN"`) {
		t.Errorf("hub-b, where the message waits, should have sent the notification:\n%s", sc.Track("hub-b"))
	}
	got := harness.Maildir(t, sc.Data("hub-a"), alice)[0]
	for _, want := range []string{"Delivery delayed: quarterly", "Action: delayed", "Final-Recipient: rfc822;carol@fabrikam.test", "Reporting-MTA: dns; hub-b."} {
		if !strings.Contains(got, want) {
			t.Errorf("notification lacks %q:\n%s", want, got)
		}
	}
	// Retries go on (every second here), but the notification is sent once.
	time.Sleep(3 * time.Second)
	if n := len(harness.Maildir(t, sc.Data("hub-a"), alice)); n != 1 {
		t.Errorf("alice has %d notifications, want 1", n)
	}
}
