package hubcrypt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/zeebo/blake3"
)

// testLayout is contenthub's.
var testLayout = Layout{Sharded: []string{"blobs/", "packs/"}, Flat: map[string]string{"index/": ".idx"}, Named: []string{"snapshots/"}}

func testKeys(t testing.TB) *Keys {
	t.Helper()
	k := &Keys{Current: 1, Data: map[uint32][32]byte{}}
	rand.Read(k.HubID[:])
	rand.Read(k.IDKey[:])
	var dk [32]byte
	rand.Read(dk[:])
	k.Data[1] = dk
	return k
}

func testStore(t *testing.T, k *Keys) (backend.Backend, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := backend.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Wrap(b, k, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// putRandomBlob stores n random bytes as a blob and returns them and its key.
func putRandomBlob(t *testing.T, s backend.Backend, n int) ([]byte, string) {
	t.Helper()
	data := randBytes(n)
	key := blobKey(data)
	if err := s.Put(context.Background(), key, backend.BytesSource(data), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return data, key
}

func blobKey(data []byte) string {
	sum := blake3.Sum256(data)
	h := hex.EncodeToString(sum[:])
	return "blobs/" + h[:2] + "/" + h
}

func get(t *testing.T, s backend.Backend, key string, off, n int64) ([]byte, error) {
	t.Helper()
	rc, err := s.Get(context.Background(), key, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// storedFiles lists the files the folder backend holds, relative.
func storedFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(p, "/.") {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// Every size around the chunk boundaries round-trips, whole and by any
// range, and the stored object is the sealed size.
func TestRoundTripAndRanges(t *testing.T) {
	ctx := context.Background()
	s, dir := testStore(t, testKeys(t))
	for _, n := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3 * chunkSize, 3*chunkSize + 17} {
		data := randBytes(n)
		key := blobKey(data)
		if err := s.Put(ctx, key, backend.BytesSource(data), backend.PutOptions{IfNotExists: true}); err != nil {
			t.Fatal(err)
		}
		got, err := get(t, s, key, 0, -1)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: whole read: %v (got %d bytes)", n, err, len(got))
		}
		oi, err := s.Stat(ctx, key)
		if err != nil || oi.Size != int64(n) {
			t.Fatalf("size %d: stat %+v %v", n, oi, err)
		}
		for _, off := range []int64{0, 1, chunkSize - 1, chunkSize, chunkSize + 5, 2 * chunkSize, int64(n) - 1, int64(n)} {
			if off < 0 || off > int64(n) {
				continue
			}
			for _, l := range []int64{-1, 1, 10, chunkSize, chunkSize + 3, 5 * chunkSize} {
				want := data[off:]
				if l >= 0 && int64(len(want)) > l {
					want = want[:l]
				}
				got, err := get(t, s, key, off, l)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("size %d range %d+%d: %v (got %d bytes, want %d)", n, off, l, err, len(got), len(want))
				}
			}
		}
	}
	if _, err := get(t, s, blobKey(nil), 5, -1); !errors.Is(err, backend.ErrInvalidRange) {
		t.Fatalf("offset past the end of an empty object: %v", err)
	}
	for _, f := range storedFiles(t, dir) {
		if fi, _ := os.Stat(filepath.Join(dir, f)); PlainSize(fi.Size()) < 0 {
			t.Errorf("%s: size %d is no sealed size", f, fi.Size())
		}
	}
}

// Names: no plain hash or set name is stored; listing maps back; the same
// content under the same keys gives the same ciphertext (a resumed upload
// sends the same bytes).
func TestNamesAndDeterminism(t *testing.T) {
	ctx := context.Background()
	k := testKeys(t)
	s, dir := testStore(t, k)
	data := randBytes(2*chunkSize + 100)
	key := blobKey(data)
	plainHex := key[strings.LastIndexByte(key, '/')+1:]
	keys := []string{key, "packs/" + plainHex[:2] + "/" + plainHex, "index/" + plainHex + ".idx",
		"snapshots/MyShow-Reel1/20261207T000000Z.json", "events/2026/12/07/x.jsonl", "keys/keyring.age"}
	for _, kk := range keys {
		if err := s.Put(ctx, kk, backend.BytesSource(data), backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range storedFiles(t, dir) {
		if strings.Contains(f, plainHex) || strings.Contains(strings.ToLower(f), "myshow") {
			t.Errorf("stored name %s shows a plain name", f)
		}
	}
	for _, prefix := range []string{"blobs/", "packs/", "index/", "snapshots/", "snapshots/MyShow-Reel1/", "events/", "keys/"} {
		var got []string
		for oi, err := range s.List(ctx, prefix) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, oi.Key)
			if !strings.HasPrefix(oi.Key, "keys/") && oi.Size != int64(len(data)) {
				t.Errorf("%s: size %d", oi.Key, oi.Size)
			}
		}
		if len(got) != 1 || !strings.HasPrefix(got[0], prefix) {
			t.Errorf("list %s: %v", prefix, got)
		}
	}
	// Another store with the same keys: the same stored name and bytes.
	s2, dir2 := testStore(t, k)
	if err := s2.Put(ctx, key, backend.BytesSource(data), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	stored := derivedForTest(t, k).storedKey(key)
	a, _ := os.ReadFile(filepath.Join(dir, stored))
	b, _ := os.ReadFile(filepath.Join(dir2, stored))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("the same blob sealed twice differs (%d, %d bytes)", len(a), len(b))
	}
	if bytes.Contains(a, data[:64]) {
		t.Fatal("plaintext in the stored object")
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "keys/keyring.age"))
	if !bytes.Equal(raw, data) {
		t.Fatal("keys/ is not passed through")
	}
}

func derivedForTest(t *testing.T, k *Keys) *derived {
	d, err := derive(k, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A flipped byte, a truncated object, a swapped blob and an object from
// another hub are each refused with the object named, and nothing of a
// refused chunk is handed out.
func TestTamperRefused(t *testing.T) {
	ctx := context.Background()
	k := testKeys(t)
	s, dir := testStore(t, k)
	d := derivedForTest(t, k)
	a := randBytes(3*chunkSize + 10)
	b := randBytes(3*chunkSize + 10)
	ka, kb := blobKey(a), blobKey(b)
	for _, x := range []struct {
		k string
		v []byte
	}{{ka, a}, {kb, b}} {
		if err := s.Put(ctx, x.k, backend.BytesSource(x.v), backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pathA := filepath.Join(dir, d.storedKey(ka))
	pathB := filepath.Join(dir, d.storedKey(kb))
	sealedA, _ := os.ReadFile(pathA)
	sealedB, _ := os.ReadFile(pathB)
	restore := func() { os.WriteFile(pathA, sealedA, 0o644) }

	// expectRefused reads and wants a refusal naming the object, and
	// nothing handed out but a's bytes before chunk damaged.
	expectRefused := func(what string, off, n int64, damaged int) {
		t.Helper()
		got, err := get(t, s, ka, off, n)
		var de *DamagedError
		if !errors.As(err, &de) || de.Key != ka || !strings.Contains(err.Error(), ka) {
			t.Errorf("%s: got %v, want a DamagedError naming %s", what, err, ka)
		}
		if len(got) > 0 && int(off)+len(got) > damaged*chunkSize || !bytes.Equal(got, a[off:int(off)+len(got)]) {
			t.Errorf("%s: %d bytes handed out past chunk %d or not a's", what, len(got), damaged)
		}
	}
	for _, pos := range []int{3, headerSize + 2, headerSize + 40, int(chunkOffset(2)) + 100, len(sealedA) - 1} {
		bad := bytes.Clone(sealedA)
		bad[pos] ^= 1
		os.WriteFile(pathA, bad, 0o644)
		if pos < headerSize {
			if _, err := get(t, s, ka, 0, -1); !errors.Is(err, ErrDamaged) {
				t.Errorf("flipped header byte: %v", err)
			}
			continue
		}
		expectRefused("flipped byte", 0, -1, (pos-headerSize)/sealedChunk)
	}
	for _, cut := range []int64{chunkOffset(2), chunkOffset(3), int64(len(sealedA)) - 1} {
		os.WriteFile(pathA, sealedA[:cut], 0o644)
		expectRefused("truncated", 0, -1, int((cut-1-headerSize)/sealedChunk))
		if cut == chunkOffset(2) {
			// A range that runs into the cut: refused, not cut short.
			if _, err := get(t, s, ka, chunkSize+10, chunkSize); !errors.Is(err, ErrDamaged) && !errors.Is(err, backend.ErrInvalidRange) {
				t.Errorf("range into a truncation: %v", err)
			}
		}
	}
	// Swapped: b's object stored where a's should be.
	os.WriteFile(pathA, sealedB, 0o644)
	expectRefused("swapped", 0, -1, 0)
	expectRefused("swapped, range", chunkSize+1, 10, 1)
	// Reordered chunks.
	bad := bytes.Clone(sealedA)
	copy(bad[chunkOffset(0):chunkOffset(1)], sealedA[chunkOffset(1):chunkOffset(2)])
	copy(bad[chunkOffset(1):chunkOffset(2)], sealedA[chunkOffset(0):chunkOffset(1)])
	os.WriteFile(pathA, bad, 0o644)
	expectRefused("reordered", 0, -1, 0)
	restore()
	if got, err := get(t, s, ka, 0, -1); err != nil || !bytes.Equal(got, a) {
		t.Fatalf("restored object: %v", err)
	}

	// Another hub with the same data and ID keys but its own hub ID: the
	// same name, refused.
	other := *k
	rand.Read(other.HubID[:])
	so, odir := testStore(t, &other)
	if err := so.Put(ctx, ka, backend.BytesSource(bytes.Repeat([]byte{'x'}, 100)), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	foreign, _ := os.ReadFile(filepath.Join(odir, d.storedKey(ka)))
	os.WriteFile(pathA, foreign, 0o644)
	expectRefused("another hub's object", 0, -1, 0)
}

// A removed reader's keyring lacks the epochs written after: objects
// sealed since cannot be opened with it, those before still can.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	k := testKeys(t)
	s, dir := testStore(t, k)
	old := randBytes(100)
	if err := s.Put(ctx, blobKey(old), backend.BytesSource(old), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rotated := &Keys{HubID: k.HubID, IDKey: k.IDKey, Current: 2, Data: map[uint32][32]byte{1: k.Data[1]}}
	var dk [32]byte
	rand.Read(dk[:])
	rotated.Data[2] = dk
	b, _ := backend.OpenLocal(dir)
	s2, _ := Wrap(b, rotated, testLayout)
	fresh := randBytes(100)
	if err := s2.Put(ctx, blobKey(fresh), backend.BytesSource(fresh), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := get(t, s2, blobKey(old), 0, -1); err != nil || !bytes.Equal(got, old) {
		t.Fatalf("old object with the rotated keyring: %v", err)
	}
	if _, err := get(t, s, blobKey(fresh), 0, -1); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "epoch 2") {
		t.Fatalf("new object with the removed reader's keyring: %v", err)
	}
}

func TestFeistelInverts(t *testing.T) {
	d := derivedForTest(t, testKeys(t))
	for range 100 {
		h := hex.EncodeToString(randBytes(32))
		s, ok := d.storedID(h)
		back, ok2 := d.plainID(s)
		if !ok || !ok2 || back != h {
			t.Fatalf("%s -> %s -> %s", h, s, back)
		}
	}
	if _, ok := d.openName(d.sealName("x")[1:]); ok {
		t.Fatal("a damaged sealed name opened")
	}
}

// Whichever suite wrote a chunk (AES-256-GCM where the processor is fast
// at it, else XChaCha20-Poly1305), every reader opens it; a chunk naming a
// suite no editkit knows is refused.
func TestEitherSuiteReads(t *testing.T) {
	ctx := context.Background()
	k := testKeys(t)
	s, dir := testStore(t, k)
	st := s.(*Store)
	for _, suite := range []byte{suiteXChaCha20Poly1305, suiteAES256GCM} {
		st.d.suite = suite
		data := randBytes(2*chunkSize + 7)
		key := blobKey(data)
		if err := s.Put(ctx, key, backend.BytesSource(data), backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		st.d.suite = suiteXChaCha20Poly1305 + suiteAES256GCM - suite
		if got, err := get(t, s, key, chunkSize-3, 10); err != nil || !bytes.Equal(got, data[chunkSize-3:chunkSize+7]) {
			t.Fatalf("suite %d: %v", suite, err)
		}
		path := filepath.Join(dir, st.StoredKey(key))
		raw, _ := os.ReadFile(path)
		if raw[headerSize] != suite {
			t.Fatalf("chunk 0 names suite %d, want %d", raw[headerSize], suite)
		}
		raw[headerSize] = 9
		os.WriteFile(path, raw, 0o644)
		if _, err := get(t, s, key, 0, -1); !errors.Is(err, ErrDamaged) {
			t.Fatalf("unknown suite: %v", err)
		}
	}
}

// countingBackend counts the reads callers make of what Get returns, and
// those that ask for bytes across a 1 MiB boundary of the object.
type countingBackend struct {
	backend.Backend
	reads  *atomic.Int64
	across *atomic.Int64
}

func (c countingBackend) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	rc, err := c.Backend.Get(ctx, key, off, n)
	if err != nil {
		return nil, err
	}
	return &countingReader{rc, c, off}, nil
}

type countingReader struct {
	io.ReadCloser
	c  countingBackend
	at int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	r.c.reads.Add(1)
	if len(p) > 0 && r.at>>20 != (r.at+int64(len(p))-1)>>20 {
		r.c.across.Add(1)
	}
	n, err := r.ReadCloser.Read(p)
	r.at += int64(n)
	return n, err
}

// A reader fetches many sealed chunks per read of the stored object (a
// read per 64 KiB chunk made restore from an encrypted hub slower than
// from a plain one), and still hands out exactly the plaintext, whole or
// by range, across batch boundaries.
func TestReaderReadsManyChunksAtOnce(t *testing.T) {
	ctx := context.Background()
	k := testKeys(t)
	dir := t.TempDir()
	b, err := backend.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	var reads, across atomic.Int64
	s, err := Wrap(countingBackend{b, &reads, &across}, k, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	const chunks = 3*readBatch + 5
	data, key := putRandomBlob(t, s, chunks*chunkSize-100)
	for _, r := range []struct{ off, n int64 }{
		{0, -1},
		{chunkSize - 1, readBatch*chunkSize + 2},
		{readBatch * chunkSize, readBatch * chunkSize},
		{int64(len(data)) - 1, 1},
	} {
		reads.Store(0)
		across.Store(0)
		got, err := get(t, s, key, r.off, r.n)
		want := data[r.off:]
		if r.n >= 0 {
			want = want[:r.n]
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("range %d+%d: %v, %d bytes, not the plaintext", r.off, r.n, err, len(got))
		}
		// The header, two reads per batch (it spans a 1 MiB boundary of
		// the stored object, where a read ends) and the one that sees the
		// end.
		span := (int64(len(got)) + r.off%chunkSize + chunkSize - 1) / chunkSize
		if most := 2 + 2*(span+readBatch-1)/readBatch + 1; reads.Load() > most {
			t.Errorf("range %d+%d (%d chunks): %d reads of the stored object, want at most %d", r.off, r.n, span, reads.Load(), most)
		}
		// Linux copied reads from the page cache that start inside a
		// block at twice the system time of aligned ones.
		if across.Load() > 0 {
			t.Errorf("range %d+%d: %d reads of the stored object asked for bytes across a 1 MiB boundary", r.off, r.n, across.Load())
		}
	}
	// A caller's large buffer gets a whole batch at once: restore then
	// writes a batch with one call.
	rc, err := s.Get(ctx, key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 1<<20)
	if n, err := rc.Read(buf); err != nil || n != readBatch*chunkSize || !bytes.Equal(buf[:n], data[:n]) {
		t.Errorf("a 1 MiB read gave %d bytes (%v), want the first %d bytes of the plaintext", n, err, readBatch*chunkSize)
	}
}

// WriteTo (restore's way to copy a blob out, with no copy of its own)
// writes exactly the plaintext, and of a damaged object only the chunks
// before the damage, then the refusal.
func TestWriteToWritesOnlyAuthenticated(t *testing.T) {
	ctx := context.Background()
	s, dir := testStore(t, testKeys(t))
	data, key := putRandomBlob(t, s, 2*readBatch*chunkSize+7)
	writeTo := func(off, n int64) ([]byte, error) {
		t.Helper()
		rc, err := s.Get(ctx, key, off, n)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		wt, ok := rc.(backend.BufferedReader)
		if !ok {
			t.Fatalf("Get returned a %T, not a backend.BufferedReader", rc)
		}
		var out bytes.Buffer
		_, err = wt.WriteTo(&out)
		return out.Bytes(), err
	}
	for _, r := range []struct{ off, n int64 }{{0, -1}, {chunkSize + 3, readBatch * chunkSize}, {int64(len(data)), -1}} {
		want := data[r.off:]
		if r.n >= 0 {
			want = want[:r.n]
		}
		if got, err := writeTo(r.off, r.n); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("range %d+%d: %v, %d bytes, not the plaintext", r.off, r.n, err, len(got))
		}
	}
	stored := storedFiles(t, dir)
	if len(stored) != 1 {
		t.Fatalf("stored: %v", stored)
	}
	path := filepath.Join(dir, stored[0])
	sealed, _ := os.ReadFile(path)
	const damaged = readBatch + 3 // in the second batch
	sealed[chunkOffset(damaged)+100] ^= 1
	os.WriteFile(path, sealed, 0o644)
	got, err := writeTo(0, -1)
	if !errors.Is(err, ErrDamaged) || !bytes.Equal(got, data[:damaged*chunkSize]) {
		t.Fatalf("damaged chunk %d: %v after %d bytes, want a refusal after the %d bytes before it", damaged, err, len(got), damaged*chunkSize)
	}
}

// A reader reads and decrypts on its caller's goroutine: restore and pull
// run several downloads at once, and a goroutine per reader decrypting
// ahead cost a restore more CPU time in hand-offs than it saved (and a
// batch buffer or more per reader).
func TestReaderDecryptsOnTheCallersGoroutine(t *testing.T) {
	ctx := context.Background()
	s, _ := testStore(t, testKeys(t))
	data, key := putRandomBlob(t, s, 3*readBatch*chunkSize+11)
	before := runtime.NumGoroutine()
	rc, err := s.Get(ctx, key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got bytes.Buffer
	buf := make([]byte, chunkSize)
	for {
		n, err := rc.Read(buf)
		got.Write(buf[:n])
		if now := runtime.NumGoroutine(); now > before {
			t.Fatalf("after %d bytes read: %d goroutines, %d before the reader", got.Len(), now, before)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read %d bytes, not the plaintext", got.Len())
	}
}

// alignmentWriter records where in a page each write it is given starts.
type alignmentWriter struct {
	out     bytes.Buffer
	offsets []uintptr
}

func (w *alignmentWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		w.offsets = append(w.offsets, uintptr(unsafe.Pointer(&p[0]))%4096)
	}
	return w.out.Write(p)
}

// WriteTo hands each batch of a whole object to its writer from the start
// of a page: restore writes it into a file, and Linux copies a write that
// starts inside a page into the page cache at half as much system time
// again.
func TestWriteToWritesFromPageAlignedMemory(t *testing.T) {
	ctx := context.Background()
	s, _ := testStore(t, testKeys(t))
	data, key := putRandomBlob(t, s, 3*readBatch*chunkSize+11)
	rc, err := s.Get(ctx, key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var w alignmentWriter
	if _, err := rc.(backend.BufferedReader).WriteTo(&w); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.out.Bytes(), data) {
		t.Fatalf("wrote %d bytes, not the plaintext", w.out.Len())
	}
	for i, off := range w.offsets {
		if off != 0 {
			t.Fatalf("write %d of %d starts %d bytes into a page", i+1, len(w.offsets), off)
		}
	}
}

// An open reader holds one buffer of about a batch of sealed chunks (it
// decrypts them where they were read), not one to read into and another
// to decrypt into: restore holds one per download.
func TestOpenReaderHoldsOneBatchBuffer(t *testing.T) {
	ctx := context.Background()
	s, _ := testStore(t, testKeys(t))
	data, key := putRandomBlob(t, s, 2*readBatch*chunkSize+5)
	runtime.GC()
	runtime.GC() // batches pooled by earlier tests are gone: each reader allocates its own
	const readers = 8
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var open []io.ReadCloser
	for range readers {
		rc, err := s.Get(ctx, key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, rc)
	}
	runtime.ReadMemStats(&after)
	for _, rc := range open {
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes (%v), not the plaintext", len(got), err)
		}
		rc.Close()
	}
	if per, most := (after.TotalAlloc-before.TotalAlloc)/readers, uint64(readBatch*sealedChunk)*11/10; per > most {
		t.Errorf("an open reader allocated %d KiB, want at most %d KiB", per>>10, most>>10)
	}
}
