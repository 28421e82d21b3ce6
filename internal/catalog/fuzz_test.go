package catalog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/treepath"
)

// The fuzz targets here cover what the catalog is folded from, all of it
// writable by anyone with access to the hub: checkpoints and events.

func hostilePaths(f *testing.F) []string {
	data, err := os.ReadFile("../../testdata/hostile-paths.txt")
	if err != nil {
		f.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		var s string
		if _, err := fmt.Sscanf(l, "%q", &s); err != nil {
			f.Fatalf("testdata/hostile-paths.txt: %q: %v", l, err)
		}
		out = append(out, s)
	}
	return out
}

func isHash(s string) bool { return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == "" }

// checkState asserts what pull, status and push rely on in a catalog: every
// item sits under its own clean path with a well-formed hash (pull fetches
// the blob by it and places the file at that path), and so do the versions
// it replaced and the withdrawn items.
func checkState(t *testing.T, s *State) {
	t.Helper()
	items := func(what string, m map[string]*Item) {
		for p, it := range m {
			if it == nil || it.Path != p || treepath.Validate(p) != nil || !isHash(it.B3) || it.Size < 0 {
				t.Fatalf("%s %q: %+v", what, p, it)
			}
			for _, v := range it.Previous {
				if !isHash(v.B3) {
					t.Fatalf("%s %q: earlier version %+v", what, p, v)
				}
			}
		}
	}
	items("item", s.Items)
	items("withdrawn item", s.Withdrawn)
	for id, d := range s.Drives {
		if d == nil {
			t.Fatalf("drive %q is nil", id)
		}
		for p := range d.Has {
			if treepath.Validate(p) != nil {
				t.Fatalf("drive %q has %q", id, p)
			}
		}
	}
	if len(s.Rejected) > maxRejected {
		t.Fatalf("%d rejected pushes kept", len(s.Rejected))
	}
	for _, it := range s.Sorted() {
		s.Lookup(it.Path)
	}
}

var fuzzT0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// exercise folds, into a loaded catalog, events about every path it knows:
// a catalog read from a checkpoint must take any later event.
func exercise(s *State) {
	var paths []string
	for p := range s.Items {
		paths = append(paths, p)
	}
	for p := range s.Withdrawn {
		paths = append(paths, p)
	}
	for id, d := range s.Drives {
		if d != nil {
			for p := range d.Has {
				paths = append(paths, p)
			}
		}
		paths = append(paths, "drive:"+id)
	}
	for _, p := range paths {
		drive := "ek-fuzz"
		if id, ok := strings.CutPrefix(p, "drive:"); ok {
			drive, p = id, "x.mxf"
		}
		for _, a := range []string{event.Pushed, event.Withdrawn, event.Pushed, event.Pulled, event.Copied, event.Removed, event.Verified, event.BackedUp} {
			e := event.New(fuzzT0, a)
			e.Path, e.Hash, e.DriveID, e.Drive, e.Set = p, strings.Repeat("e", 64), drive, "D", "media"
			if it := s.Items[p]; it != nil {
				e.Replaces = it.B3
			}
			s.Apply(e)
		}
	}
}

const (
	cpBatch = "events/2026/11/24/20261124T120000.000000Z-0a1b2c3d.jsonl"
	cpKey   = "catalog/checkpoints/20261124T120000.000000Z-0a1b2c3d.json.gz"
)

// FuzzCheckpoint stores arbitrary bytes (gzipped unless raw) as the newest
// catalog checkpoint: Load never fails or panics because of it (it falls
// back to an older one or to the event log), and the catalog it gives is
// well formed and takes later events.
func FuzzCheckpoint(f *testing.F) {
	h := strings.Repeat("ab", 32)
	good := `{"format":"editkit-catalog-checkpoint/1","through":"` + cpBatch + `","recent":["` + cpBatch + `"],"state":{"items":{"VFX/a.mxf":{"path":"VFX/a.mxf","size":3,"b3":"` + h + `","time":"2026-11-24T12:00:00Z","event":"e1","previous":[{"b3":"` + h + `","size":1,"time":"2026-11-23T12:00:00Z","event":"e0"}]}},"withdrawn":{"old.mxf":{"path":"old.mxf","size":1,"b3":"` + h + `","time":"2026-11-24T12:00:00Z","event":"e2"}},"drives":{"ek-1":{"id":"ek-1","label":"Anna","has":{"VFX/a.mxf":{"b3":"` + h + `","time":"2026-11-24T12:00:00Z"}}}},"backups":{"media":{"set":"media","snapshot":"s","time":"2026-11-24T12:00:00Z","bytes":1}},"events":3}}`
	f.Add([]byte(good), false)
	f.Add([]byte(strings.Replace(good, `"b3":"`+h+`","time":"2026-11-24T12:00:00Z","event":"e1"`, `"b3":"","time":"2026-11-24T12:00:00Z","event":"e1"`, 1)), false)
	f.Add([]byte(strings.Replace(good, `"withdrawn":{"old.mxf":{`, `"withdrawn":{"old.mxf":null,"x":{`, 1)), false)
	f.Add([]byte(strings.Replace(good, `"drives":{"ek-1":{`, `"drives":{"ek-0":null,"ek-1":{`, 1)), false)
	f.Add([]byte(strings.Replace(good, `"has":{"VFX/a.mxf"`, `"has":{"../../x"`, 1)), false)
	f.Add([]byte(strings.Replace(good, `"path":"VFX/a.mxf"`, `"path":"../a.mxf"`, 1)), false)
	f.Add([]byte(strings.Replace(good, `"size":3`, `"size":-3`, 1)), false)
	f.Add([]byte(good), true)
	for _, p := range hostilePaths(f) {
		q, _ := json.Marshal(p)
		f.Add([]byte(strings.ReplaceAll(good, `"VFX/a.mxf"`, string(q))), false)
	}
	// One folder hub per fuzzing process, holding one batch of the log;
	// each input only replaces the checkpoint (written straight into the
	// folder, as anyone with access to a NAS share could), which keeps the
	// fuzzer fast.
	dir := f.TempDir()
	b, err := backend.OpenLocal(dir)
	if err != nil {
		f.Fatal(err)
	}
	hb := contenthub.New(b)
	e := event.New(fuzzT0, event.Pushed)
	e.Path, e.Hash, e.Size = "VFX/a.mxf", strings.Repeat("ab", 32), 3
	if err := hb.AppendEvents(context.Background(), contenthub.Batch{ID: "b1", Events: []event.Event{e}, Key: cpBatch}); err != nil {
		f.Fatal(err)
	}
	cpFile := filepath.Join(dir, filepath.FromSlash(cpKey))
	if err := os.MkdirAll(filepath.Dir(cpFile), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		ctx := context.Background()
		obj := data
		if !raw {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
			obj = buf.Bytes()
		}
		if err := os.WriteFile(cpFile, obj, 0o644); err != nil {
			t.Fatal(err)
		}
		s, _, err := Load(ctx, hb, time.Now(), false)
		if err != nil {
			t.Fatalf("a bad checkpoint made the catalog unreadable: %v", err)
		}
		checkState(t, s)
		exercise(s)
		checkState(t, s)
	})
}

// FuzzApply folds arbitrary events (JSON lines, as a batch holds them):
// whatever they say, the catalog stays well formed.
func FuzzApply(f *testing.F) {
	h := strings.Repeat("cd", 32)
	line := func(e event.Event) string { b, _ := json.Marshal(e); return string(b) + "\n" }
	ev := func(a, p, hash, replaces string) event.Event {
		e := event.New(fuzzT0, a)
		e.Path, e.Hash, e.Replaces, e.DriveID, e.Size = p, hash, replaces, "ek-1", 5
		return e
	}
	f.Add([]byte(line(ev(event.Pushed, "a.mxf", h, "")) + line(ev(event.Pushed, "a.mxf", strings.Repeat("0", 64), h)) +
		line(ev(event.Withdrawn, "a.mxf", "", "")) + line(ev(event.Pushed, "a.mxf", h, "")) + line(ev(event.Pulled, "a.mxf", h, "")) +
		line(ev(event.Removed, "a.mxf", "", ""))))
	f.Add([]byte(line(ev(event.Pushed, "a.mxf", "", "")) + line(ev(event.Pushed, "a.mxf", strings.ToUpper(h), ""))))
	for _, p := range hostilePaths(f) {
		f.Add([]byte(line(ev(event.Pushed, p, h, "")) + line(ev(event.Pulled, p, h, ""))))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewState()
		for _, l := range bytes.Split(data, []byte("\n")) {
			var e event.Event
			if json.Unmarshal(l, &e) != nil || e.Validate() != nil {
				continue // the log's reader refuses these
			}
			s.Apply(e)
		}
		checkState(t, s)
		// A checkpoint of it reads back as the same catalog.
		b, err := json.Marshal(checkpoint{Format: checkpointFormat, Through: cpBatch, State: s})
		if err != nil {
			t.Fatal(err)
		}
		var cp checkpoint
		if err := json.Unmarshal(b, &cp); err != nil {
			t.Fatal(err)
		}
		x, _ := json.Marshal(s)
		y, _ := json.Marshal(cp.State)
		if !bytes.Equal(x, y) {
			t.Fatalf("checkpoint round trip:\n%s\n%s", x, y)
		}
	})
}
