package verify

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/run"
)

// cancelOnFirstRead cancels a run as soon as the first bytes are hashed:
// an interruption at a chosen point, without timing.
type cancelOnFirstRead struct{ cancel context.CancelFunc }

func (c cancelOnFirstRead) AddTotal(int64, int) {}
func (c cancelOnFirstRead) Add(int64)           { c.cancel() }
func (c cancelOnFirstRead) FileDone()           {}

// verifyTestDrive makes an editkit drive of a few files with a compacted manifest
// (no ASC MHL history) and returns its root.
func verifyTestDrive(t *testing.T) string {
	t.Helper()
	files := map[string][]byte{}
	for i, name := range []string{"a.mxf", "b.mxf", "c.wav"} {
		files[name] = bytes.Repeat([]byte{byte(i + 1)}, 256<<10)
	}
	return recordedDrive(t, files)
}

// A rebuild interrupted half-way replaces nothing: the damaged manifest
// stays where it is (the same command can be run again) and the result
// says interrupted, never rebuilt.
func TestRebuildInterruptedLeavesTheOldManifest(t *testing.T) {
	root := verifyTestDrive(t)
	base := filepath.Join(root, manifest.DirName, "manifest.ekm")
	b, _ := os.ReadFile(base)
	damaged := b[:len(b)/2]
	os.WriteFile(base, damaged, 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := Run(ctx, Options{Drive: root, Rebuild: true, Jobs: 1, Env: run.Env{Progress: cancelOnFirstRead{cancel}}})
	if !errors.Is(err, context.Canceled) || res == nil || !res.Interrupted || res.OK() {
		t.Fatalf("interrupted rebuild: res %+v, err %v", res, err)
	}
	if res.Rebuild == nil || res.Rebuild.Manifest != "" || len(res.Rebuild.KeptAside) != 0 {
		t.Errorf("an interrupted rebuild claims to have rebuilt: %+v", res.Rebuild)
	}
	if now, _ := os.ReadFile(base); !bytes.Equal(now, damaged) {
		t.Error("the old manifest was changed by an interrupted rebuild")
	}
	if m, _ := filepath.Glob(base + ".*"); len(m) != 0 {
		t.Errorf("an interrupted rebuild moved files aside: %q", m)
	}

	// Run again, to the end: the drive is whole, every file known from
	// the intact part of the old manifest or new.
	res, err = Run(context.Background(), Options{Drive: root, Rebuild: true})
	if err != nil || !res.OK() || res.Rebuild.Recorded != 3 || res.Rebuild.FromOld+len(res.Rebuild.New) != 3 {
		t.Fatalf("rebuild: %+v %+v, %v", res, res.Rebuild, err)
	}
	res, err = Run(context.Background(), Options{Drive: root, ReadOnly: true})
	if err != nil || !res.OK() || res.Verified != 3 {
		t.Fatalf("verify after the rebuild: %+v, %v", res, err)
	}
}

// A verify interrupted half-way is reported as interrupted, not OK, and
// writes nothing that claims a finished run.
func TestVerifyInterruptedIsNotOK(t *testing.T) {
	root := verifyTestDrive(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := Run(ctx, Options{Drive: root, Jobs: 1, Env: run.Env{Progress: cancelOnFirstRead{cancel}}})
	if !errors.Is(err, context.Canceled) || res == nil || !res.Interrupted || res.OK() || res.Report != "" {
		t.Fatalf("interrupted verify: res %+v, err %v", res, err)
	}
}

// A damaged manifest gives a result with the damage as its one problem,
// nothing verified, and no error that would hide it.
func TestVerifyDamagedManifestIsAProblem(t *testing.T) {
	root := verifyTestDrive(t)
	base := filepath.Join(root, manifest.DirName, "manifest.ekm")
	b, _ := os.ReadFile(base)
	b[len(b)/2] ^= 0x10
	os.WriteFile(base, b, 0o644)
	for _, ro := range []bool{false, true} {
		res, err := Run(context.Background(), Options{Drive: root, ReadOnly: ro})
		if err != nil || res.OK() || len(res.Problems) != 1 || res.Problems[0].Kind != DamagedManifest || res.Verified != 0 {
			t.Fatalf("read-only %v: res %+v, err %v", ro, res, err)
		}
		if res.Problems[0].Path != ".editkit/manifest.ekm" || !strings.Contains(res.Problems[0].Detail, "editkit verify --rebuild") {
			t.Errorf("problem %+v", res.Problems[0])
		}
	}
}
