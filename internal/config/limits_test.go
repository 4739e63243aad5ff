package config

import (
	"net/netip"
	"testing"
	"time"
)

func TestReceiveLimits(t *testing.T) {
	org, err := Parse([]byte(base+`  [[server.receive]]
  name = "Default"
  listen = "127.0.0.1:2525"
  bare_lf_ranges = ["192.0.2.10", "198.51.100.0/24"]
  max_header_size = "64KiB"
  min_free_space = "1GB"
  max_connections = 50
  max_connections_per_ip = 0
  min_data_rate = 100
  max_auth_failures_per_ip = 5
  auth_failure_window = "10m"
  auth_lockout = "1h"
  [[server.receive]]
  name = "Clients"
  listen = "127.0.0.1:2587"
  kind = "submission"
  max_header_size = "unlimited"
`), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rc := org.Server("hub1").Receive[0]
	want := []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("198.51.100.0/24")}
	if len(rc.BareLFRanges) != 2 || rc.BareLFRanges[0] != want[0] || rc.BareLFRanges[1] != want[1] {
		t.Errorf("bare_lf_ranges %v", rc.BareLFRanges)
	}
	if rc.MaxHeaderSize != 64<<10 || rc.MinFreeSpace != 1e9 || rc.MaxConnections != 50 || rc.MaxConnectionsPerIP != 0 ||
		rc.MinDataRate != 100 || rc.MaxAuthFailuresPerIP != 5 || rc.AuthFailureWindow != 10*time.Minute || rc.AuthLockout != time.Hour {
		t.Errorf("read wrongly: %+v", rc)
	}
	d := org.Server("hub1").Receive[1]
	if d.MaxHeaderSize != 0 || d.BareLFRanges != nil || d.MinFreeSpace != 0 ||
		d.MaxConnections != DefaultMaxConnections || d.MaxConnectionsPerIP != 20 || d.MinDataRate != 500 ||
		d.MaxAuthFailuresPerIP != 10 || d.AuthFailureWindow != 5*time.Minute || d.AuthLockout != 5*time.Minute {
		t.Errorf("defaults: %+v", d)
	}
	if s := Default(t.TempDir()).Server(DefaultServer).Receive[0]; s.MaxHeaderSize != 102400 || s.MaxConnectionsPerIP != 20 {
		t.Errorf("built-in organization: %+v", s)
	}
}

func TestBadReceiveLimits(t *testing.T) {
	errs := parseErrs(t, base+`  [[server.receive]]
  name = "Default"
  listen = "127.0.0.1:2525"
  bare_lf_ranges = ["legacy.contoso.test"]
  max_header_size = 100
  min_free_space = "lots"
  max_connections = -1
  max_connections_per_ip = -2
  min_data_rate = -3
  max_auth_failures_per_ip = -4
  auth_failure_window = "forever"
  auth_lockout = "0s"
  max_head_size = 1
`)
	want(t, errs, 13, `"legacy.contoso.test" is neither an address nor a CIDR range`)
	want(t, errs, 14, "max_header_size 100 is below 1000 bytes")
	want(t, errs, 15, `size "lots" is not a size`)
	want(t, errs, 16, "max_connections -1 is negative")
	want(t, errs, 17, "max_connections_per_ip -2 is negative")
	want(t, errs, 18, "min_data_rate -3 is negative")
	want(t, errs, 19, "max_auth_failures_per_ip -4 is negative")
	want(t, errs, 20, `"forever" is not a duration`)
	want(t, errs, 21, "outside 1s..24h0m0s")
	want(t, errs, 22, `unknown key "max_head_size"`)
}
