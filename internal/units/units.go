// Package units owns how editkit reads and prints sizes, rates and durations
// for people: "2GiB", "500MB", "12Mbit" in, "1.5 GiB", "210 MiB/s" out.
package units

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// FormatBytes prints n with a binary unit: "0 B", "999 B", "1.5 KiB", "2.0 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	i := 0
	for math.Abs(f) >= unit && i < 6 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTPE"[i-1])
}

// FormatRate prints bytes per second.
func FormatRate(bytes int64, d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return FormatBytes(int64(float64(bytes)/d.Seconds())) + "/s"
}

// FormatDuration prints a duration for a summary: "850ms", "42s", "3m05s", "1h02m".
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseBytes reads a size: plain bytes, decimal (KB, MB, GB, TB) or binary
// (KiB, MiB, GiB, TiB) units, case-insensitive, optional space.
func ParseBytes(s string) (int64, error) {
	num, unit := splitNumber(s)
	v, err := strconv.ParseFloat(num, 64)
	mult, ok := byteUnits[strings.ToLower(unit)]
	if err != nil || !ok || v < 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("size %q: want a number with an optional unit, e.g. 500MB, 2GiB", s)
	}
	n, ok := toInt64(v * mult)
	if !ok {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n, nil
}

// toInt64 converts a non-negative float, refusing one an int64 cannot
// hold (Go's conversion would wrap it to a negative number).
func toInt64(f float64) (int64, bool) {
	if !(f < math.MaxInt64) { // also NaN
		return 0, false
	}
	return int64(f), true
}

// ParseRate reads a bandwidth as bytes per second: "2MB/s", "500KiB/s" (bytes)
// or "12Mbit", "12Mbps", "800kbit" (bits, as internet plans are sold).
func ParseRate(s string) (int64, error) {
	num, unit := splitNumber(s)
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("rate %q: want e.g. 12Mbit or 2MB/s", s)
	}
	u := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(unit, "/s"), "ps"))
	bits := map[string]float64{"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "kb": 1e3, "mb": 1e6, "gb": 1e9}
	rate := func(bps float64) (int64, error) {
		// Below one byte a second the cap would read as 0, "no cap".
		n, ok := toInt64(bps)
		if !ok || n < 1 {
			return 0, fmt.Errorf("rate %q: want from 1 byte/s (8bit) up to %d bytes/s", s, int64(math.MaxInt64))
		}
		return n, nil
	}
	if strings.HasSuffix(strings.ToLower(unit), "bps") || strings.HasSuffix(u, "bit") {
		if m, ok := bits[u]; ok {
			return rate(v * m / 8)
		}
	}
	if m, ok := byteUnits[u]; ok && u != "" {
		return rate(v * m)
	}
	return 0, fmt.Errorf("rate %q: unknown unit %q; use e.g. 12Mbit, 20Mbps, 2MB/s, 500KiB/s", s, unit)
}

func splitNumber(s string) (num, unit string) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// Count prints a number of things: "1 file", "3 files".
func Count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
