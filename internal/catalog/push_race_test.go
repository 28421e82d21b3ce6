package catalog

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/backup"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/run"
)

// actor runs a function that calls hook(step) between its steps; the test
// decides which actor takes its next step (see interleave).
type actor struct {
	name   string
	arrive chan string
	resume chan struct{}
	at     string
	done   bool
}

func newActor(name string, run func(hook func(string))) *actor {
	a := &actor{name: name, arrive: make(chan string), resume: make(chan struct{})}
	go func() {
		<-a.resume
		run(func(step string) {
			a.arrive <- step
			<-a.resume
		})
		close(a.arrive)
	}()
	return a
}

func (a *actor) advance() {
	a.resume <- struct{}{}
	step, ok := <-a.arrive
	a.at, a.done = step, !ok
}

// interleave runs x and y in the order given ('a' for x, 'b' for y); an
// actor that is done or waiting for the other ("wait") yields its turn.
func interleave(x, y *actor, order string) (trace []string) {
	pick := func(first, other *actor) *actor {
		if first.done || (first.at == "wait" && !other.done) {
			return other
		}
		return first
	}
	for _, c := range order + strings.Repeat("a", 64) {
		if x.done && y.done {
			break
		}
		s := pick(x, y)
		if c == 'b' {
			s = pick(y, x)
		}
		s.advance()
		trace = append(trace, s.name+":"+s.at)
	}
	return trace
}

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

func catalogRefs(h *contenthub.Hub) func(context.Context, func(b3, where string)) error {
	return func(ctx context.Context, add func(b3, where string)) error {
		state, _, err := Load(ctx, h, time.Now(), false)
		if err != nil {
			return err
		}
		for _, it := range state.Items {
			add(it.B3, "media catalog: "+it.Path)
		}
		return nil
	}
}

// A push of a file whose content a prune marked (it left every backup),
// in every interleaving with the prune that deletes it: the catalog never
// names a blob the hub lacks. Before the protocol, the prune deleted the
// blob the push had found in the hub, and pull failed for that item.
func TestPruneRacingPushNeverLosesABlob(t *testing.T) {
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
	os.WriteFile(filepath.Join(srcA, "VFX_010.mxf"), content, 0o644)
	os.WriteFile(filepath.Join(srcA, "bin.avb"), []byte("bin"), 0o644)
	for i := 0; i < 2; i++ {
		if _, err := backup.Run(ctx, h, backup.Options{Set: "A", Paths: []string{srcA}, TempDir: tmp}); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(srcA, "VFX_010.mxf"))
	}
	t0 := time.Now().Add(time.Hour)
	pr, err := backup.Prune(ctx, h, backup.PruneOptions{Policy: backup.Policy{Last: 1}, Grace: time.Second, TempDir: tmp, Env: run.Env{Now: func() time.Time { return t0 }}})
	if err != nil || pr.BlobsPending != 1 {
		t.Fatalf("first prune: %v %+v", err, pr)
	}
	src := filepath.Join(t.TempDir(), "VFX_010.mxf")
	os.WriteFile(src, content, 0o644)

	run := func(order string) []string {
		t.Helper()
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
		be, err := backend.OpenLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		h := contenthub.New(be)
		t1 := t0.Add(10 * time.Second)
		var pushErr, pruneErr error
		var res *PushResult
		push := newActor("push", func(hook func(string)) {
			res, pushErr = Push(ctx, h, PushOptions{Paths: []string{src}, DestPath: "VFX", Hook: hook, Env: run.Env{Host: "here", User: "ae"},
				Sleep: func(context.Context, time.Duration) error { hook("wait"); return nil }})
		})
		prune := newActor("prune", func(hook func(string)) {
			_, pruneErr = backup.Prune(ctx, contenthub.New(be), backup.PruneOptions{Policy: backup.Policy{Last: 1}, Grace: time.Second, TempDir: tmp, Hook: hook,
				ExtraRefs: catalogRefs(h), Env: run.Env{Now: func() time.Time { return t1 }}})
		})
		trace := interleave(push, prune, order)
		if pushErr != nil || pruneErr != nil || res.Pushed != 1 || !res.OK() {
			t.Fatalf("order %s (%v): push %v %+v; prune %v", order, trace, pushErr, res, pruneErr)
		}
		cr, err := backup.Check(ctx, h, backup.CheckOptions{ReadData: true, TempDir: tmp, ExtraRefs: catalogRefs(h)})
		if err != nil || !cr.OK() {
			t.Fatalf("order %s (%v): hub check: %v %+v", order, trace, err, cr)
		}
		return trace
	}
	count := func(trace []string, who string) (n int) {
		for _, s := range trace {
			if strings.HasPrefix(s, who+":") {
				n++
			}
		}
		return
	}
	na := count(run(""), "push") - 1 // its last step (after the check) is invisible to prune
	nb := count(run(strings.Repeat("b", 64)), "prune")
	all := orders(na, nb)
	if testing.Short() && len(all) > 40 {
		all = all[:40]
	}
	for _, o := range all {
		run(o)
	}
	t.Logf("%d interleavings of %d push steps and %d prune steps", len(all), na, nb)
}
