package purge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/run"
)

var now = time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC)

// testDrive places files on a drive as editkit would (in its manifest)
// and returns a catalog holding them, some of them expiring.
func testDrive(t *testing.T) (string, *catalog.State) {
	t.Helper()
	root := t.TempDir()
	d, err := manifest.Create(root, "ED1", now)
	if err != nil {
		t.Fatal(err)
	}
	st := catalog.NewState()
	for i, f := range []struct {
		path, category string
		expires        time.Time
	}{
		{"Review/old.mov", "footage", now.Add(-time.Hour)},
		{"Review/new.mov", "footage", now.Add(time.Hour)},
		{"Music/old.wav", "music", now.Add(-time.Hour)},
		{"VFX/shot.mxf", "vfx", time.Time{}},
	} {
		full := filepath.Join(root, filepath.FromSlash(f.path))
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(f.path), 0o644)
		fi, _ := os.Stat(full)
		b3 := fmt.Sprintf("%064x", i+1)
		d.Append(manifest.Record{Path: f.path, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), BLAKE3: b3, XXH128: fmt.Sprintf("%032x", i+1)})
		e := event.New(now, event.Pushed)
		e.Path, e.Hash, e.Size, e.Category, e.Expires = f.path, b3, fi.Size(), f.category, f.expires
		st.Apply(e)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return root, st
}

func TestUsage(t *testing.T) {
	root, st := testDrive(t)
	for name, o := range map[string]Options{
		"nothing selected":      {},
		"--all with a filter":   {All: true, Expired: true, Catalog: st},
		"--expired, no catalog": {Expired: true},
		"unknown category":      {Category: "rushes", Catalog: st},
		"editkit's own files":   {Paths: []string{".editkit/manifest.ekm"}},
	} {
		o.Drive = root
		var ue *UsageError
		if _, err := Run(context.Background(), o); !errors.As(err, &ue) {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
	if _, err := Run(context.Background(), Options{Drive: t.TempDir(), All: true}); err == nil {
		t.Error("a folder editkit never wrote to was purged")
	}
}

// --expired and --category narrow each other; a file changed since it was
// placed is refused unless forced; a dry run removes nothing.
func TestSelectionAndRefusal(t *testing.T) {
	root, st := testDrive(t)
	env := run.Env{Now: func() time.Time { return now }, User: "ae"}
	res, err := Run(context.Background(), Options{Env: env, Drive: root, Expired: true, Category: "footage", Catalog: st, DryRun: true})
	if err != nil || len(res.Items) != 1 || res.Items[0].Path != "Review/old.mov" || res.Items[0].Status != "would-purge" {
		t.Fatalf("dry run --expired --category footage: %+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(root, "Review", "old.mov")); err != nil {
		t.Fatal("the dry run removed a file")
	}
	changed := filepath.Join(root, "Music", "old.wav")
	os.Chtimes(changed, now, now)
	res, err = Run(context.Background(), Options{Env: env, Drive: root, Expired: true, Catalog: st})
	if err != nil || res.Purged != 1 || res.Skipped != 1 || res.OK() {
		t.Fatalf("--expired with a changed file: %+v %v", res, err)
	}
	if _, err := os.Stat(changed); err != nil {
		t.Fatal("a changed file was removed without --force")
	}
	if len(res.Events) != 1 || res.Events[0].Action != event.Purged || res.Events[0].Path != "Review/old.mov" || res.Events[0].DriveID == "" || res.Events[0].User != "ae" {
		t.Fatalf("events: %+v", res.Events)
	}
	res, err = Run(context.Background(), Options{Env: env, Drive: root, Expired: true, Catalog: st, Force: true})
	if err != nil || res.Purged != 1 || !res.OK() {
		t.Fatalf("--force: %+v %v", res, err)
	}
	if _, err := os.Stat(changed); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("--force kept the changed file")
	}
}
