package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/api"
)

func TestBadBodies(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq", func(c *api.Config) { c.MaxBody = 4096 })
	for _, tc := range []struct {
		name, body string
		status     int
		code, says string
	}{
		{"malformed", `{"recipients": [`, 400, api.CodeBadJSON, "ends too early"},
		{"not JSON", `recipients=alice`, 400, api.CodeBadJSON, "malformed JSON"},
		{"unknown field", `{"recipients": [], "bcc": []}`, 400, api.CodeBadJSON, `"bcc"`},
		{"wrong type", `{"recipients": "alice@contoso.test"}`, 400, api.CodeBadJSON, "recipients must be an array"},
		{"wrong element type", `{"recipients": [1]}`, 400, api.CodeBadJSON, "must be a string"},
		{"no recipients", `{}`, 400, api.CodeBadJSON, `"recipients"`},
		{"empty", ``, 400, api.CodeBadJSON, "empty"},
		{"array", `["alice@contoso.test"]`, 400, api.CodeBadJSON, "must be an object"},
		{"two objects", `{"recipients": []} {"recipients": []}`, 400, api.CodeBadJSON, "after the JSON object"},
		{"negative size", `{"recipients": [], "size": -1}`, 400, api.CodeBadRequest, "negative"},
		{"oversize", `{"recipients": ["` + strings.Repeat("a", 5000) + `"]}`, 413, api.CodeTooLarge, "4096 bytes"},
		{"oversize after object", `{"recipients": []}` + strings.Repeat(" ", 5000), 413, api.CodeTooLarge, "4096 bytes"},
	} {
		r := alice("POST", "/api/v1/resolve")
		r.body = tc.body
		got := apiError(t, e.do(r), tc.status, tc.code)
		if !strings.Contains(got.Error, tc.says) {
			t.Errorf("%s: error %q does not say %q", tc.name, got.Error, tc.says)
		}
	}
	// An empty list is no error.
	r := alice("POST", "/api/v1/resolve")
	r.body = `{"recipients": []}`
	var got struct{ Results []any }
	decode(t, e.do(r), http.StatusOK, &got)
	if got.Results == nil || len(got.Results) != 0 {
		t.Errorf("results %v, want []", got.Results)
	}
}

func TestDefaultBodyLimitIsOneMiB(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	r := alice("POST", "/api/v1/resolve")
	r.body = `{"recipients": ["` + strings.Repeat("a", 1<<20) + `"]}`
	apiError(t, e.do(r), http.StatusRequestEntityTooLarge, api.CodeTooLarge)
}

func TestUnknownPathAndMethod(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	for _, r := range []req{alice("GET", "/api/v1/nothing"), {path: "/"}, {path: "/api/v2/oab"}, alice("GET", "/api/v1/mailbox/messages/a/b")} {
		apiError(t, e.do(r), http.StatusNotFound, api.CodeNotFound)
	}
	for _, tc := range []struct {
		r     req
		allow string
	}{
		{alice("DELETE", "/api/v1/address-types"), "GET, HEAD"},
		{alice("GET", "/api/v1/resolve"), "POST"},
		{alice("PUT", "/api/v1/mailbox/messages/x"), "DELETE, GET, HEAD"},
	} {
		resp := e.do(tc.r)
		apiError(t, resp, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed)
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.r.method, tc.r.path, got, tc.allow)
		}
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq", func(c *api.Config) { c.Throttle = &api.Throttle{Free: 100} })
	for _, r := range []req{
		{path: "/api/v1/address-types"}, // no credentials
		{path: "/api/v1/address-types", user: "alice@contoso.test", pass: "wrong"},
		{path: "/api/v1/address-types", user: "nobody@contoso.test", pass: "pw"},
		{path: "/api/v1/address-types", user: "nopw@contoso.test", pass: ""},        // a mailbox without password
		{path: "/api/v1/address-types", user: "legalfax@contoso.test", pass: "pw"},  // a contact
		{path: "/api/v1/mailbox/messages", user: "alice@contoso.test", pass: "pw "}, // not trimmed
	} {
		resp := e.do(r)
		apiError(t, resp, http.StatusUnauthorized, api.CodeUnauthorized)
		if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Basic realm="waypost"`) {
			t.Errorf("WWW-Authenticate %q", got)
		}
	}
	// Any SMTP address of the mailbox is its user name.
	decode(t, e.do(req{path: "/api/v1/address-types", user: "A@Contoso.test", pass: "pw"}), http.StatusOK, &addrTypes{})
}

func TestPasswordChangeTakesEffectAtReload(t *testing.T) {
	e := newEnv(t, orgText(true), "hub-hq")
	decode(t, e.do(alice("GET", "/api/v1/address-types")), http.StatusOK, &addrTypes{}) // cached now
	e.swap(strings.ReplaceAll(orgText(true), testHash, hashOf(t, "new password")))
	apiError(t, e.do(alice("GET", "/api/v1/address-types")), http.StatusUnauthorized, api.CodeUnauthorized)
	decode(t, e.do(req{path: "/api/v1/address-types", user: "alice@contoso.test", pass: "new password"}), http.StatusOK, &addrTypes{})
}

func TestFailedLoginsAreThrottled(t *testing.T) {
	th := &api.Throttle{Free: 2, Step: 200 * time.Millisecond, Max: 300 * time.Millisecond}
	e := newEnv(t, orgText(true), "hub-hq", func(c *api.Config) { c.Throttle = th })
	bad := req{path: "/api/v1/address-types", user: "alice@contoso.test", pass: "guess"}
	took := func(r req, status int) time.Duration {
		start := time.Now()
		resp := e.do(r)
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Fatalf("status %d, want %d", resp.StatusCode, status)
		}
		return time.Since(start)
	}
	var d []time.Duration
	for range 4 {
		d = append(d, took(bad, 401))
	}
	if d[0] >= 150*time.Millisecond || d[1] >= 150*time.Millisecond {
		t.Errorf("the first failures took %v, want no delay", d[:2])
	}
	if d[2] < 200*time.Millisecond || d[3] < 300*time.Millisecond {
		t.Errorf("the later failures took %v, want 200ms then 300ms (the cap)", d[2:])
	}
	// The right password still works, without delay.
	if got := took(alice("GET", "/api/v1/address-types"), 200); got >= 150*time.Millisecond {
		t.Errorf("a good login took %s", got)
	}
}
