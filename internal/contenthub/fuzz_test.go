package contenthub_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/outbox"
	"github.com/editkit/editkit/internal/tracker"
	"github.com/editkit/editkit/internal/treepath"
	"github.com/zeebo/blake3"
)

// The fuzz targets here cover what editkit reads back from a hub, which
// anyone with access to it may have written: snapshot summaries, snapshot
// file lists, event batches, and the outbox of batches waiting on this
// computer. They run against a real folder hub.

func newHub(t testing.TB) *contenthub.Hub {
	b, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return contenthub.New(b)
}

// emptyHub removes every object, so one hub (a folder made once per
// fuzzing process) serves every input, which keeps the fuzzer fast.
func emptyHub(t *testing.T, h *contenthub.Hub) {
	t.Helper()
	ents, err := os.ReadDir(h.Location())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(h.Location(), e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

// put stores an object the way anyone with access to a folder hub (a NAS
// share) could: straight into the folder.
func put(t *testing.T, h *contenthub.Hub, key string, data []byte) {
	t.Helper()
	if err := backend.ValidateKey(key); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(h.Location(), filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

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

const sum64 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// FuzzSnapshotSummary stores arbitrary bytes as a snapshot summary under a
// key of the fuzzer's choosing: listing snapshots either fails naming the
// object, or every snapshot listed is well formed and reads back the same
// after being written again.
func FuzzSnapshotSummary(f *testing.F) {
	good := `{"format":"editkit-snapshot/1","id":"20261124T120000.000000Z-0a1b2c3d","set":"media","time":"2026-11-24T12:00:00Z","host":"h","user":"u","paths":["/Volumes/RAID/Show"],"files":2,"bytes":10,"new":2,"changed":0,"removed":0,"uploaded":10,"blobs":2,"entries_key":"snapshots/media/20261124T120000.000000Z-0a1b2c3d.entries.gz","entries_b3":"` + sum64 + `"}`
	f.Add([]byte(good), "media", "20261124T120000.000000Z-0a1b2c3d")
	f.Add([]byte(strings.Replace(good, `"set":"media"`, `"set":"../x"`, 1)), "media", "20261124T120000.000000Z-0a1b2c3d")
	f.Add([]byte(strings.Replace(good, `editkit-snapshot/1`, `editkit-snapshot/2`, 1)), "media", "20261124T120000.000000Z-0a1b2c3d")
	f.Add([]byte(`{"format":"editkit-snapshot/1"`), "media", "x")
	f.Add([]byte(`null`), "a", "b")
	h, h2 := newHub(f), newHub(f)
	f.Fuzz(func(t *testing.T, data []byte, set, id string) {
		ctx := context.Background()
		emptyHub(t, h)
		key := "snapshots/" + set + "/" + id + ".json"
		if backend.ValidateKey(key) != nil {
			return
		}
		put(t, h, key, data)
		snaps, err := h.Snapshots(ctx, "")
		if err != nil {
			if !strings.Contains(err.Error(), key) {
				t.Fatalf("error does not name %s: %v", key, err)
			}
			return
		}
		for _, s := range snaps {
			if s.Format != contenthub.SnapshotFormat || contenthub.ValidSetName(s.Set) != nil || s.Set != set || s.ID != id {
				t.Fatalf("accepted %+v from %s", s, key)
			}
			if backend.ValidateKey(s.EntriesKey) != nil || !strings.HasPrefix(s.EntriesKey, "snapshots/"+s.Set+"/") {
				t.Fatalf("accepted entries key %q", s.EntriesKey)
			}
			// Written again (as a copy of the hub would), it reads the same.
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			emptyHub(t, h2)
			put(t, h2, key, b)
			again, err := h2.Snapshots(ctx, s.Set)
			if err != nil || len(again) != 1 {
				t.Fatalf("a snapshot read once does not read again: %v", err)
			}
			b2, _ := json.Marshal(again[0])
			if !bytes.Equal(b, b2) {
				t.Fatalf("read %s, then %s", b, b2)
			}
		}
	})
}

// FuzzEntries stores arbitrary bytes (gzipped unless raw) as a snapshot's
// file list, with a summary whose checksum matches, and streams it as
// restore and prune do: every entry yielded has a clean path under one of
// the snapshot's roots, a well-formed hash, and comes in strict order; a
// bad entry is an error naming the snapshot, never a panic.
func FuzzEntries(f *testing.F) {
	line := func(e contenthub.Entry) string { b, _ := json.Marshal(e); return string(b) + "\n" }
	ok := line(contenthub.Entry{Root: 0, Path: "Avid Projects", Dir: true}) +
		line(contenthub.Entry{Root: 0, Path: "Avid Projects/Show.avp", Size: 3, MTime: 1, Mode: 0o644, Inode: 9, B3: sum64}) +
		line(contenthub.Entry{Root: 1, Path: "Session.ptx", Size: 3, B3: sum64})
	f.Add([]byte(ok), uint8(2), false)
	f.Add([]byte(ok), uint8(1), false)
	f.Add([]byte(ok), uint8(2), true)
	f.Add([]byte(line(contenthub.Entry{Path: "b", B3: sum64})+line(contenthub.Entry{Path: "a", B3: sum64})), uint8(1), false)
	f.Add([]byte(line(contenthub.Entry{Path: "a", B3: "zz"})), uint8(1), false)
	f.Add([]byte(`{"r":-1,"p":"a","b3":"`+sum64+`"}`), uint8(1), false)
	for _, p := range hostilePaths(f) {
		f.Add([]byte(line(contenthub.Entry{Path: p, B3: sum64})), uint8(1), false)
	}
	h, h2, tmp := newHub(f), newHub(f), f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, roots uint8, raw bool) {
		ctx := context.Background()
		emptyHub(t, h)
		obj := data
		if !raw {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
			obj = buf.Bytes()
		}
		s := &contenthub.Snapshot{Format: contenthub.SnapshotFormat, ID: "20261124T120000.000000Z-0a1b2c3d", Set: "media",
			EntriesKey: "snapshots/media/20261124T120000.000000Z-0a1b2c3d.entries.gz"}
		for i := 0; i < int(roots%4); i++ {
			s.Paths = append(s.Paths, fmt.Sprintf("/root%d", i))
		}
		s.EntriesB3 = fmt.Sprintf("%x", blake3.Sum256(obj))
		put(t, h, s.EntriesKey, obj)
		var prev *contenthub.Entry
		for e, err := range h.Entries(ctx, s, tmp) {
			if err != nil {
				if !strings.Contains(err.Error(), s.ID) {
					t.Fatalf("error does not name the snapshot: %v", err)
				}
				break
			}
			if err := treepath.Validate(e.Path); err != nil {
				t.Fatalf("entry with an unsafe path yielded: %v", err)
			}
			if e.Root < 0 || e.Root >= len(s.Paths) {
				t.Fatalf("entry %+v names root %d of %d", e, e.Root, len(s.Paths))
			}
			if !e.Dir && (len(e.B3) != 64 || strings.Trim(e.B3, "0123456789abcdef") != "") {
				t.Fatalf("file entry %+v with a bad hash", e)
			}
			if prev != nil && contenthub.CompareEntries(*prev, e) >= 0 {
				t.Fatalf("entry %+v after %+v", e, *prev)
			}
			prev = &e
		}
		// A flipped byte in the stored list is refused whole.
		if len(obj) > 0 {
			bad := bytes.Clone(obj)
			bad[len(bad)/2] ^= 0x20
			emptyHub(t, h2)
			put(t, h2, s.EntriesKey, bad)
			for _, err := range h2.Entries(ctx, s, tmp) {
				if err == nil {
					t.Fatal("an entry of a damaged file list was yielded")
				}
				break
			}
		}
	})
}

// FuzzEntriesRoundTrip writes a snapshot's file list with EntriesWriter
// and PutSnapshot, for names the fuzzer gives (NUL-separated), and reads
// it back: the same entries, in the same order.
func FuzzEntriesRoundTrip(f *testing.F) {
	f.Add("Avid Projects\x00Avid Projects/Show.avp\x00Pro Tools/S\u00e9ance.ptx\x00a b\x00a/b", int64(3), uint32(0o644))
	f.Add("new\nline\x00back\\slash\x00cr\r", int64(0), uint32(0))
	h, tmp := newHub(f), f.TempDir()
	f.Fuzz(func(t *testing.T, names string, size int64, mode uint32) {
		ctx := context.Background()
		emptyHub(t, h)
		var paths []string
		for _, p := range strings.Split(names, "\x00") {
			if treepath.Validate(p) == nil {
				paths = append(paths, p)
			}
		}
		slices.SortFunc(paths, treepath.Compare)
		paths = slices.Compact(paths)
		w, err := contenthub.NewEntriesWriter(tmp)
		if err != nil {
			t.Fatal(err)
		}
		var want []contenthub.Entry
		for i, p := range paths {
			e := contenthub.Entry{Root: 0, Path: p, Size: size + int64(i), MTime: int64(i) * 1e9, Mode: mode, Inode: uint64(i), B3: fmt.Sprintf("%064x", i)}
			if err := w.Add(e); err != nil {
				t.Fatal(err)
			}
			want = append(want, e)
		}
		file, b3, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		s := &contenthub.Snapshot{ID: event.NewID(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)), Set: "media", Paths: []string{"/show"}, Time: time.Now()}
		defer os.Remove(file)
		if err := h.PutSnapshot(ctx, s, file, b3); err != nil {
			t.Fatal(err)
		}
		snaps, err := h.Snapshots(ctx, "media")
		if err != nil || len(snaps) != 1 {
			t.Fatalf("%d snapshots: %v", len(snaps), err)
		}
		var got []contenthub.Entry
		for e, err := range h.Entries(ctx, snaps[0], tmp) {
			if err != nil {
				t.Fatalf("our own file list does not read: %v", err)
			}
			got = append(got, e)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("wrote %+v\nread %+v", want, got)
		}
	})
}

const batchKey = "events/2026/11/24/20261124T120000.000000Z-0a1b2c3d.jsonl"

// FuzzEventBatch stores arbitrary bytes as an event batch: reading the log
// either fails naming the object, or yields only valid events, which,
// written again as a batch, read back the same.
func FuzzEventBatch(f *testing.F) {
	e := event.New(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), event.Pushed)
	e.Path, e.Hash, e.Size, e.Category, e.User = "VFX/VFX_010_v1.mxf", sum64, 3000000, "vfx", "Anna"
	b, _ := json.Marshal(e)
	f.Add(append(b, '\n'))
	f.Add(append(append(b, '\n'), b...))
	f.Add([]byte(`{"id":"","action":"pushed"}` + "\n"))
	f.Add([]byte(`{"id":"a/b","action":"pushed"}` + "\n"))
	f.Add([]byte(`{"id":"x","action":"pushed","time":"2026-11-24T12:00:00+02:00"}` + "\n\n"))
	f.Add([]byte("{}\n"))
	h, h2 := newHub(f), newHub(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		emptyHub(t, h)
		put(t, h, batchKey, data)
		var evs []event.Event
		for r, err := range h.Events(ctx) {
			if err != nil {
				if !strings.Contains(err.Error(), batchKey) {
					t.Fatalf("error does not name the batch: %v", err)
				}
				return
			}
			if r.Key != batchKey {
				t.Fatalf("event from %q", r.Key)
			}
			if err := r.Event.Validate(); err != nil {
				t.Fatalf("invalid event yielded: %v", err)
			}
			evs = append(evs, r.Event)
		}
		emptyHub(t, h2)
		if err := h2.AppendEvents(ctx, contenthub.Batch{ID: "20261124T120000.000000Z-0a1b2c3d", Events: evs, Key: batchKey}); err != nil {
			t.Fatal(err)
		}
		again, err := h2.ReadBatch(ctx, batchKey)
		if err != nil {
			t.Fatalf("a batch read once does not read again: %v", err)
		}
		x, _ := json.Marshal(evs)
		y, _ := json.Marshal(again)
		if !bytes.Equal(x, y) {
			t.Fatalf("read %s\nthen %s", x, y)
		}
	})
}

// FuzzEventKeyTime: any key is either refused or gives the time its name
// carries.
func FuzzEventKeyTime(f *testing.F) {
	f.Add(batchKey)
	f.Add(contenthub.NewEventKey(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)))
	f.Add("events/x")
	f.Add("20261124T120000.000000Z")
	f.Fuzz(func(t *testing.T, key string) {
		tm, ok := contenthub.EventKeyTime(key)
		if !ok {
			return
		}
		base := key[strings.LastIndexByte(key, '/')+1:]
		if got := tm.UTC().Format("20060102T150405.000000Z"); got != base[:23] {
			t.Fatalf("key %q read as %s", key, got)
		}
	})
}

// FuzzOutbox puts an arbitrary file in this computer's outbox of events,
// as a batch and as the hub's receipt of another batch, and delivers it to
// a hub: whatever the files say, the hub's log stays readable by everyone,
// and a batch the hub cannot take does not block the others forever.
func FuzzOutbox(f *testing.F) {
	e := event.New(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), event.Copied)
	e.Path, e.Hash, e.DriveID = "A001/clip.mxf", sum64, "ek-0123456789"
	good, _ := json.Marshal(outbox.Batch{ID: "20261124T120000.000000Z-0a1b2c3d", To: []string{outbox.Hub}, Events: []event.Event{e}})
	f.Add(good, "20261124T120000.000000Z-0a1b2c3d")
	f.Add([]byte(`{"id":"","to":["hub"],"events":[]}`), "empty")
	f.Add([]byte(`{"id":"x","to":["hub"],"events":[{"id":"","action":""}]}`), "x")
	f.Add([]byte(`{"key":"events/../../x/20261124T120000.000000Z.jsonl"}`), "x")
	f.Add([]byte(`{"key":"events/2026/11/24/20261124T120000,000000Z.jsonl"}`), "x")
	f.Add([]byte(`{"id":"../x","to":["hub"],"events":[]}`), "y")
	f.Add([]byte(`not json`), "z")
	h, dir := newHub(f), f.TempDir()
	ob, err := outbox.Open(dir, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		ctx := context.Background()
		if strings.ContainsAny(name, "/\x00") || name == "" || name == "." || name == ".." {
			return
		}
		emptyHub(t, h)
		old, _ := os.ReadDir(dir)
		for _, e := range old {
			os.Remove(filepath.Join(dir, e.Name()))
		}
		if err := os.WriteFile(filepath.Join(dir, name+".batch"), data, 0o600); err != nil {
			return // a name this filesystem cannot hold
		}
		// A good batch whose receipt is the same bytes.
		mid := event.New(time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC), event.Verified)
		mid.DriveID = "ek-0123456789"
		if err := ob.Add(outbox.Batch{ID: "20261124T180000.000000Z-0a1b2c3d", To: []string{outbox.Hub}, Events: []event.Event{mid}}); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "20261124T180000.000000Z-0a1b2c3d.hub.receipt"), data, 0o600)
		// And one good batch that must get through.
		later := event.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), event.Verified)
		later.DriveID = "ek-0123456789"
		if err := ob.Add(outbox.NewBatch(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), []string{outbox.Hub}, []event.Event{later})); err != nil {
			t.Fatal(err)
		}
		for range 3 { // commands run again and again
			snd, err := ob.Lock(ctx, outbox.Hub, tracker.RealClock(), 0)
			if err != nil {
				t.Fatal(err)
			}
			h.Deliver(ctx, snd)
			snd.Close()
		}
		var ids []string
		for r, err := range h.Events(ctx) {
			if err != nil {
				t.Fatalf("the outbox made the hub's event log unreadable: %v", err)
			}
			ids = append(ids, r.ID)
		}
		if !slices.Contains(ids, later.ID) {
			t.Fatalf("a good batch never reached the hub past %q (events there: %q)", data, ids)
		}
	})
}

// FuzzPruneRecords stores arbitrary bytes as prune's pending list, a
// deletion announcement and a repair record, as anyone with access to the
// hub could. What backups and pushes read of them only ever widens what
// they re-check: the pending list reads as valid marks only (a damaged one
// as empty, which restarts the waiting, the safe side), an announcement
// that cannot be read puts every blob at risk, and nothing fails or panics.
// The pending list prune writes back reads as itself.
func FuzzPruneRecords(f *testing.F) {
	good, _ := json.Marshal(contenthub.PendingList{Blobs: map[string]time.Time{sum64: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)}})
	ann, _ := json.Marshal(contenthub.Deletion{ID: "20261201T030000.000000Z-abcdef01", Host: "nas", PID: 42, Started: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC),
		Deadline: time.Date(2026, 12, 1, 3, 15, 0, 0, time.UTC), Blobs: []string{sum64}})
	f.Add(good, ann, []byte(`{"id":"r1","blobs":["`+sum64+`"]}`))
	f.Add([]byte(`{"blobs":{"../x":"2026-12-01T03:00:00Z","`+sum64+`":"0001-01-01T00:00:00Z"}}`), []byte(`{"id":"other"}`), []byte(`null`))
	f.Add([]byte(`{`), []byte{0xff, 0xfe}, []byte(`{"blobs":[1,2]}`))
	h := newHub(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, pending, announcement, repair []byte) {
		emptyHub(t, h)
		put(t, h, contenthub.PendingKey, pending)
		put(t, h, "prune/deleting/20261201T030000.000000Z-abcdef01.json", announcement)
		put(t, h, "repair/20261201T040000.000000Z-abcdef02.json", repair)
		p, err := h.ReadPending(ctx)
		if err != nil {
			t.Fatalf("ReadPending: %v", err)
		}
		for b, at := range p.Blobs {
			if len(b) != 64 || strings.Trim(b, "0123456789abcdef") != "" || at.IsZero() {
				t.Fatalf("pending list accepted %q at %v", b, at)
			}
		}
		risk, err := h.AtRisk(ctx)
		if err != nil {
			t.Fatalf("AtRisk: %v", err)
		}
		for b := range p.Blobs {
			if !risk.Has(b) {
				t.Fatalf("marked blob %s not at risk", b)
			}
		}
		var d contenthub.Deletion
		if json.Unmarshal(announcement, &d) != nil || d.ID != "20261201T030000.000000Z-abcdef01" {
			if !risk.All {
				t.Fatal("an announcement that cannot be read left blobs unchecked")
			}
		} else {
			for _, b := range d.Blobs {
				if !risk.Has(b) {
					t.Fatalf("announced blob %q not at risk", b)
				}
			}
		}
		if err := h.WritePending(ctx, p); err != nil {
			t.Fatal(err)
		}
		again, err := h.ReadPending(ctx)
		if err != nil || len(again.Blobs) != len(p.Blobs) {
			t.Fatalf("pending list written back: %v, %d blobs, want %d", err, len(again.Blobs), len(p.Blobs))
		}
		for b, at := range p.Blobs {
			if !again.Blobs[b].Equal(at) {
				t.Fatalf("pending %s: %v written, %v read", b, at, again.Blobs[b])
			}
		}
	})
}
