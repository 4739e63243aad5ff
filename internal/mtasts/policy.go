// Package mtasts finds and keeps the MTA-STS policies of recipient
// domains, for the send connectors with tls = "mta-sts" (SMTP MTA Strict
// Transport Security, RFC 8461): the _mta-sts TXT record (section 3.1),
// the policy fetched over HTTPS with a verified certificate from
// https://mta-sts.<domain>/.well-known/mta-sts.txt (section 3.3), cached
// with its max_age in memory and in the data folder and fetched again
// when the TXT record's id changes (sections 5 and 5.1), and the MX
// patterns that a mail exchanger must match (section 4.1).
package mtasts

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Modes of a policy (RFC 8461 section 3.2).
const (
	Enforce = "enforce" // deliver only to matching MX hosts, over verified TLS
	Testing = "testing" // deliver as without a policy; report failures
	None    = "none"    // no policy
)

// Policy is a domain's policy as fetched.
type Policy struct {
	Domain  string        `json:"domain"`
	ID      string        `json:"id"` // the TXT record's id when fetched
	Mode    string        `json:"mode"`
	MX      []string      `json:"mx"`
	MaxAge  time.Duration `json:"max_age"`
	Fetched time.Time     `json:"fetched"`
}

// Fresh reports whether the policy's max_age has not run out at now.
func (p *Policy) Fresh(now time.Time) bool {
	return p != nil && now.Before(p.Fetched.Add(p.MaxAge))
}

// Match reports whether the MX host name matches one of the policy's mx
// patterns (RFC 8461 section 4.1): equal, ignoring case and the final
// dot, or "*.example.com" matching one more label on the left.
func (p *Policy) Match(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		pat = strings.ToLower(strings.TrimSuffix(pat, "."))
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			if label, parent, found := strings.Cut(host, "."); found && label != "" && parent == rest {
				return true
			}
			continue
		}
		if host == pat {
			return true
		}
	}
	return false
}

// MaxMaxAge is the longest max_age a policy may set: a year (RFC 8461
// section 3.2).
const MaxMaxAge = 31557600 * time.Second

// Parse reads a policy file (RFC 8461 section 3.2): "key: value" lines
// ending in CRLF or LF, version STSv1, mode, max_age in seconds, and one
// mx line per pattern (at least one unless mode is none). Unknown keys
// are ignored, as the section asks.
func Parse(text string) (*Policy, error) {
	p := &Policy{}
	var version string
	haveAge := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not \"key: value\"", n, line)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "version":
			version = value
		case "mode":
			p.Mode = value
		case "max_age":
			s, err := strconv.ParseUint(value, 10, 32)
			if err != nil || len(value) > 10 {
				return nil, fmt.Errorf("line %d: max_age %q is not a number of seconds", n, value)
			}
			p.MaxAge = min(time.Duration(s)*time.Second, MaxMaxAge)
			haveAge = true
		case "mx":
			p.MX = append(p.MX, value)
		}
	}
	switch {
	case version != "STSv1":
		return nil, fmt.Errorf("version %q, want STSv1", version)
	case p.Mode != Enforce && p.Mode != Testing && p.Mode != None:
		return nil, fmt.Errorf("mode %q, want enforce, testing or none", p.Mode)
	case !haveAge:
		return nil, errors.New("no max_age")
	case len(p.MX) == 0 && p.Mode != None:
		return nil, errors.New("no mx pattern")
	}
	return p, nil
}

// parseTXT reads the id of an _mta-sts TXT record ("v=STSv1; id=..."),
// section 3.1: fields separated by ";", v first. ok is false for a
// record that is not an STSv1 record.
func parseTXT(txt string) (id string, ok bool) {
	fields := strings.Split(txt, ";")
	if strings.TrimSpace(fields[0]) != "v=STSv1" {
		return "", false
	}
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		if k == "id" && v != "" && len(v) <= 32 {
			for _, r := range v {
				if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
					return "", false
				}
			}
			id = v
		}
	}
	return id, id != ""
}
