package hubcrypt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"
)

// Sealed objects (testdata/format1, written by TestFormat1Vectors with
// EDITKIT_WRITE_VECTORS=1): fixed keys, fixed plaintexts, both suites. The
// first release made every nonce from BLAKE3 ("blake3"); AES-256-GCM
// chunks now take theirs from GMAC ("gmac"), which readers do not notice.
var vectorKeys = &Keys{HubID: [16]byte{1, 2, 3}, IDKey: [32]byte{4, 5, 6}, Current: 1, Data: map[uint32][32]byte{1: {7, 8, 9}}}

type vector struct {
	suite  byte
	nonces string // how the nonces were made: "blake3" or "gmac"
	key    string
	plain  []byte
}

// current: the vector is what this editkit seals (else it only opens it).
func (v vector) current() bool { return v.nonces == "gmac" || v.suite == suiteXChaCha20Poly1305 }

func vectors() []vector {
	var out []vector
	for _, s := range []struct {
		suite  byte
		nonces string
	}{{suiteXChaCha20Poly1305, "blake3"}, {suiteAES256GCM, "blake3"}, {suiteAES256GCM, "gmac"}} {
		for _, n := range []int{0, 7, chunkSize + 9} {
			plain := make([]byte, n)
			blake3.NewDeriveKey(fmt.Sprintf("editkit test vector %d", n)).Digest().Read(plain)
			out = append(out, vector{s.suite, s.nonces, blobKey(plain), plain})
		}
		// A key that is not content-addressed (an event batch's).
		out = append(out, vector{s.suite, s.nonces, "events/2026/12/07/batch-1", []byte("a note about reel 3\n")})
	}
	return out
}

func (v vector) file() string {
	name := blake3.Sum256([]byte(v.key))
	scheme := ""
	if v.nonces != "blake3" {
		scheme = "-" + v.nonces
	}
	return filepath.Join("testdata", "format1", fmt.Sprintf("suite%d%s-%d-%x.sealed", v.suite, scheme, len(v.plain), name[:4]))
}

// sealAll is what Put stores for v, read the way the folder backend reads
// a source (1 MiB at a time).
func sealAll(t *testing.T, d *derived, v vector) []byte {
	t.Helper()
	src := d.sealSource(v.key, backend.BytesSource(v.plain))
	out := make([]byte, src.Length())
	for off := 0; off < len(out); off += 1 << 20 {
		if _, err := src.ReadAt(out[off:min(len(out), off+1<<20)], int64(off)); err != nil && err != io.EOF {
			t.Fatal(err)
		}
	}
	return out
}

// Objects the first release sealed open to their plaintext (what an
// existing encrypted hub holds stays readable), and sealing the same
// plaintext under the same name gives exactly the bytes of the vector of
// today's scheme (sealing stays deterministic: a resumed upload matches).
func TestFormat1Vectors(t *testing.T) {
	ctx := context.Background()
	d, err := derive(vectorKeys, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := backend.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Wrap(b, vectorKeys, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors() {
		d.suite = v.suite
		if os.Getenv("EDITKIT_WRITE_VECTORS") == "1" && v.current() {
			if err := os.WriteFile(v.file(), sealAll(t, d, v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(v.file())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Put(ctx, s.StoredKey(v.key), backend.BytesSource(want), backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if got, err := get(t, s, v.key, 0, -1); err != nil || !bytes.Equal(got, v.plain) {
			t.Fatalf("%s: opening the stored vector: %v", v.file(), err)
		}
		if got := sealAll(t, d, v); v.current() && !bytes.Equal(got, want) {
			t.Fatalf("%s: sealing %s today gives other bytes than the vector", v.file(), v.key)
		}
	}
}

// serialSeal is the object format sealed one chunk after another: what
// sealedSource must give however it is read.
func serialSeal(d *derived, key string, plain []byte) []byte {
	out := append([]byte(nil), header[:]...)
	for i := int64(0); ; i++ {
		start := i * chunkSize
		end := min(int64(len(plain)), start+chunkSize)
		out = d.sealChunk(out, key, i, end == int64(len(plain)), plain[start:end])
		if end == int64(len(plain)) {
			return out
		}
	}
}

// However a sealed source is read (whole, in the folder backend's 1 MiB
// reads, in sizes that cut chunks anywhere, by concurrent readers as the
// parts of a multipart upload are), it gives the bytes of sealing the
// object chunk after chunk on one goroutine.
func TestSealedSourceReadsMatchSerialSeal(t *testing.T) {
	d, err := derive(vectorKeys, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	plain := randBytes(41*chunkSize + 123)
	key := blobKey(plain)
	want := serialSeal(d, key, plain)
	readIn := func(src *sealedSource, got []byte, from, to, step int) error {
		for off := from; off < to; off += step {
			if _, err := src.ReadAt(got[off:min(to, off+step)], int64(off)); err != nil && err != io.EOF {
				return err
			}
		}
		return nil
	}
	for _, step := range []int{len(want), 1 << 20, 100_000, sealedChunk, sealedChunk - 1, 4*sealedChunk + 1, 777} {
		src := d.sealSource(key, backend.BytesSource(plain))
		got := make([]byte, src.Length())
		if err := readIn(src, got, 0, len(got), step); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("read %d bytes at a time: not the serial seal", step)
		}
	}
	// Four readers at once, each its own part, reading in 1 MiB.
	src := d.sealSource(key, backend.BytesSource(plain))
	got := make([]byte, src.Length())
	part := (len(got) + 3) / 4
	errs := make(chan error, 4)
	for w := range 4 {
		go func() { errs <- readIn(src, got, w*part, min(len(got), (w+1)*part), 1<<20) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("concurrent part readers: not the serial seal")
	}
}

// A source that is shorter than it said (a file cut during the upload) is
// an error, and the bytes reported read are all sealed correctly.
func TestSealedSourceShrunk(t *testing.T) {
	d, err := derive(vectorKeys, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	plain := randBytes(20 * chunkSize)
	key := blobKey(plain)
	want := serialSeal(d, key, plain)
	src := d.sealSource(key, shrunk{backend.BytesSource(plain), 13*chunkSize + 5})
	got := make([]byte, src.Length())
	n, err := src.ReadAt(got, 0)
	if err == nil || !strings.Contains(err.Error(), "shrink") {
		t.Fatalf("read of a shrunk source: %v", err)
	}
	if n > int(chunkOffset(13)) || !bytes.Equal(got[:n], want[:n]) {
		t.Fatalf("%d bytes reported read, %d are whole sealed chunks", n, chunkOffset(13))
	}
}

// shrunk is a source whose bytes end at size, though it says otherwise.
type shrunk struct {
	backend.Source
	size int64
}

func (s shrunk) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > s.size {
		n, _ := s.Source.ReadAt(p[:max(0, s.size-off)], off)
		return n, io.EOF
	}
	return s.Source.ReadAt(p, off)
}

// Two different chunks under one name and place never get the same nonce
// (whichever suite seals them): a file that changed between being hashed
// and being uploaded is sealed under new nonces, not the old ones; the
// same chunk gets the same nonce every time.
func TestNonceUniquePerPlaintext(t *testing.T) {
	d, err := derive(vectorKeys, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	plain := randBytes(chunkSize)
	key := blobKey(plain) // the name the file had when it was hashed
	for _, suite := range []byte{suiteXChaCha20Poly1305, suiteAES256GCM} {
		d.suite = suite
		nonceOf := func(p []byte) string {
			return string(d.sealChunk(nil, key, 3, false, p)[nonceAt : nonceAt+chacha20poly1305.NonceSizeX])
		}
		seen := map[string]string{nonceOf(plain): "the original"}
		if again := nonceOf(plain); seen[again] != "the original" {
			t.Fatalf("suite %d: the same chunk sealed twice got two nonces", suite)
		}
		variant := func(what string, p []byte) {
			n := nonceOf(p)
			if prev, ok := seen[n]; ok {
				t.Fatalf("suite %d: %s shares its nonce with %s", suite, what, prev)
			}
			seen[n] = what
		}
		for bit := 0; bit < 8*chunkSize; bit += 509 {
			p := bytes.Clone(plain)
			p[bit/8] ^= 1 << (bit % 8)
			variant(fmt.Sprintf("bit %d flipped", bit), p)
		}
		variant("one byte shorter", plain[:chunkSize-1])
		variant("all zeros", make([]byte, chunkSize))
		variant("empty", nil)
		for i := range 64 {
			variant(fmt.Sprintf("random %d", i), randBytes(chunkSize))
		}
	}
}

// A reader closed part way through (a restore cancelled, a verify that
// found what it wanted) stops reading ahead and returns; a whole read in
// small pieces gives the plaintext in order.
func TestOpenReaderCloseMidway(t *testing.T) {
	ctx := context.Background()
	s, _ := testStore(t, testKeys(t))
	data := randBytes(20*chunkSize + 5)
	key := blobKey(data)
	if err := s.Put(ctx, key, backend.BytesSource(data), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, stopAt := range []int{0, 1, chunkSize, 3*chunkSize + 7, len(data)} {
		rc, err := s.Get(ctx, key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, stopAt)
		if _, err := io.ReadFull(rc, got); err != nil || !bytes.Equal(got, data[:stopAt]) {
			t.Fatalf("first %d bytes: %v", stopAt, err)
		}
		if err := rc.Close(); err != nil {
			t.Fatalf("close after %d bytes: %v", stopAt, err)
		}
		if err := rc.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
		if _, err := rc.Read(got); err == nil {
			t.Fatal("a read after close did not fail")
		}
	}
	rc, err := s.Get(ctx, key, chunkSize+1, 9*chunkSize)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got bytes.Buffer
	buf := make([]byte, 1000)
	for {
		n, err := rc.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), data[chunkSize+1:10*chunkSize+1]) {
		t.Fatalf("range read in 1000-byte pieces: %d bytes, not the plaintext", got.Len())
	}
}

// The folder backend ends each read of a sealed source at a chunk
// boundary (backend.BlockSource): no chunk is sealed on its own, one core
// idle, because a 1 MiB read ended inside it.
func TestFolderPutSealsNoChunkAlone(t *testing.T) {
	s, _ := testStore(t, testKeys(t))
	data := randBytes(48*chunkSize + 100)
	src := &smallReads{Source: backend.BytesSource(data)}
	if err := s.Put(context.Background(), blobKey(data), src, backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if src.small.Load() > 0 {
		t.Errorf("%d reads of the plaintext covered one chunk or less", src.small.Load())
	}
	if got, err := get(t, s, blobKey(data), 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v, %d bytes, not the plaintext", err, len(got))
	}
}

// smallReads counts the reads of one chunk or less.
type smallReads struct {
	backend.Source
	small atomic.Int64
}

func (s *smallReads) ReadAt(p []byte, off int64) (int, error) {
	if len(p) <= chunkSize {
		s.small.Add(1)
	}
	return s.Source.ReadAt(p, off)
}
