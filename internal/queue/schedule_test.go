package queue

import (
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
)

// exchangeRetry is the Exchange 2007 Hub default (exchange-semantics.md
// section 5.3), written out here so that the test checks the numbers.
var exchangeRetry = config.Retry{
	GlitchCount: 4, GlitchInterval: time.Minute,
	TransientCount: 6, TransientInterval: 5 * time.Minute,
	OutboundInterval: 10 * time.Minute,
}

func TestScheduleExchangeDefaults(t *testing.T) {
	last := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, time.Minute}, // n below 1 counts as 1
		{1, time.Minute}, {2, time.Minute}, {3, time.Minute}, {4, time.Minute},
		{5, 5 * time.Minute}, {6, 5 * time.Minute}, {10, 5 * time.Minute},
		{11, 10 * time.Minute}, {12, 10 * time.Minute}, {200, 10 * time.Minute},
	} {
		if got := Schedule(exchangeRetry, tc.n, last, time.Time{}, nil); got.Sub(last) != tc.want {
			t.Errorf("after attempt %d: wait %v, want %v", tc.n, got.Sub(last), tc.want)
		}
		// Jitter stays within +-10%: the low end included, the high end not.
		lo := Schedule(exchangeRetry, tc.n, last, time.Time{}, func() float64 { return 0 })
		mid := Schedule(exchangeRetry, tc.n, last, time.Time{}, func() float64 { return 0.5 })
		hi := Schedule(exchangeRetry, tc.n, last, time.Time{}, func() float64 { return 0.9999999999 })
		if lo.Sub(last) != tc.want*9/10 {
			t.Errorf("after attempt %d: lowest jitter %v, want %v", tc.n, lo.Sub(last), tc.want*9/10)
		}
		if mid.Sub(last) != tc.want {
			t.Errorf("after attempt %d: middle jitter %v, want %v", tc.n, mid.Sub(last), tc.want)
		}
		if d := hi.Sub(last); d >= tc.want*11/10 || d < tc.want*109/100 {
			t.Errorf("after attempt %d: highest jitter %v, want just under %v", tc.n, d, tc.want*11/10)
		}
	}
}

func TestScheduleExpiry(t *testing.T) {
	last := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	expires := last.Add(7 * time.Minute)
	if got := Schedule(exchangeRetry, 11, last, expires, nil); !got.Equal(expires) {
		t.Errorf("10m retry with 7m to expiry: %v, want the expiry %v", got, expires)
	}
	if got := Schedule(exchangeRetry, 5, last, expires, nil); !got.Equal(last.Add(5 * time.Minute)) {
		t.Errorf("5m retry with 7m to expiry: %v", got)
	}
	if got := Schedule(exchangeRetry, 5, last, last.Add(5*time.Minute), func() float64 { return 0.99 }); !got.Equal(last.Add(5 * time.Minute)) {
		t.Errorf("jitter past the expiry: %v, want the expiry", got)
	}
}

// The whole cycle of a message that never gets through in 48 hours, as in
// exchange-semantics.md section 5.3: 4 x 1m, 6 x 5m, then every 10m until
// expiry, and the last attempt at the expiry itself.
func TestScheduleCycle(t *testing.T) {
	arrival := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	expires := arrival.Add(48 * time.Hour)
	at, n := arrival, 1 // attempt 1 at arrival
	var waits []time.Duration
	for at.Before(expires) {
		next := Schedule(exchangeRetry, n, at, expires, nil)
		waits = append(waits, next.Sub(at))
		at, n = next, n+1
	}
	for i, w := range waits[:10] {
		want := time.Minute
		if i >= 4 {
			want = 5 * time.Minute
		}
		if w != want {
			t.Errorf("wait %d = %v, want %v", i+1, w, want)
		}
	}
	// 34 minutes for the first 10 retries, then 10 minutes each.
	if want := 10 + (48*60-34)/10 + 1; n != want+1 {
		t.Errorf("%d retries in 48h, want %d", n-1, want)
	}
	if !at.Equal(expires) {
		t.Errorf("last retry at %v, want the expiry %v", at, expires)
	}
}

func TestScheduleZeroCounts(t *testing.T) {
	r := config.Retry{OutboundInterval: 30 * time.Minute} // no glitch or transient retries
	last := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := Schedule(r, 1, last, time.Time{}, nil); got.Sub(last) != 30*time.Minute {
		t.Errorf("wait %v, want 30m", got.Sub(last))
	}
}
