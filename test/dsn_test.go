package test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/address"
)

// pyReport reads a delivery report with Python's standard email package,
// a parser independent of Waypost's, and prints what it found as JSON:
// the top-level fields, the parts' types, the text/plain part, and the
// field blocks of the message/delivery-status part (RFC 3464 section 2:
// the per-message block, then one per recipient), values unfolded.
const pyReport = `
import email, json, re, sys
from email import policy
from email.header import decode_header, make_header
msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.compat32)
out = {"type": msg.get_content_type(), "report_type": msg.get_param("report-type") or "",
       "subject": str(make_header(decode_header(msg["Subject"] or ""))),
       "from": msg["From"] or "", "return_path": msg["Return-Path"] or "",
       "auto_submitted": msg["Auto-Submitted"] or "",
       "parts": [], "text": "", "blocks": []}
if msg.is_multipart():
    for p in msg.get_payload():
        out["parts"].append(p.get_content_type())
        if p.get_content_type() == "text/plain" and not out["text"]:
            out["text"] = p.get_payload(decode=True).decode("utf-8")
        if p.get_content_type() == "message/delivery-status":
            for block in p.get_payload():
                out["blocks"].append({k: re.sub(r"\r?\n(?=[ \t])", "", v) for k, v in block.items()})
print(json.dumps(out))
`

// report is a delivery report as Python's email package reads it.
type report struct {
	Type          string              `json:"type"`
	ReportType    string              `json:"report_type"`
	Subject       string              `json:"subject"`
	From          string              `json:"from"`
	ReturnPath    string              `json:"return_path"`
	AutoSubmitted string              `json:"auto_submitted"`
	Parts         []string            `json:"parts"`
	Text          string              `json:"text"`
	Blocks        []map[string]string `json:"blocks"`
}

// parseReport parses msg with Python and checks what every non-delivery
// report must be (RFC 6522 multipart/report of report-type
// delivery-status, with a human part, the status part and the original's
// headers; from postmaster, to the null reverse path, auto-replied).
func parseReport(t *testing.T, msg string) *report {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed") // the test machines have it
	}
	cmd := exec.Command(py, "-c", pyReport)
	cmd.Stdin = strings.NewReader(msg)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python could not read the report: %v\n%s", err, msg)
	}
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Type != "multipart/report" || r.ReportType != "delivery-status" || len(r.Parts) != 3 ||
		r.Parts[0] != "text/plain" || r.Parts[1] != "message/delivery-status" || r.Parts[2] != "text/rfc822-headers" {
		t.Errorf("report structure: type %s report-type %q parts %v", r.Type, r.ReportType, r.Parts)
	}
	if r.ReturnPath != "<>" || r.AutoSubmitted != "auto-replied" || !strings.Contains(r.From, "<postmaster@contoso.test>") {
		t.Errorf("report envelope: Return-Path %q Auto-Submitted %q From %q", r.ReturnPath, r.AutoSubmitted, r.From)
	}
	if len(r.Blocks) < 2 || !strings.HasPrefix(r.Blocks[0]["Reporting-MTA"], "dns; ") || r.Blocks[0]["Arrival-Date"] == "" {
		t.Errorf("per-message fields: %v", r.Blocks)
	}
	return &r
}

// recipient returns the per-recipient block whose Final-Recipient is
// typ;addr (the type compared case-insensitively, as RFC 3464 says), or
// for a type other than rfc822 the rfc822 IMCEA address of typ:addr, as
// reports write those (docs/design/exchange-semantics.md section 5.6); or
// fails.
func (r *report) recipient(t *testing.T, typ, addr string) map[string]string {
	t.Helper()
	for _, b := range r.Blocks[min(1, len(r.Blocks)):] {
		k, v, _ := strings.Cut(b["Final-Recipient"], ";")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if strings.EqualFold(k, typ) && v == addr {
			return b
		}
		if it, iv, _, err := address.DecodeIMCEA(v); err == nil && strings.EqualFold(k, "rfc822") && strings.EqualFold(it, typ) && iv == addr {
			return b
		}
	}
	t.Fatalf("no Final-Recipient %s;%s in %v", typ, addr, r.Blocks)
	return nil
}

// failed checks a failed recipient's block: Action failed, the status, and
// a Diagnostic-Code of type smtp holding every one of diag.
func failed(t *testing.T, b map[string]string, status string, diag ...string) {
	t.Helper()
	if b["Action"] != "failed" || b["Status"] != status {
		t.Errorf("Action %q Status %q, want failed %s: %v", b["Action"], b["Status"], status, b)
	}
	if !strings.HasPrefix(b["Diagnostic-Code"], "smtp; ") {
		t.Errorf("Diagnostic-Code %q is not of type smtp", b["Diagnostic-Code"])
	}
	for _, d := range diag {
		if !strings.Contains(b["Diagnostic-Code"], d) {
			t.Errorf("Diagnostic-Code %q lacks %q", b["Diagnostic-Code"], d)
		}
	}
}
