package place

import "testing"

// Kernel releases as uname reports them decide whether syncfs reports
// write-back errors (5.8 and later).
func TestKernelAtLeast(t *testing.T) {
	for release, want := range map[string]bool{
		"6.18.44-fc-v1272": true,
		"5.8.0":            true,
		"5.10.0-28-amd64":  true,
		"5.7.19":           false,
		"4.19.0-26-amd64":  false,
		"5.15+":            true,
		"garbage":          false,
		"":                 false,
	} {
		if got := kernelAtLeast(release, 5, 8); got != want {
			t.Errorf("%q: %v, want %v", release, got, want)
		}
	}
}
