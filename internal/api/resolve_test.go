package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/cli"
)

var resolveRecipients = []string{
	"[FAX:+1 555 0100]",
	"alice@contoso.test",
	`"Bob" <bob@contoso.test>`,
	"legalfax@contoso.test",
	"sales@contoso.test",
	"carol@fabrikam.test",
	"[SMS:+1 555 0101]",
	"nobody@contoso.test",
	"IMCEAFAX-+2B1+20555+200100@contoso.test",
	"bad@@syntax",
}

// routeCLI runs `waypost route` on the organization text.
func routeCLI(t *testing.T, text, server string, extra ...string) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "org.toml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	args := append([]string{"route", "--config", file, "--server", server}, extra...)
	if code := cli.Main(&cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}, append(args, resolveRecipients...)); code != 0 {
		t.Fatalf("waypost route: exit %d: %s", code, errOut.String())
	}
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

func TestResolveIsWaypostRoute(t *testing.T) {
	text := orgText(true)
	e := newEnv(t, text, "hub-hq")
	for _, tc := range []struct {
		r       req
		server  string
		explain bool
	}{
		{alice("POST", "/api/v1/resolve"), "hub-hq", false},
		{bob("POST", "/api/v1/resolve"), "hub-branch", false}, // from Bob's home server, not the API's
		{alice("POST", "/api/v1/resolve"), "hub-hq", true},
	} {
		body, _ := json.Marshal(map[string]any{"recipients": resolveRecipients, "explain": tc.explain})
		tc.r.body = string(body)
		var got struct{ Results []json.RawMessage }
		decode(t, e.do(tc.r), http.StatusOK, &got)
		var flags []string
		if tc.explain {
			flags = []string{"--explain"}
		}
		want := routeCLI(t, text, tc.server, flags...)
		if len(got.Results) != len(want) {
			t.Fatalf("%d results, want %d", len(got.Results), len(want))
		}
		for i := range want {
			var compact bytes.Buffer
			json.Compact(&compact, got.Results[i])
			if compact.String() != want[i] {
				t.Errorf("%s, %s:\n api:   %s\n route: %s", tc.r.user, resolveRecipients[i], compact.String(), want[i])
			}
		}
	}
	// The seed in one call: Bob's fax goes through Branch Fax, Alice's is refused.
	var a, b struct {
		Results []struct{ Outcome, Status, Connector string }
	}
	r := alice("POST", "/api/v1/resolve")
	r.body = `{"recipients":["[FAX:+1 555 0100]"]}`
	decode(t, e.do(r), http.StatusOK, &a)
	r = bob("POST", "/api/v1/resolve")
	r.body = `{"recipients":["[FAX:+1 555 0100]"]}`
	decode(t, e.do(r), http.StatusOK, &b)
	if a.Results[0].Outcome != "ndr" || a.Results[0].Status != "5.4.4" || b.Results[0].Outcome != "connector" || b.Results[0].Connector != "Branch Fax" {
		t.Errorf("alice: %+v, bob: %+v", a, b)
	}
}

func TestResolveSize(t *testing.T) {
	text := orgText(true, `[[send_connector]]
name = "Small"
address_spaces = ["SMTP:fabrikam.test;1"]
source_servers = ["hub-hq"]
max_message_size = "1KB"
delivery = { kind = "drop", directory = "small" }`)
	e := newEnv(t, text, "hub-hq")
	for _, tc := range []struct {
		size int
		want string
	}{{100, "Small"}, {1 << 20, "Internet"}} {
		r := alice("POST", "/api/v1/resolve")
		body, _ := json.Marshal(map[string]any{"recipients": []string{"carol@fabrikam.test"}, "size": tc.size})
		r.body = string(body)
		var got struct{ Results []struct{ Connector string } }
		decode(t, e.do(r), http.StatusOK, &got)
		if got.Results[0].Connector != tc.want {
			t.Errorf("size %d: connector %q, want %q", tc.size, got.Results[0].Connector, tc.want)
		}
	}
}
