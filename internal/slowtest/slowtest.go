// Package slowtest owns the rules for tests that might not run: one too
// slow for `make test-short` is skipped under -short, saying why and that
// `make test` runs it (Skip); one whose prerequisite is missing (a tool, a
// mount, root) is skipped on a quick `go test` on a laptop (Missing). When
// the suite must run whole (EDITKIT_REQUIRE_ALL=1, as `make test` and CI
// set it) either skip would hide a test, so it fails instead.
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

// Missing fails t when the suite must run whole (EDITKIT_REQUIRE_ALL=1) and
// otherwise skips it, saying what is missing and how to get it.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("EDITKIT_REQUIRE_ALL") == "1" {
		t.Fatalf("prerequisite missing: %s (run .ci/install-deps; make test needs root for mounts)", what)
	}
	t.Skipf("prerequisite missing: %s; make test would fail here", what)
}
