// Package slowtest owns the one rule for tests too slow for `make
// test-short`: under -short they are skipped, saying why and that `make
// test` runs them; when the suite must run whole (EDITKIT_REQUIRE_ALL=1,
// as `make test` and CI set it) a skip would hide a test, so it fails.
package slowtest

import (
	"os"
	"testing"
)

// Skip skips t under -short, with what makes it slow, and fails it instead
// when EDITKIT_REQUIRE_ALL=1.
func Skip(t testing.TB, why string) {
	t.Helper()
	if !testing.Short() {
		return
	}
	if os.Getenv("EDITKIT_REQUIRE_ALL") == "1" {
		t.Fatalf("%s: -short with EDITKIT_REQUIRE_ALL=1 would skip it; run the whole suite without -short (make test)", why)
	}
	t.Skipf("%s; runs in make test", why)
}
