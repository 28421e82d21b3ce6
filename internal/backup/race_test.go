package backup

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/run"
)

// stepper runs functions that call hook(step) between their steps, and
// lets a test decide which one takes its next step: a deterministic
// interleaving, no sleeps.
type stepper struct {
	name   string
	arrive chan string
	resume chan struct{}
	at     string // the step it waits at; "" before its start
	done   bool
}

func newStepper(name string, run func(hook func(string))) *stepper {
	s := &stepper{name: name, arrive: make(chan string), resume: make(chan struct{})}
	go func() {
		<-s.resume
		run(func(step string) {
			s.arrive <- step
			<-s.resume
		})
		close(s.arrive)
	}()
	return s
}

// advance lets s run to its next step (or to its end).
func (s *stepper) advance() {
	s.resume <- struct{}{}
	step, ok := <-s.arrive
	s.at, s.done = step, !ok
}

// interleave runs a and b following order ('a' or 'b' for each step); an
// actor that is done, or waiting for the other ("wait"), yields its turn.
// Both then run to their ends.
func interleave(a, b *stepper, order string) (trace []string) {
	pick := func(first *stepper, other *stepper) *stepper {
		if first.done || (first.at == "wait" && !other.done) {
			return other
		}
		return first
	}
	for _, c := range order + strings.Repeat("a", 64) {
		if a.done && b.done {
			break
		}
		s := pick(a, b)
		if c == 'b' {
			s = pick(b, a)
		}
		s.advance()
		trace = append(trace, s.name+":"+s.at)
	}
	return trace
}

// orders returns every sequence of na 'a's and nb 'b's.
func orders(na, nb int) []string {
	if na == 0 {
		return []string{strings.Repeat("b", nb)}
	}
	if nb == 0 {
		return []string{strings.Repeat("a", na)}
	}
	var out []string
	for _, o := range orders(na-1, nb) {
		out = append(out, "a"+o)
	}
	for _, o := range orders(na, nb-1) {
		out = append(out, "b"+o)
	}
	return out
}

// The recipe, in every interleaving of the steps of a backup and a
// prune: a file leaves set A, a prune marks its blob, the same file
// appears in set B, and a backup of B runs while a prune (a grace period
// later) deletes what it marked. Whatever the order, the backup succeeds
// and the hub holds every blob a snapshot uses; on the code before the
// protocol the prune deleted the blob the backup reused (hub check:
// missing, restore failed). Both blobs are small, so packed: the deletion
// is a repack, and the blob kept moves to a new pack while the backup
// reuses it from the old one.
func TestPruneRacingBackupNeverLosesABlob(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	be, err := backend.OpenLocal(base)
	if err != nil {
		t.Fatal(err)
	}
	h := contenthub.New(be)
	tmp := t.TempDir()
	content := make([]byte, 64<<10)
	rand.Read(content)
	srcA := filepath.Join(t.TempDir(), "A")
	os.MkdirAll(srcA, 0o755)
	os.WriteFile(filepath.Join(srcA, "cue.wav"), content, 0o644)
	os.WriteFile(filepath.Join(srcA, "bin.avb"), []byte("bin"), 0o644)
	if _, err := Run(ctx, h, Options{Set: "A", Paths: []string{srcA}, TempDir: tmp}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(srcA, "cue.wav"))
	if _, err := Run(ctx, h, Options{Set: "A", Paths: []string{srcA}, TempDir: tmp}); err != nil {
		t.Fatal(err)
	}
	// The first prune removes the old snapshot and marks the blob.
	t0 := time.Now().Add(time.Hour)
	pr, err := Prune(ctx, h, PruneOptions{Policy: Policy{Last: 1}, Grace: time.Second, TempDir: tmp, Env: run.Env{Now: func() time.Time { return t0 }}})
	if err != nil || pr.BlobsPending != 1 || pr.BlobsDeleted != 0 {
		t.Fatalf("first prune: %v %+v", err, pr)
	}
	srcB := filepath.Join(t.TempDir(), "B")
	os.MkdirAll(srcB, 0o755)
	os.WriteFile(filepath.Join(srcB, "cue.wav"), content, 0o644)
	// The bin shares a pack with the cue: when the prune deletes the cue
	// it repacks the bin (the pack would be mostly unused), while the
	// backup reuses the bin from the old pack.
	os.WriteFile(filepath.Join(srcB, "bin copy.avb"), []byte("bin"), 0o644)

	// Count each one's steps when it runs first ('a' is the backup, 'b'
	// the prune). The backup's last step (after "verified") does nothing
	// the prune could see.
	steps := func(order, who string) (n int) {
		for _, s := range runRace(t, base, srcB, order, true) {
			if strings.HasPrefix(s, who+":") {
				n++
			}
		}
		return
	}
	nb := steps("", "backup") - 1
	np := steps(strings.Repeat("b", 64), "prune")
	all := orders(nb, np)
	if testing.Short() && len(all) > 40 {
		all = all[:40]
	}
	for i, order := range all {
		runRace(t, base, srcB, order, i%8 == 0)
	}
	t.Logf("%d interleavings of %d backup steps and %d prune steps", len(all), nb, np)
}

// runRace copies the hub at base, runs a backup of srcB as set B and a
// prune in the given order, and checks that nothing the snapshots use is
// missing (with later, also after a later prune).
func runRace(t *testing.T, base, srcB, order string, later bool) []string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
		t.Fatal(err)
	}
	be, err := backend.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := contenthub.New(be)
	tmp := t.TempDir()
	t1 := time.Now().Add(time.Hour + 10*time.Second)
	var bres *Result
	var berr, perr error
	var pres *PruneResult
	b := newStepper("backup", func(hook func(string)) {
		bres, berr = Run(ctx, h, Options{Set: "B", Paths: []string{srcB}, TempDir: tmp, Hook: hook,
			Sleep: func(context.Context, time.Duration) error { return nil }})
	})
	p := newStepper("prune", func(hook func(string)) {
		// Its own hub, as another process has: what it loads (the pack
		// index) is not the backup's.
		pres, perr = Prune(ctx, contenthub.New(be), PruneOptions{Policy: Policy{Last: 1}, Grace: time.Second, TempDir: tmp, Hook: hook,
			Env: run.Env{Now: func() time.Time { return t1 }}})
	})
	trace := interleave(b, p, order)
	if berr != nil || bres.Snapshot == "" || bres.Files != 2 {
		t.Fatalf("order %s (%v): backup: %v %+v", order, trace, berr, bres)
	}
	if perr != nil {
		t.Fatalf("order %s (%v): prune: %v", order, trace, perr)
	}
	cr, err := Check(ctx, h, CheckOptions{ReadData: true, TempDir: tmp})
	if err != nil || !cr.OK() {
		t.Fatalf("order %s (%v): prune deleted %d blobs, kept %d again; hub check: %v %+v", order, trace, pres.BlobsDeleted, pres.BlobsKept, err, cr)
	}
	if left, _ := os.ReadDir(filepath.Join(tmp, "tmp")); len(left) != 0 {
		t.Fatalf("order %s: left in the temp folder: %v", order, left)
	}
	if !later {
		return trace
	}
	// Only snapshot B uses the blob; a later prune must not take it.
	// (Restore reads it from wherever the prunes left it.)
	pr, err := Prune(ctx, h, PruneOptions{Policy: Policy{Last: 1}, Grace: time.Second, TempDir: tmp, Env: run.Env{Now: func() time.Time { return t1.Add(time.Hour) }}})
	if err != nil {
		t.Fatal(err)
	}
	if cr, err := Check(ctx, h, CheckOptions{ReadData: true, TempDir: tmp}); err != nil || !cr.OK() {
		t.Fatalf("order %s: after a later prune (%+v): %v %+v", order, pr, err, cr)
	}
	return trace
}
