//go:build linux

package main

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/testfs"
)

// A file that cannot be read is not counted as backed up: the summary and
// `snapshots` count what the snapshot's file list holds.
func TestBackupCountsMatchTheFileListE2E(t *testing.T) {
	needRoot(t)
	h := &testHub{name: "folder", url: t.TempDir(), env: stateEnv(t)}
	h.dir = h.url
	backing := t.TempDir()
	for _, n := range []string{"a.avb", "b.avb", "bad.mxf"} {
		writeRandom(t, filepath.Join(backing, n), 64<<10)
	}
	drive := testfs.MustMount(t, backing)
	drive.FailReads("bad.mxf", 0, syscall.EIO)
	var b backupOut
	r := h.runJSON(t, &b, "backup", "--set", "s", drive.Dir)
	if r.code != 1 || len(b.Failed) != 1 || b.Files != 2 || b.New != 2 || b.Bytes != 128<<10 {
		t.Fatalf("backup with an unreadable file: %s", r)
	}
	var snaps []contenthub.Snapshot
	h.runJSON(t, &snaps, "snapshots")
	if len(snaps) != 1 || snaps[0].Files != 2 || snaps[0].New != 2 {
		t.Fatalf("snapshots: %+v", snaps)
	}
}
