package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/mxf"
	"github.com/editkit/editkit/internal/mxf/mxftest"
)

// mxfSource makes a card of media: an Avid clip (video and two audio
// OP-Atom files sharing a material package), an OP1a file, a damaged .mxf
// and a file that is not MXF. It returns the root and the Info each MXF
// file's header holds, by tree path.
func mxfSource(t *testing.T) (string, map[string]mxf.Info) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "Show")
	avid := filepath.Join(src, "Avid MediaFiles", "MXF", "1")
	if err := os.MkdirAll(avid, 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string]mxf.Info{}
	add := func(paths []string, infos []mxf.Info) {
		for i, p := range paths {
			rel, _ := filepath.Rel(src, p)
			want[filepath.ToSlash(rel)] = infos[i]
		}
	}
	add(mxftest.Clip(t, avid, "A001C003", mxftest.Opts{Tape: "A001", Audio: 2, Timecode: "14:03:22:10"}))
	add(mxftest.Clip(t, src, "interview", mxftest.Opts{OP1a: true}))
	good, err := os.ReadFile(filepath.Join(avid, "A001C003.V1.mxf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(avid, "damaged.mxf"), good[:700], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "notes.txt"), []byte("reel A001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return src, want
}

// driveRecords reads a drive's manifest: path → record.
func driveRecords(t *testing.T, root string) map[string]manifest.Record {
	t.Helper()
	drv, err := manifest.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	recs := map[string]manifest.Record{}
	for r, err := range drv.Records() {
		if err != nil {
			t.Fatal(err)
		}
		recs[r.Path] = r
	}
	return recs
}

// assertMXFRecords checks that every MXF file has exactly its header's Info
// and every other file (others of them) none.
func assertMXFRecords(t *testing.T, recs map[string]manifest.Record, want map[string]mxf.Info, others int) {
	t.Helper()
	files := 0
	for p, r := range recs {
		if r.Dir {
			continue
		}
		files++
		w, isMXF := want[p]
		switch {
		case isMXF && r.MXF == nil:
			t.Errorf("%s: no MXF metadata recorded", p)
		case isMXF && *r.MXF != w:
			t.Errorf("%s: recorded\n %+v\nwant %+v", p, *r.MXF, w)
		case !isMXF && r.MXF != nil:
			t.Errorf("%s: not a readable MXF file, yet recorded %+v", p, *r.MXF)
		}
	}
	if files != len(want)+others {
		t.Errorf("%d files recorded, want %d", files, len(want)+others)
	}
}

// forgetMXF rewrites a drive's records without MXF metadata, as editkit
// wrote them before it read MXF headers.
func forgetMXF(t *testing.T, root string) {
	t.Helper()
	drv, err := manifest.OpenForWrite(root)
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	for r, err := range drv.Records() {
		if err != nil {
			t.Fatal(err)
		}
		if r.MXF != nil {
			r.MXF = nil
			if err := drv.Append(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := drv.Compact(); err != nil {
		t.Fatal(err)
	}
}

type indexOut struct {
	OK     bool `json:"ok"`
	Drives []struct {
		Drive      string `json:"drive"`
		Indexed    int    `json:"indexed"`
		Already    int    `json:"already"`
		NotMXF     int    `json:"not_mxf"`
		Unreadable int    `json:"unreadable"`
	} `json:"drives"`
	Hub *struct {
		Indexed    int `json:"indexed"`
		Already    int `json:"already"`
		NotMXF     int `json:"not_mxf"`
		Unreadable int `json:"unreadable"`
	} `json:"hub"`
}

// Copying a card keeps each MXF file's header metadata in the drive's
// manifest (a damaged .mxf is copied and recorded without it); on a drive
// recorded before, index fills it in, a second index does nothing, and
// verify fills it in too.
func TestMXFCopyAndIndexDrive(t *testing.T) {
	src, want := mxfSource(t)
	drive := t.TempDir()
	if r := editkit(t, "copy", "--label", "EDITOR1", src, drive); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	assertMXFRecords(t, driveRecords(t, drive), want, 2)

	forgetMXF(t, drive)
	for p, r := range driveRecords(t, drive) {
		if r.MXF != nil {
			t.Fatalf("%s still has MXF metadata", p)
		}
	}
	var out indexOut
	r := editkit(t, "index", "--json", drive)
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Drives) != 1 {
		t.Fatalf("index: %s", r)
	}
	if d := out.Drives[0]; !out.OK || d.Indexed != len(want) || d.Unreadable != 1 || d.NotMXF != 1 || d.Already != 0 {
		t.Errorf("index: %+v, want %d indexed, 1 unreadable (damaged.mxf), 1 not MXF", d, len(want))
	}
	assertMXFRecords(t, driveRecords(t, drive), want, 2)
	r = editkit(t, "index", "--json", drive)
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
		t.Fatalf("second index: %s", r)
	}
	if d := out.Drives[0]; d.Indexed != 0 || d.Already != len(want) {
		t.Errorf("second index: %+v, want nothing indexed, %d already", d, len(want))
	}

	forgetMXF(t, drive)
	if r := editkit(t, "verify", drive); r.code != 0 {
		t.Fatalf("verify: %s", r)
	}
	assertMXFRecords(t, driveRecords(t, drive), want, 2)
}

// index reads a file only if it is still the one recorded.
func TestMXFIndexSkipsChangedFile(t *testing.T) {
	src, _ := mxfSource(t)
	drive := t.TempDir()
	if r := editkit(t, "copy", src, drive); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	forgetMXF(t, drive)
	p := filepath.Join(drive, "interview.mxf")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	r := editkit(t, "index", drive)
	if r.code != 0 || !strings.Contains(r.stderr, "interview.mxf") || !strings.Contains(r.stderr, "changed since it was recorded") {
		t.Fatalf("index did not report the changed file: %s", r)
	}
	if rec := driveRecords(t, drive)["interview.mxf"]; rec.MXF != nil {
		t.Errorf("changed file indexed: %+v", rec.MXF)
	}
}

// Pushing MXF files puts their header metadata on the catalog items, and
// pulling them records it on the drive. Media pushed before editkit read
// MXF headers gets it on a drive when pulled, and in the catalog from
// `editkit index` (a few range reads of each blob); a second run does
// nothing.
func TestMXFPushPullIndexHub(t *testing.T) {
	hubs(t, func(t *testing.T, h *testHub) {
		src, want := mxfSource(t)
		var p pushOut
		if r := h.runJSON(t, &p, "push", "--category", "footage", "--dest-path", "Media", src); r.code != 0 {
			t.Fatalf("push: %s", r)
		}
		catalogWant := map[string]mxf.Info{}
		for rel, info := range want {
			catalogWant["Media/Show/"+rel] = info
		}
		assertCatalogMXF(t, h, catalogWant)
		drive := t.TempDir()
		if r := h.run(t, "pull", drive); r.code != 0 {
			t.Fatalf("pull: %s", r)
		}
		assertMXFRecords(t, driveRecords(t, drive), catalogWant, 2)

		// The same media as an older editkit pushed it: no metadata.
		oldCatalog(t, h, src)
		bothWant := map[string]mxf.Info{}
		for rel, info := range want {
			bothWant["Media/Show/"+rel] = info
			bothWant["Old/"+rel] = info
		}
		// Pulling them reads each header from the file placed.
		if r := h.run(t, "pull", drive); r.code != 0 {
			t.Fatalf("pull: %s", r)
		}
		assertMXFRecords(t, driveRecords(t, drive), bothWant, 4)
		var out indexOut
		if r := h.runJSON(t, &out, "index"); r.code != 0 || out.Hub == nil {
			t.Fatalf("index: %s", r)
		}
		if out.Hub.Indexed != len(want) || out.Hub.Unreadable != 2 || out.Hub.Already != len(want) {
			t.Errorf("index: %+v, want %d indexed and as many already, 2 unreadable (damaged.mxf twice)", *out.Hub, len(want))
		}
		assertCatalogMXF(t, h, bothWant)
		if r := h.runJSON(t, &out, "index"); r.code != 0 || out.Hub.Indexed != 0 || out.Hub.Unreadable != 2 {
			t.Errorf("second index: %s", r)
		}
	})
}

// assertCatalogMXF checks the MXF metadata of the catalog's items: those of
// want (by path) have it, the others none.
func assertCatalogMXF(t *testing.T, h *testHub, want map[string]mxf.Info) {
	t.Helper()
	var st catalog.Status
	if r := h.runJSON(t, &st, "status"); r.code != 0 {
		t.Fatalf("status: %s", r)
	}
	all := want
	seen := 0
	for _, it := range st.Items {
		w, isMXF := all[it.Path]
		switch {
		case isMXF && it.MXF == nil:
			t.Errorf("catalog item %s has no MXF metadata", it.Path)
		case isMXF && *it.MXF != w:
			t.Errorf("catalog item %s:\n %+v\nwant %+v", it.Path, *it.MXF, w)
		case !isMXF && it.MXF != nil:
			t.Errorf("catalog item %s: not readable MXF, yet has %+v", it.Path, *it.MXF)
		}
		if isMXF {
			seen++
		}
	}
	if seen != len(all) {
		t.Errorf("catalog has %d of the %d MXF items", seen, len(all))
	}
}

// oldCatalog records src's files in the hub under Old/ the way editkit did
// before it read MXF headers: blobs and "pushed" events without metadata.
func oldCatalog(t *testing.T, h *testHub, src string) {
	t.Helper()
	for _, kv := range h.env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v)
		}
	}
	ctx := context.Background()
	hub, err := contenthub.Open(ctx, contenthub.Config{URL: h.url})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	var evs []event.Event
	err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		sum, err := hashing.HashFile(ctx, p, hashing.FileOptions{BLAKE3: true, XXH128: true})
		if err != nil {
			return err
		}
		if _, err := hub.PutBlob(ctx, sum.BLAKE3Hex(), p); err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		ev := event.New(time.Now(), event.Pushed)
		ev.User, ev.Path, ev.Size, ev.Hash, ev.XXH128, ev.Category = "old", "Old/"+filepath.ToSlash(rel), sum.Size, sum.BLAKE3Hex(), sum.XXH128Hex(), "footage"
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Record(ctx, evs); err != nil {
		t.Fatal(err)
	}
}
