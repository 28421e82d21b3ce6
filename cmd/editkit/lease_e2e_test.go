package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/editkit/editkit/internal/backup"
)

// twoBackups backs up a folder of bins twice, one bin changed between, so
// that a prune keeping the last snapshot has a blob to delete.
func twoBackups(t *testing.T, h *testHub, bin string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "Bins")
	for i := range 2 {
		for _, name := range []string{"reel 1.avb", "reel 2.avb", "reel 3.avb"} {
			writeRandom(t, filepath.Join(src, name), 1500)
		}
		if r := h.runBin(t, bin, nil, "backup", "--set", "A", src); r.code != 0 {
			t.Fatalf("backup %d: %s", i, r)
		}
	}
}

// A prune from one computer compacts the hub; `hub pack` and another prune
// from another start meanwhile. hub pack does nothing, says who is
// compacting and exits 1; the other prune compacts nothing, says so, and
// exits 0. The first finishes, and the hub checks clean.
func TestHubPackDuringPruneE2E(t *testing.T) {
	long(t)
	bin := hooksBinary(t)
	hubs(t, func(t *testing.T, h *testHub) {
		twoBackups(t, h, bin)
		resume := h.pausedAt(t, bin, "prune-compact:indexed", "prune", "--keep-last", "1", "--grace", "0s")
		r := h.runBin(t, bin, nil, "hub", "pack")
		if r.code != 1 || !strings.Contains(r.stderr, "is compacting this hub") || !strings.Contains(r.stderr, "run `editkit hub pack` again once it has finished") {
			t.Fatalf("hub pack during a prune's compaction: %s", r)
		}
		r = h.runBin(t, bin, nil, "prune", "--keep-last", "1", "--grace", "0s")
		if r.code != 0 || !strings.Contains(r.stdout, "is compacting this hub; this one did not compact") || !strings.Contains(r.stdout, "wait for the next prune") {
			t.Fatalf("prune during a prune's compaction: %s", r)
		}
		if r := resume(); r.code != 0 {
			t.Fatalf("the first prune: %s", r)
		}
		if r := h.runBin(t, bin, nil, "hub", "pack"); r.code != 0 {
			t.Fatalf("hub pack after the prune: %s", r)
		}
		if r := h.runBin(t, bin, nil, "hub", "check", "--read-data"); r.code != 0 {
			t.Fatalf("hub check: %s", r)
		}
	})
}

// A prune killed (kill -9) while it holds the compaction lease leaves it
// behind; on the same computer its process is gone, so the next prune
// takes the lease over at once and compacts (the lease of one killed on
// another computer expires: TestCompactionLeaseExpiresAndIsTakenOverOnce).
// hub pack killed mid-way is TestHubPackOldHubE2E.
func TestPruneKilledHoldingTheLeaseE2E(t *testing.T) {
	long(t)
	bin := hooksBinary(t)
	hubs(t, func(t *testing.T, h *testHub) {
		twoBackups(t, h, bin)
		r := h.runBin(t, bin, []string{"EDITKIT_TEST_KILL_AT=prune-compact:indexed"}, "prune", "--keep-last", "1", "--grace", "0s")
		if r.code != -int(syscall.SIGKILL) {
			t.Fatalf("prune killed while compacting: %s", r)
		}
		if len(h.objects(t, "prune/lease")) == 0 {
			t.Fatal("the killed prune left no lease")
		}
		var pr backup.PruneResult
		r = h.runBin(t, bin, nil, "--json", "prune", "--keep-last", "1", "--grace", "0s")
		if json.Unmarshal([]byte(r.stdout), &pr); r.code != 0 || pr.NotCompacted != "" || pr.Compact == nil {
			t.Fatalf("prune after the killed one: %s", r)
		}
		if r := h.runBin(t, bin, nil, "hub", "check", "--read-data"); r.code != 0 {
			t.Fatalf("hub check: %s", r)
		}
	})
}
