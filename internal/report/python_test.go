package report

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// pyParse reads a report with Python's standard email package, an
// independent parser, and returns what it found: the content type and
// report-type, the parts' types, the per-message and per-recipient fields
// of the message/delivery-status part.
const pyParse = `
import email, json, sys
from email import policy
msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.compat32)
out = {"type": msg.get_content_type(), "report_type": msg.get_param("report-type"),
       "subject": str(email.header.make_header(email.header.decode_header(msg["Subject"]))),
       "parts": [p.get_content_type() for p in msg.get_payload()], "blocks": []}
for p in msg.get_payload():
    if p.get_content_type() == "message/delivery-status":
        for block in p.get_payload():
            out["blocks"].append(dict(block.items()))
print(json.dumps(out))
`

func TestReportsParseInPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed") // the test machines have it; scripts/test.sh runs where they do
	}
	for _, kind := range []string{"failure", "delay", "success"} {
		r := sample()
		switch kind {
		case "delay":
			r.Delay, r.WillRetryUntil = true, r.Arrival.Add(48*time.Hour)
		case "success":
			r.Success = true
			for i := range r.Recipients {
				r.Recipients[i].Status, r.Recipients[i].Action = "2.0.0", "relayed"
			}
		}
		out, err := NDR(r, strings.NewReader(original))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(py, "-c", pyParse)
		cmd.Stdin = strings.NewReader(string(out))
		res, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: python: %v", kind, err)
		}
		var got struct {
			Type       string              `json:"type"`
			ReportType string              `json:"report_type"`
			Subject    string              `json:"subject"`
			Parts      []string            `json:"parts"`
			Blocks     []map[string]string `json:"blocks"`
		}
		if err := json.Unmarshal(res, &got); err != nil {
			t.Fatalf("%s: %v: %s", kind, err, res)
		}
		if got.Type != "multipart/report" || got.ReportType != "delivery-status" || len(got.Parts) != 3 || got.Parts[1] != "message/delivery-status" {
			t.Fatalf("%s: structure %+v", kind, got)
		}
		if len(got.Blocks) != 1+len(r.Recipients) {
			t.Fatalf("%s: %d delivery-status blocks, want %d: %+v", kind, len(got.Blocks), 1+len(r.Recipients), got.Blocks)
		}
		if got.Blocks[0]["Reporting-MTA"] != "dns; hub-hq.contoso.test" || got.Blocks[0]["Original-Envelope-Id"] != "env-1" {
			t.Errorf("%s: per-message fields %v", kind, got.Blocks[0])
		}
		action := map[string]string{"failure": "failed", "delay": "delayed", "success": "relayed"}[kind]
		for i, rc := range r.Recipients {
			b := got.Blocks[1+i]
			if b["Final-Recipient"] != finalRecipient(rc, "contoso.test") || b["Action"] != action || b["Status"] != rc.Status {
				t.Errorf("%s: recipient %d fields %v", kind, i, b)
			}
			if kind == "delay" && b["Will-Retry-Until"] == "" {
				t.Errorf("delay: no Will-Retry-Until in %v", b)
			}
		}
		prefix := map[string]string{"failure": "Undeliverable: ", "delay": "Delivery delayed: ", "success": "Delivered: "}[kind]
		if got.Subject != prefix+"Quarterly résultats" {
			t.Errorf("%s: subject %q", kind, got.Subject)
		}
	}
}
