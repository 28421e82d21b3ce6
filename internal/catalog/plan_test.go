package catalog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
)

// What a pull plans for each catalog item, from what the drive holds at
// its path: a dry run lists it, and a real pull does the same.
func TestPullPlansEachItem(t *testing.T) {
	ctx := context.Background()
	be, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := contenthub.New(be)
	incoming, drive := t.TempDir(), t.TempDir()
	content := func(name string) []byte { return bytes.Repeat([]byte(name), 3000) }
	push := func(names ...string) {
		t.Helper()
		var paths []string
		for _, n := range names {
			p := filepath.Join(incoming, n)
			os.WriteFile(p, content(n), 0o644)
			paths = append(paths, p)
		}
		res, err := Push(ctx, h, PushOptions{Paths: paths, DestPath: "VFX", Category: "vfx"})
		if err != nil || res.Pushed != len(names) {
			t.Fatalf("push %v: %v %+v", names, err, res)
		}
	}
	onDrive := func(name string) string { return filepath.Join(drive, "VFX", name) }

	// A first pull puts two items on the drive; one is then withdrawn from
	// the catalog. Then more media arrive, and the drive gets files of its
	// own at some of their paths.
	push("pulled.mov", "withdrawn.mov")
	if pr, err := Pull(ctx, h, PullOptions{Drive: drive}); err != nil || pr.Pulled != 2 {
		t.Fatalf("first pull: %v %+v", err, pr)
	}
	evs, err := Withdraw(ctx, h, []string{"VFX/withdrawn.mov"}, "ae", "host", time.Now(), "replaced")
	if err != nil {
		t.Fatal(err)
	}
	h.AppendEvents(ctx, contenthub.Batch{ID: "w", Events: evs, Key: contenthub.NewEventKey(time.Now())})
	push("new.mov", "copied-by-hand.mov", "longer.mov", "same-size.mov", "folder.mov")
	os.WriteFile(onDrive("copied-by-hand.mov"), content("copied-by-hand.mov"), 0o644)
	os.WriteFile(onDrive("longer.mov"), content("longer.mov-and-more"), 0o644)
	same := content("same-size.mov")
	same[100] ^= 1
	os.WriteFile(onDrive("same-size.mov"), same, 0o644)
	os.Mkdir(onDrive("folder.mov"), 0o755)

	cases := []struct {
		path   string
		dryRun string // the status a dry run plans ("" = not listed: present)
		pull   string // what a real pull then does
	}{
		{"VFX/pulled.mov", "", ""},
		{"VFX/new.mov", "would-pull", "pulled"},
		{"VFX/copied-by-hand.mov", "adopted", "adopted"},
		{"VFX/longer.mov", "conflict", "conflict"},
		{"VFX/same-size.mov", "conflict", "conflict"},
		{"VFX/folder.mov", "conflict", "conflict"},
		{"VFX/withdrawn.mov", "would-remove", "removed"},
	}
	for _, run := range []struct {
		name   string
		dryRun bool
	}{{"dry run", true}, {"pull", false}} {
		res, err := Pull(ctx, h, PullOptions{Drive: drive, DryRun: run.dryRun, Prune: true})
		if err != nil {
			t.Fatalf("%s: %v", run.name, err)
		}
		got := map[string]string{}
		for _, it := range res.Items {
			got[it.Path] = it.Status
		}
		for _, c := range cases {
			want := c.pull
			if run.dryRun {
				want = c.dryRun
			}
			if got[c.path] != want {
				t.Errorf("%s, %s: %q, want %q", run.name, c.path, got[c.path], want)
			}
		}
		if len(got) != len(cases)-1 || res.Present != 1 {
			t.Errorf("%s: items %v, %d present", run.name, got, res.Present)
		}
		if run.dryRun && (res.ToPull != 1 || res.ToPullSize != int64(len(content("new.mov"))) || res.ToRemove != 1) {
			t.Errorf("dry run: to pull %d (%d bytes), to remove %d", res.ToPull, res.ToPullSize, res.ToRemove)
		}
		if res.OK() {
			t.Errorf("%s: OK with conflicts", run.name)
		}
	}
	// The pull did what it planned: the new item is there, the drive's own
	// files were left alone, the withdrawn one is gone.
	if b, _ := os.ReadFile(onDrive("new.mov")); !bytes.Equal(b, content("new.mov")) {
		t.Error("new.mov was not pulled")
	}
	if b, _ := os.ReadFile(onDrive("same-size.mov")); !bytes.Equal(b, same) {
		t.Error("the drive's own same-size.mov was touched")
	}
	if _, err := os.Stat(onDrive("withdrawn.mov")); !os.IsNotExist(err) {
		t.Errorf("withdrawn.mov is still there: %v", err)
	}
}
