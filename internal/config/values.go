package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// parseSize reads a size: an integer number of bytes, or a string such as
// "10MB" (decimal, 10,000,000), "35MiB" (binary), "1048576", or "unlimited".
// It returns 0 for unlimited.
func parseSize(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return 0, fmt.Errorf("size %d is negative", x)
		}
		return x, nil
	case float64:
		return 0, fmt.Errorf("size %v is not a whole number of bytes", x)
	case string:
		return parseSizeString(x)
	default:
		return 0, fmt.Errorf("size must be a number of bytes or a string like \"10MB\", not %T", v)
	}
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"k", 1000}, {"m", 1000 * 1000}, {"g", 1000 * 1000 * 1000},
	{"b", 1},
}

func parseSizeString(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "unlimited" {
		return 0, nil
	}
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			mult = u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, fmt.Errorf("size %q is not a size", s)
	}
	b := n * float64(mult)
	if b > math.MaxInt64/2 || b != math.Trunc(b) {
		return 0, fmt.Errorf("size %q is not a whole number of bytes below 4 EiB", s)
	}
	return int64(b), nil
}

// parseDuration reads a Go duration ("90s", "4h", "48h") that must lie in
// [min, max].
func parseDuration(s string, min, max time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("duration %q is not a duration", s)
	}
	if d < min || d > max {
		return 0, fmt.Errorf("duration %s is outside %s..%s", d, min, max)
	}
	return d, nil
}

const (
	time1s = time.Second
	time1h = time.Hour
)

// ParseSize reads a size as the organization file writes it: "10MB",
// "35MiB", "1048576" or "unlimited" (0).
func ParseSize(s string) (int64, error) { return parseSizeString(s) }
