package test

import (
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/test/harness"
)

// TestSitePathTieBreaks: at equal cost and hops the path through the
// alphanumerically lower site nearest the destination is taken (A-B-D,
// relayed by hub-b); a cheaper C-D link (Exchange cost 1) moves it to
// A-C-D, relayed by hub-c. Each hub's tracking log shows the hop.
func TestSitePathTieBreaks(t *testing.T) {
	sc := newScenario(t, "tie-break", map[string]string{"CD_COST": "5"}, "A_RELAY", "A_SMTP", "B_RELAY", "C_RELAY", "D_RELAY")
	vars, file := sc.Vars, sc.File
	a := harness.Start(t, file, "hub-a", vars["A_RELAY"], vars["A_SMTP"])
	harness.Start(t, file, "hub-b", vars["B_RELAY"])
	harness.Start(t, file, "hub-c", vars["C_RELAY"])
	harness.Start(t, file, "hub-d", vars["D_RELAY"])
	data, track := sc.Data, sc.Track
	zed := delivery.Folder("zed@contoso.test")
	send := func(n int) {
		t.Helper()
		if err := smtp.SendMail(vars["A_SMTP"], nil, "carol@fabrikam.test", []string{"zed@contoso.test"}, []byte("Subject: path\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
		harness.WaitFor(t, 15*time.Second, "delivery to zed on hub-d", func() bool { return len(harness.Maildir(t, data("hub-d"), zed)) == n })
	}

	send(1)
	if !strings.Contains(track("hub-a"), `"next_hop":"hub:hub-b"`) || !strings.Contains(track("hub-b"), `"next_hop":"hub:hub-d"`) || track("hub-c") != "" {
		t.Errorf("equal paths should go A-B-D:\nhub-a:\n%s\nhub-b:\n%s\nhub-c:\n%s", track("hub-a"), track("hub-b"), track("hub-c"))
	}

	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	vars["CD_COST"] = "1"
	sc.Write()
	harness.Start(t, file, "hub-a", vars["A_RELAY"], vars["A_SMTP"])
	send(2)
	if !strings.Contains(track("hub-a"), `"next_hop":"hub:hub-c"`) || !strings.Contains(track("hub-c"), `"next_hop":"hub:hub-d"`) {
		t.Errorf("a cheaper C-D link should move the path to A-C-D:\nhub-a:\n%s\nhub-c:\n%s", track("hub-a"), track("hub-c"))
	}
}
