package queue

import (
	"time"

	"github.com/waypost/waypost/internal/config"
)

// Jitter is the spread of Schedule around the nominal interval: +-10%, so
// that messages that failed together do not all come due together.
const Jitter = 0.10

// Interval returns the nominal wait after attempt n (1-based) failed
// transiently, per the Exchange retry cycle (exchange-semantics.md section
// 5.3): after attempts 1..GlitchCount, GlitchInterval; after the next
// TransientCount attempts, TransientInterval; after that
// OutboundInterval. With the Hub defaults: 4 x 1m, 6 x 5m, then 10m.
func Interval(r config.Retry, n int) time.Duration {
	switch {
	case n <= r.GlitchCount:
		return r.GlitchInterval
	case n <= r.GlitchCount+r.TransientCount:
		return r.TransientInterval
	default:
		return r.OutboundInterval
	}
}

// Schedule returns when attempt n+1 is due, attempt n (1-based, made at
// last) having failed transiently: last plus Interval(r, n) times a factor
// in [0.9, 1.1) drawn from rnd, which returns values in [0, 1) (nil: no
// jitter; math/rand/v2's Float64 in production, a fixed function in
// tests). The result is never after expires (unless expires is zero): a
// retry due later is due at expiry instead, when the message expires.
// n below 1 counts as 1.
func Schedule(r config.Retry, n int, last, expires time.Time, rnd func() float64) time.Time {
	d := max(Interval(r, max(n, 1)), 0)
	if rnd != nil {
		f := 1 - Jitter + 2*Jitter*rnd()
		d = time.Duration(float64(d) * f) // exact: float64 holds 104 days of nanoseconds
	}
	next := last.Add(d)
	if !expires.IsZero() && next.After(expires) {
		return expires
	}
	return next
}
