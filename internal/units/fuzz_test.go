package units

import (
	"strings"
	"testing"
)

// FuzzParseBytes: a size typed by a person (--size, a drive test) is an
// error or a size that is not negative and did not wrap around.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"500MB", "2GiB", "1.5 TB", "0", "12", " 7 kib ", "1e3", "-1", "99999999999999999999TB", "9223372036854775807", ".", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseBytes(%q) = %d", s, n)
		}
		if num, _ := splitNumber(s); strings.TrimSpace(num) == "" {
			t.Fatalf("ParseBytes(%q) = %d without a number", s, n)
		}
	})
}

// FuzzParseRate: a bandwidth limit (--bwlimit, the settings file) is an
// error or a positive rate that did not wrap around.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"12Mbit", "20Mbps", "2MB/s", "500KiB/s", "800kbit", "1", "0.0000001bit", "1e400", "99999999999999999999999GB/s", "5 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseRate(s)
		if err != nil {
			return
		}
		if n <= 0 {
			t.Fatalf("ParseRate(%q) = %d", s, n)
		}
	})
}
