package config

import (
	"fmt"
	"testing"
	"time"
)

const glitchOrg = `[organization]
default_domain = "contoso.test"
%s
[[accepted_domain]]
domain = "contoso.test"
[[site]]
name = "HQ"
[[server]]
name = "hub1"
site = "HQ"
`

// glitch_retry_interval: 60s by default (Exchange 2010's), seconds for
// tests, and a clear error with its line for a value out of range.
func TestGlitchRetryInterval(t *testing.T) {
	org, err := Parse([]byte(fmt.Sprintf(glitchOrg, "")), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if org.GlitchRetryInterval != time.Minute {
		t.Errorf("default glitch retry interval %s, want 1m", org.GlitchRetryInterval)
	}
	org, err = Parse([]byte(fmt.Sprintf(glitchOrg, `glitch_retry_interval = "2s"`)), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if org.GlitchRetryInterval != 2*time.Second {
		t.Errorf("glitch retry interval %s, want 2s", org.GlitchRetryInterval)
	}
	for bad, msg := range map[string]string{`"0s"`: "outside 1s..1h0m0s", `"2h"`: "outside 1s..1h0m0s", `"soon"`: "is not a duration"} {
		errs := parseErrs(t, fmt.Sprintf(glitchOrg, "glitch_retry_interval = "+bad))
		want(t, errs, 3, msg)
	}
}
