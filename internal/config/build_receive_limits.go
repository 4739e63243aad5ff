package config

import (
	"fmt"
	"time"
)

// Defaults of the receive connector limits against abuse
// (docs/operations.md, "Limits of a receive connector"). Where Postfix or Exchange has
// a value it is theirs.
const (
	DefaultMaxHeaderSize        = 102400 // Postfix header_size_limit
	DefaultMaxConnections       = 1000
	DefaultMaxConnectionsPerIP  = 20  // Exchange MaxInboundConnectionPerSource
	DefaultMinDataRate          = 500 // bytes/s, Postfix smtpd_min_data_rate
	DefaultMaxAuthFailuresPerIP = 10
	DefaultAuthFailureWindow    = 5 * time.Minute
	DefaultAuthLockout          = 5 * time.Minute
)

// buildReceiveLimits reads the limits against abuse of a receive connector
// into rc. A limit of 0 is off.
func buildReceiveLimits(c *collector, path, who string, r *rawReceive, rc *ReceiveConnector) {
	for k, s := range r.BareLFRanges {
		p, err := parsePrefix(s)
		if err != nil {
			c.add(fmt.Sprintf("%s.bare_lf_ranges[%d]", path, k), `write an address or a CIDR range such as "192.0.2.10/32"`, "%s: %v", who, err)
			continue
		}
		rc.BareLFRanges = append(rc.BareLFRanges, p)
	}
	rc.MaxHeaderSize = sizeOr(c, path+".max_header_size", who, r.MaxHeaderSize, DefaultMaxHeaderSize)
	if rc.MaxHeaderSize != 0 && rc.MaxHeaderSize < 1000 {
		c.add(path+".max_header_size", `use 1000 bytes or more, or "unlimited" (default 102400)`, "%s: max_header_size %d is below 1000 bytes", who, rc.MaxHeaderSize)
	}
	rc.MinFreeSpace = sizeOr(c, path+".min_free_space", who, r.MinFreeSpace, 0)
	rc.MaxConnections = nonNegative(c, path+".max_connections", who, r.MaxConnections, DefaultMaxConnections)
	rc.MaxConnectionsPerIP = nonNegative(c, path+".max_connections_per_ip", who, r.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	rc.MinDataRate = nonNegative(c, path+".min_data_rate", who, r.MinDataRate, DefaultMinDataRate)
	rc.MaxAuthFailuresPerIP = nonNegative(c, path+".max_auth_failures_per_ip", who, r.MaxAuthFailuresPerIP, DefaultMaxAuthFailuresPerIP)
	rc.AuthFailureWindow = durationOr(c, path+".auth_failure_window", r.AuthFailureWindow, DefaultAuthFailureWindow, time1s, 24*time1h)
	rc.AuthLockout = durationOr(c, path+".auth_lockout", r.AuthLockout, DefaultAuthLockout, time1s, 24*time1h)
}

// sizeOr reads an optional size; "unlimited" is 0.
func sizeOr(c *collector, path, who string, v any, def int64) int64 {
	if v == nil {
		return def
	}
	n, err := parseSize(v)
	if err != nil {
		c.add(path, `write a size such as "100KB", "64KiB", 102400 or "unlimited"`, "%s: %v", who, err)
		return def
	}
	return n
}

// nonNegative reads an optional count where 0 turns the limit off.
func nonNegative(c *collector, path, who string, p *int, def int) int {
	n := intOr(p, def)
	if n < 0 {
		c.add(path, fmt.Sprintf("use 0 (no limit) or more (default %d)", def), "%s: %s %d is negative", who, lastKey(path), n)
		return def
	}
	return n
}

// lastKey is the last element of a dotted path.
func lastKey(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '.' {
			return path[i+1:]
		}
	}
	return path
}
