package test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/smtp"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/hub"
	"github.com/waypost/waypost/test/harness"
)

// apiCall makes one call to a hub's API with Basic credentials and
// decodes a JSON answer into v (when v is not nil); it returns the status.
func apiCall(t *testing.T, method, url, user, pass string, v any) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode, resp.Header, body
}

type apiMessages struct {
	State    string
	Full     bool
	Messages []struct{ ID, From, Subject, Date string }
}

type apiError struct{ Error, Code string }

// TestAPIOnTheSingleHubExample runs examples/single/waypost.toml (the
// built-in organization written out) with a password for the postmaster,
// as README.md tells: mail delivered over SMTP is listed, fetched and
// deleted over the API.
func TestAPIOnTheSingleHubExample(t *testing.T) {
	example := readFile(t, filepath.Join("..", "examples", "single", "waypost.toml"))
	checkExampleIsBuiltIn(t, example)
	hash, err := hub.HashPassword("postmaster's password")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	smtpAddr, submit, apiAddr := harness.Port(t), harness.Port(t), harness.Port(t)
	text := strings.NewReplacer(
		`# password_hash = "paste the output of waypost passwd here"`, `password_hash = "`+hash+`"`,
		"127.0.0.1:2525", smtpAddr, "127.0.0.1:2587", submit, "127.0.0.1:8025", apiAddr).Replace(example)
	if !strings.Contains(text, hash) {
		t.Fatal("the example has no password_hash line to fill")
	}
	file := filepath.Join(dir, "waypost.toml")
	harness.Write(t, file, text)
	h := harness.Start(t, file, "waypost", smtpAddr, submit, apiAddr)
	base := "http://" + apiAddr + "/api/v1"
	const user, pass = "postmaster@example.test", "postmaster's password"

	msg := "From: Carol <carol@fabrikam.test>\r\nTo: postmaster@example.test\r\nSubject: over the API\r\n" +
		"Date: Tue, 3 Jun 2025 09:30:00 +0000\r\n\r\nfetched over HTTP\r\n"
	if err := smtp.SendMail(smtpAddr, nil, "carol@fabrikam.test", []string{"postmaster@example.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "waypost-data")
	folder := delivery.Folder("postmaster@example.test")
	harness.WaitFor(t, 15*time.Second, "delivery to the postmaster", func() bool { return len(harness.Maildir(t, data, folder)) == 1 })

	var list apiMessages
	if code, _, body := apiCall(t, "GET", base+"/mailbox/messages", user, pass, &list); code != 200 || len(list.Messages) != 1 {
		t.Fatalf("list: %d %s\n%s", code, body, h.Log())
	}
	m := list.Messages[0]
	if m.Subject != "over the API" || m.From != "Carol <carol@fabrikam.test>" || m.Date != "2025-06-03T09:30:00Z" {
		t.Errorf("listed %+v", m)
	}
	code, hdr, raw := apiCall(t, "GET", base+"/mailbox/messages/"+m.ID, user, pass, nil)
	if code != 200 || hdr.Get("Content-Type") != "message/rfc822" || string(raw) != harness.Maildir(t, data, folder)[0] ||
		!strings.Contains(string(raw), "fetched over HTTP") || !strings.Contains(string(raw), "Received: ") {
		t.Errorf("fetch: %d %s\n%s", code, hdr.Get("Content-Type"), raw)
	}
	var since apiMessages
	apiCall(t, "GET", base+"/mailbox/messages?since="+list.State, user, pass, &since)
	if since.Full || len(since.Messages) != 0 || since.State != list.State {
		t.Errorf("since %s: %+v", list.State, since)
	}
	if code, _, body := apiCall(t, "DELETE", base+"/mailbox/messages/"+m.ID, user, pass, nil); code != http.StatusNoContent {
		t.Errorf("delete: %d %s", code, body)
	}
	if n := len(harness.Maildir(t, data, folder)); n != 0 {
		t.Errorf("%d messages left in the Maildir", n)
	}

	var at struct {
		Site    string
		Types   []string
		Version string
	}
	if code, hdr, _ := apiCall(t, "GET", base+"/address-types", user, pass, &at); code != 200 || at.Site != "Default" ||
		!slices.Equal(at.Types, []string{"SMTP"}) || hdr.Get("ETag") != `"`+at.Version+`"` {
		t.Errorf("address types: %d %+v", code, at)
	}

	// Negative: a wrong password, no credentials, another path.
	var e apiError
	if code, hdr, _ := apiCall(t, "GET", base+"/mailbox/messages", user, "wrong", &e); code != 401 || e.Code != "unauthorized" || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Basic realm="waypost"`) {
		t.Errorf("wrong password: %d %+v", code, e)
	}
	if code, _, _ := apiCall(t, "GET", base+"/oab", "", "", &e); code != 401 || e.Code != "unauthorized" {
		t.Errorf("no credentials: %d %+v", code, e)
	}
	if code, _, _ := apiCall(t, "GET", base+"/nothing", user, pass, &e); code != 404 || e.Code != "not_found" {
		t.Errorf("unknown path: %d %+v", code, e)
	}
	if err := h.Stop(); err != nil {
		t.Errorf("stop: %v\n%s", err, h.Log())
	}
}

// checkExampleIsBuiltIn holds examples/single/waypost.toml to the built-in
// organization it says it is.
func checkExampleIsBuiltIn(t *testing.T, example string) {
	t.Helper()
	dir := t.TempDir()
	ex, err := config.Parse([]byte(example), "waypost.toml", dir)
	if err != nil {
		t.Fatal(err)
	}
	def := config.Default(dir)
	summary := func(o *config.Org) string {
		var b strings.Builder
		b.WriteString(o.Name + " " + o.DefaultDomain + "\n")
		for _, s := range o.Servers {
			b.WriteString(s.Name + " " + s.Site + " " + s.FQDN + " " + s.DataDir + " " + s.API + "\n")
			for _, r := range s.Receive {
				b.WriteString("  " + r.Name + " " + r.Listen + " " + r.Kind + "\n")
			}
		}
		for _, r := range o.Recipients {
			b.WriteString(string(r.Kind) + " " + r.Name + " " + r.Server + " " + r.PasswordHash)
			for _, a := range r.Addresses {
				b.WriteString(" " + a.String())
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	if a, b := summary(ex), summary(def); a != b {
		t.Errorf("examples/single/waypost.toml is not the built-in organization:\n%s\nbuilt-in:\n%s", a, b)
	}
}

// TestSeedAddressTypesOverAPI: in the seed, the FAX connector is scoped to
// Branch: Bob (Branch) is told FAX, Alice (HQ) is not, whichever hub they
// ask; resolve agrees; each reaches only the mailbox on their home hub.
func TestSeedAddressTypesOverAPI(t *testing.T) {
	s := newSeed(t)
	s.start("hub-hq1")
	s.start("hub-branch")
	hq := "http://" + s.vars["HQ1_API"] + "/api/v1"
	branch := "http://" + s.vars["BRANCH_API"] + "/api/v1"
	var types struct {
		Site  string
		Types []string
	}
	for _, tc := range []struct {
		base, user, site string
		fax              bool
	}{
		{hq, "alice@contoso.test", "HQ", false},
		{branch, "alice@contoso.test", "HQ", false},
		{branch, "bob@contoso.test", "Branch", true},
		{hq, "bob@contoso.test", "Branch", true},
	} {
		code, _, body := apiCall(t, "GET", tc.base+"/address-types", tc.user, "pw", &types)
		if code != 200 || types.Site != tc.site || slices.Contains(types.Types, "FAX") != tc.fax || !slices.Contains(types.Types, "SMTP") {
			t.Errorf("%s at %s: %d %s; want site %s, FAX %v", tc.user, tc.base, code, body, tc.site, tc.fax)
		}
	}

	// Resolve from each user's home server: Bob's fax goes, Alice's is refused.
	resolve := func(base, user string) string {
		req, _ := http.NewRequest("POST", base+"/resolve", strings.NewReader(`{"recipients":["[FAX:+1 555 0100]"]}`))
		req.SetBasicAuth(user, "pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := resolve(hq, "bob@contoso.test"); !strings.Contains(got, `"outcome":"connector","connector":"Branch Fax","source_server":"hub-branch"`) {
		t.Errorf("Bob's fax: %s", got)
	}
	if got := resolve(branch, "alice@contoso.test"); !strings.Contains(got, `"outcome":"ndr","status":"5.4.4"`) {
		t.Errorf("Alice's fax: %s", got)
	}

	// Alice writes to Bob; Bob reads it on his hub; Alice cannot reach
	// Bob's mailbox, on either hub.
	s.submit("hub-hq1", "alice@contoso.test", "bob@contoso.test", "hello over the API")
	var list apiMessages
	s.waitFor("Bob's message in the API's list", func() bool {
		apiCall(t, "GET", branch+"/mailbox/messages", "bob@contoso.test", "pw", &list)
		return len(list.Messages) == 1
	})
	if list.Messages[0].Subject != "hello over the API" || list.Messages[0].From != "alice@contoso.test" {
		t.Errorf("Bob's list: %+v", list)
	}
	id := list.Messages[0].ID
	var e apiError
	if code, _, _ := apiCall(t, "GET", branch+"/mailbox/messages/"+id, "alice@contoso.test", "pw", &e); code != 421 || e.Code != "wrong_server" {
		t.Errorf("Alice fetching from hub-branch: %d %+v", code, e)
	}
	if code, _, _ := apiCall(t, "GET", hq+"/mailbox/messages/"+id, "alice@contoso.test", "pw", &e); code != 404 || e.Code != "not_found" {
		t.Errorf("Alice fetching Bob's id from her own hub: %d %+v", code, e)
	}
	if code, _, body := apiCall(t, "GET", branch+"/mailbox/messages/"+id, "bob@contoso.test", "pw", nil); code != 200 || !strings.Contains(string(body), "hello over the API body") {
		t.Errorf("Bob fetching: %d %s", code, body)
	}
}
