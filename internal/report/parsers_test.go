package report

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The bounce parsers that mailing-list managers and mail senders run on the
// reports they get: Sisimai (Perl, Debian libsisimai-perl) and flufl.bounce
// (Python 3, Debian python3-flufl.bounce, the one GNU Mailman uses). Each is
// run as an outside program on every kind of report Waypost writes, and must
// find every recipient and nothing else, those of address types with no
// registered DSN address type (FAX, SMS, a custom type) and X.400 too:
// those are written as Exchange writes them, rfc822 with the IMCEA address
// (docs/design/exchange-semantics.md section 5.6). scripts/test.sh
// installs both.

// sisimaiScript prints one JSON object per bounce record Sisimai finds in
// the message on standard input; delivered records are included.
const sisimaiScript = `
use strict; use warnings; use Sisimai; use JSON::PP;
local $/; my $mail = <STDIN>;
my $records = Sisimai->make(\$mail, delivered => 1) || [];
for my $r (@$records) {
    print JSON::PP->new->canonical->encode({
        address => $r->recipient->address, action => $r->action,
        status => $r->deliverystatus, reason => $r->reason, alias => $r->alias,
    }), "\n";
}
`

// fluflScript prints what flufl.bounce finds in the message on standard
// input: the temporary and the permanent failures.
const fluflScript = `
import email, json, sys
from flufl.bounce import all_failures
msg = email.message_from_bytes(sys.stdin.buffer.read())
temporary, permanent = all_failures(msg)
print(json.dumps({"temporary": sorted(a.decode() for a in temporary),
                  "permanent": sorted(a.decode() for a in permanent)}))
`

// parserSample is a report about one recipient of each kind of address: an
// SMTP address sent with ORCPT, two one-off addresses of types that have no
// registered DSN address type, a custom type and an X.400 address.
func parserSample(kind string) (Report, []string) {
	r := sample()
	r.Postmaster = "postmaster@corp.test"
	t0 := r.Arrival
	r.Recipients = []Recipient{
		{Written: "bob@fabrikam.test", Type: "SMTP", Address: "bob@fabrikam.test", ORCPT: "rfc822;bob@fabrikam.test", Status: "5.1.1",
			RemoteHost: "mx.fabrikam.test", RemoteText: "550 5.1.1 no such user", LastAttempt: t0.Add(30 * time.Second)},
		{Written: "[FAX:+1 555 0100]", Type: "FAX", Address: "+1 555 0100", Status: "5.4.4",
			RemoteText: "ROUTING.NoConnectorForAddressType; unable to route for address type FAX"},
		{Written: "Front Desk[SMS:+1 555 0200]", Type: "SMS", Address: "+1 555 0200", Status: "5.3.0",
			RemoteHost: "/usr/local/bin/sendsms", RemoteText: "gateway refused the number"},
		{Written: "NOTES:Bob Smith/Fabrikam", Type: "NOTES", Address: "Bob Smith/Fabrikam", Status: "5.4.4",
			RemoteText: "ROUTING.NoConnectorForAddressType; unable to route for address type NOTES"},
		{Written: "X400:c=US;a= ;p=Fabrikam;s=Smith;", Type: "X400", Address: "c=US;a= ;p=Fabrikam;s=Smith;", Status: "5.4.7",
			RemoteText: "Queue expired; Message expired"},
	}
	switch kind {
	case "delay":
		r.Delay, r.WillRetryUntil = true, t0.Add(48*time.Hour)
		for i := range r.Recipients {
			r.Recipients[i].Status, r.Recipients[i].RemoteText = "4.4.1", "421 4.4.1 no answer, will try again"
		}
	case "success":
		r.Success = true
		for i := range r.Recipients {
			r.Recipients[i].Status, r.Recipients[i].Action, r.Recipients[i].RemoteText = "2.0.0", "relayed", "250 2.0.0 queued"
		}
		r.Recipients[0].Action = "delivered"
	}
	return r, []string{
		"bob@fabrikam.test",
		"IMCEAFAX-+2B1+20555+200100@corp.test",
		"IMCEASMS-+2B1+20555+200200@corp.test",
		"IMCEANOTES-Bob+20Smith_Fabrikam@corp.test",
		"IMCEAX400-c=US+3Ba=+20+3Bp=Fabrikam+3Bs=Smith+3B@corp.test",
	}
}

// parserReport writes the report of the given kind to a file and returns
// it with the addresses a parser must find.
func parserReport(t *testing.T, kind string) (string, Report, []string) {
	t.Helper()
	r, want := parserSample(kind)
	out, err := NDR(r, strings.NewReader(original))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), kind+".eml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, r, want
}

// needParser returns the first of progs (a name looked up in PATH, or a
// path) for which the probe arguments succeed. When none does it skips the
// test, except when CI is set (CI=1, as for slapd in test/harness), where a
// missing parser fails it: CI must run these tests. Debian's packages
// install into the system's interpreters, which need not be the first in
// PATH (pyenv, perlbrew), hence the list.
func needParser(t *testing.T, name, pkg string, progs []string, probe ...string) string {
	t.Helper()
	var errs []string
	for _, p := range progs {
		prog, err := exec.LookPath(p)
		if err != nil {
			errs = append(errs, p+": "+err.Error())
			continue
		}
		out, err := exec.Command(prog, probe...).CombinedOutput()
		if err == nil {
			return prog
		}
		errs = append(errs, fmt.Sprintf("%s: %v: %s", prog, err, strings.TrimSpace(string(out))))
	}
	msg := name + " is not installed (Debian package " + pkg + "; scripts/test.sh installs it): " + strings.Join(errs, "; ")
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func runParser(t *testing.T, prog string, args []string, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(prog, args...)
	cmd.Stdin = f
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", prog, err, stderr.String())
	}
	return out
}

func TestSisimaiFindsEveryRecipient(t *testing.T) {
	perl := needParser(t, "Sisimai", "libsisimai-perl", []string{"perl", "/usr/bin/perl"}, "-MSisimai", "-e", "1")
	for _, kind := range []string{"failure", "delay", "success"} {
		t.Run(kind, func(t *testing.T) {
			path, r, want := parserReport(t, kind)
			out := runParser(t, perl, []string{"-e", sisimaiScript}, path)
			type record struct{ Address, Action, Status, Reason, Alias string }
			got := map[string]record{}
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if l == "" {
					continue
				}
				var rec record
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatalf("%v: %s", err, l)
				}
				got[strings.ToLower(rec.Address)] = rec
			}
			if len(got) != len(want) {
				t.Errorf("Sisimai found %d recipients, want %d: %+v", len(got), len(want), got)
			}
			for i, addr := range want {
				rec, ok := got[strings.ToLower(addr)]
				if !ok {
					t.Errorf("Sisimai does not find %s (%s): %+v", addr, r.Recipients[i].Written, got)
					continue
				}
				action := map[string]string{"failure": "failed", "delay": "delayed", "success": r.Recipients[i].Action}[kind]
				if rec.Action != action || rec.Status != r.Recipients[i].Status {
					t.Errorf("Sisimai reads %s as %s %s, want %s %s", addr, rec.Action, rec.Status, action, r.Recipients[i].Status)
				}
			}
		})
	}
}

func TestFluflBounceFindsEveryRecipient(t *testing.T) {
	py := needParser(t, "flufl.bounce", "python3-flufl.bounce", []string{"python3", "/usr/bin/python3"}, "-c", "import flufl.bounce")
	for _, kind := range []string{"failure", "delay", "success"} {
		t.Run(kind, func(t *testing.T) {
			path, _, want := parserReport(t, kind)
			var got struct{ Temporary, Permanent []string }
			out := runParser(t, py, []string{"-c", fluflScript}, path)
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			// flufl.bounce reads Final-Recipient as MIME parameters
			// (email.message.get_params), so it cuts an address at its
			// first '=': the IMCEA form of an X.400 address keeps '='
			// ([MS-OXCMAIL] section 2.1.3.1.8), and flufl.bounce finds
			// its first piece, as it does with any address holding '='.
			// Sisimai reads it whole (TestSisimaiFindsEveryRecipient).
			expect := map[string]bool{}
			for _, a := range want {
				a = strings.ToLower(a)
				if i := strings.IndexByte(a, '='); i >= 0 {
					a = a[:i]
				}
				expect[a] = true
			}
			var found, other []string
			switch kind {
			case "failure":
				found, other = got.Permanent, got.Temporary
			case "delay":
				found, other = got.Temporary, got.Permanent
			case "success":
				// A success notification is no bounce: a list manager
				// must not count it against any recipient.
				expect = map[string]bool{}
				found, other = nil, append(got.Permanent, got.Temporary...)
			}
			have := map[string]bool{}
			for _, a := range found {
				have[strings.ToLower(a)] = true
			}
			for a := range expect {
				if !have[a] {
					t.Errorf("flufl.bounce does not find %s; it finds %q", a, found)
				}
			}
			for a := range have {
				if !expect[a] {
					t.Errorf("flufl.bounce finds %q, which is no recipient; it finds %q", a, found)
				}
			}
			if len(other) != 0 {
				t.Errorf("flufl.bounce finds %q in the wrong class (temporary %q, permanent %q)", other, got.Temporary, got.Permanent)
			}
		})
	}
}
