package units

import (
	"testing"
	"time"
)

func TestParseBytes(t *testing.T) {
	cases := map[string]int64{"0": 0, "512": 512, "1KB": 1000, "1KiB": 1024, "2GiB": 2 << 30, "500MB": 500e6, "1.5 GiB": 3 << 29, "20mib": 20 << 20}
	for in, want := range cases {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1XB", "1e400"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
}

func TestParseRate(t *testing.T) {
	cases := map[string]int64{"12Mbit": 1_500_000, "20Mbps": 2_500_000, "2MB/s": 2_000_000, "500KiB/s": 512000, "800kbit": 100_000, "1MiB": 1 << 20}
	for in, want := range cases {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "fast", "12", "12Mfoo"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
}

func TestFormat(t *testing.T) {
	if got := FormatBytes(1536); got != "1.5 KiB" {
		t.Errorf("FormatBytes(1536) = %q", got)
	}
	if got := FormatBytes(999); got != "999 B" {
		t.Errorf("FormatBytes(999) = %q", got)
	}
	if got := FormatRate(10<<20, time.Second); got != "10.0 MiB/s" {
		t.Errorf("FormatRate = %q", got)
	}
	if got := FormatDuration(185 * time.Second); got != "3m05s" {
		t.Errorf("FormatDuration = %q", got)
	}
}
