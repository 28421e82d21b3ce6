package hubcrypt

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hashing"
	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"
)

// The object format:
//
//	header  8 bytes  "EKHUB" 0 0 1 (format 1)
//	chunk…           suite (1) | epoch (4, big-endian) | nonce (24) | AEAD(plaintext, up to 64 KiB) | tag (16)
//
// The suite is AES-256-GCM (the first 12 bytes of the nonce) where the
// processor has AES and carry-less multiply instructions (about twice as
// fast there), else XChaCha20-Poly1305 (several times faster without
// them); every reader opens both, so no processor feature is needed to
// read any hub, only to write one fast.
//
// Every chunk is full but the last, which may be short or empty; an empty
// object is one empty chunk. Each chunk's additional data binds the hub
// ID, the epoch, the chunk's index, whether it is the last, and the
// object's plain key: a chunk moved within or between objects, an object
// cut at a chunk boundary or renamed, or one from another hub fails
// authentication. A chunk's nonce is a keyed BLAKE3 of all that and a
// keyed digest of its plaintext (a synthetic IV, see chunkDigest): the
// same bytes under the same name give the same ciphertext, so a resumed multipart upload sends exactly what the
// interrupted one sent, and two different plaintexts never share a nonce,
// even a file that changed while it was uploaded or a rewritten object.
// Range reads fetch only the chunks they cover.

const (
	chunkSize     = 64 << 10
	chunkOverhead = 1 + 4 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
	nonceAt       = 1 + 4
	sealedChunk   = chunkSize + chunkOverhead
	headerSize    = 8
)

var header = [headerSize]byte{'E', 'K', 'H', 'U', 'B', 0, 0, 1}

// SealedSize is the stored size of an object of plainSize bytes.
func SealedSize(plainSize int64) int64 {
	n := max(1, (plainSize+chunkSize-1)/chunkSize)
	return headerSize + n*chunkOverhead + plainSize
}

// PlainSize is the plaintext size of a stored object of sealedSize bytes
// (-1: no sealed object has that size).
func PlainSize(sealedSize int64) int64 {
	body := sealedSize - headerSize
	if body < chunkOverhead {
		return -1
	}
	n := (body + sealedChunk - 1) / sealedChunk
	return body - n*chunkOverhead
}

func chunkOffset(i int64) int64 { return headerSize + i*sealedChunk }

// DamagedError: a stored object failed authentication. It is never
// decrypted into anything a caller sees.
type DamagedError struct {
	Key    string // the plain key
	Stored string // where it is stored
	Chunk  int64
	Reason string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("hub object %s (stored as %s) is refused: chunk %d %s; it is damaged, truncated, swapped for another object or from another hub (run `editkit hub check --read-data`)", e.Key, e.Stored, e.Chunk, e.Reason)
}

// ErrDamaged matches every *DamagedError.
var ErrDamaged = errors.New("hub object failed authentication")

func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// The suites, as the first byte of a chunk names them.
const (
	suiteXChaCha20Poly1305 = 1
	suiteAES256GCM         = 2
)

type epochCipher struct {
	suites [3]cipher.AEAD // by suite
	siv    [32]byte
	// sivHasher is BLAKE3 keyed with siv, never written to: sealChunk
	// hashes with a copy.
	sivHasher *blake3.Hasher
	// nonceMAC is AES-256-GCM under a key of its own, used only as GMAC
	// (no plaintext, the chunk as additional data, one fixed nonce) to
	// digest a chunk for its nonce (see chunkDigest).
	nonceMAC cipher.AEAD
}

func (d *derived) cipherFor(epoch uint32) (*epochCipher, bool) {
	ek, ok := d.epochs[epoch]
	if !ok {
		return nil, false
	}
	return ek.cipher, true
}

// chunkAAD is the additional data of chunk i of the object named key.
func (d *derived) chunkAAD(dst []byte, suite byte, epoch uint32, key string, i int64, last bool) []byte {
	dst = append(dst[:0], d.hubID[:]...)
	dst = append(dst, suite)
	dst = binary.BigEndian.AppendUint32(dst, epoch)
	dst = binary.BigEndian.AppendUint64(dst, uint64(i))
	if last {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	return append(dst, key...)
}

// sealChunk appends chunk i of the object key, sealed with the current
// epoch, to dst.
func (d *derived) sealChunk(dst []byte, key string, i int64, last bool, plain []byte) []byte {
	ec, _ := d.cipherFor(d.current)
	var aadBuf [64]byte
	aad := d.chunkAAD(aadBuf[:0], d.suite, d.current, key, i, last)
	var digestBuf [32]byte
	var nonce [chacha20poly1305.NonceSizeX]byte
	h := *ec.sivHasher
	keyedWith(&h, nonce[:], aad, ec.chunkDigest(digestBuf[:0], d.suite, plain))
	dst = append(dst, d.suite)
	dst = binary.BigEndian.AppendUint32(dst, d.current)
	dst = append(dst, nonce[:]...)
	aead := ec.suites[d.suite]
	return aead.Seal(dst, nonce[:aead.NonceSize()], plain, aad)
}

// chunkDigest appends the digest of a chunk's plaintext that its nonce is
// a keyed hash of (with the chunk's additional data, which names the
// suite, the epoch, the object and the chunk's place in it). Why not a
// nonce from the object's name alone (a blob's name is the BLAKE3 of its
// content, hashed already)? A file that changes between being hashed and
// being uploaded would then put different bytes under one key and nonce,
// which gives away both plaintexts' XOR, and for GCM the key that
// authenticates every chunk of the epoch. So the nonce depends on the
// bytes actually sealed, which keeps the format's promises: the same
// bytes under the same name give the same nonce and ciphertext (a resumed
// upload sends what the interrupted one sent), different bytes a
// different nonce.
//
// Where the chunk is sealed with AES-256-GCM (the processor has AES and
// carry-less multiply), the digest is GMAC: GHASH of the chunk under a
// secret key of its own, masked, computed about twice as fast as BLAKE3
// here. GHASH is almost-XOR-universal: two different chunks (at most 4096
// blocks) collide with probability at most 2^-116 over the secret key,
// whatever their bytes, so someone who chooses the files cannot make two
// chunks share a nonce. The digest never leaves this function but through
// the keyed BLAKE3 (a PRF), so the nonces stored reveal nothing of the
// GHASH key; the one fixed GMAC nonce is safe for the same reason (reusing
// a GCM nonce exposes its key only to someone who sees the tags). The
// nonce is then as unique as with BLAKE3: 96 bits (all GCM uses) of a PRF
// of distinct inputs. Elsewhere (XChaCha20-Poly1305, where GHASH would be
// slow) it stays the chunk's plain BLAKE3. Readers do not care how a nonce
// was made: it is stored in the chunk.
func (ec *epochCipher) chunkDigest(dst []byte, suite byte, plain []byte) []byte {
	if suite == suiteAES256GCM {
		var fixedNonce [12]byte
		return ec.nonceMAC.Seal(dst, fixedNonce[:], nil, plain)
	}
	sum := hashing.SumBLAKE3(plain)
	return append(dst, sum[:]...)
}

// openChunk authenticates chunk i of the object key and decrypts it in
// place: the plaintext it returns is in sealed (which it overwrites).
func (d *derived) openChunk(key, stored string, i int64, last bool, sealed []byte) ([]byte, error) {
	if len(sealed) < chunkOverhead {
		return nil, &DamagedError{Key: key, Stored: stored, Chunk: i, Reason: "is cut short"}
	}
	suite, epoch := sealed[0], binary.BigEndian.Uint32(sealed[1:])
	if suite != suiteXChaCha20Poly1305 && suite != suiteAES256GCM {
		return nil, &DamagedError{Key: key, Stored: stored, Chunk: i, Reason: fmt.Sprintf("names cipher %d, which this editkit does not know", suite)}
	}
	ec, ok := d.cipherFor(epoch)
	if !ok {
		return nil, &DamagedError{Key: key, Stored: stored, Chunk: i, Reason: fmt.Sprintf("names key epoch %d, which this keyring does not hold", epoch)}
	}
	var aadBuf [64]byte
	aad := d.chunkAAD(aadBuf[:0], suite, epoch, key, i, last)
	aead := ec.suites[suite]
	body := sealed[nonceAt+chacha20poly1305.NonceSizeX:]
	out, err := aead.Open(body[:0], sealed[nonceAt:nonceAt+aead.NonceSize()], body, aad)
	if err != nil {
		return nil, &DamagedError{Key: key, Stored: stored, Chunk: i, Reason: "failed authentication"}
	}
	return out, nil
}

// sealedSource is what Put uploads: the plaintext source sealed on the fly,
// readable at any offset (parts of a multipart upload are read
// concurrently, and a retried or resumed one reads them again). Whole
// chunks a read covers are sealed straight into the caller's buffer, from
// plaintext read 16 chunks at a time, on every core (one object's upload
// is otherwise a single goroutine reading, sealing and writing in turn
// while the other core idles). A chunk a read covers only
// in part (an S3 part's size is no multiple of a sealed chunk; the folder
// backend asks ReadSize where to end) is sealed into edge and kept: the
// next read starts with the rest of it.
type sealedSource struct {
	d      *derived
	key    string
	src    backend.Source
	plain  int64
	length int64

	mu        sync.Mutex
	edgeIndex int64 // the chunk edge holds; -1: none
	edge      []byte
}

func (d *derived) sealSource(key string, src backend.Source) *sealedSource {
	p := src.Length()
	return &sealedSource{d: d, key: key, src: src, plain: p, length: SealedSize(p), edgeIndex: -1}
}

func (s *sealedSource) Length() int64 { return s.length }

// ReadSize (see backend.BlockSource) ends a read at a chunk boundary: the
// folder backend's 1 MiB reads would otherwise end inside a chunk, sealed
// alone into edge, one core idle meanwhile.
func (s *sealedSource) ReadSize(off int64, max int) int {
	end := off + int64(max)
	if end >= s.length || end < headerSize {
		return max
	}
	boundary := chunkOffset((end - headerSize) / sealedChunk)
	if boundary <= off {
		return max
	}
	return int(boundary - off)
}

// CostlyToRead: every read seals again (see backend.CostlySource).
func (s *sealedSource) CostlyToRead() {}

// sealedLen is the stored length of chunk i.
func (s *sealedSource) sealedLen(i int64) int64 {
	return min(sealedChunk, s.length-chunkOffset(i))
}

// copyEdge copies what p can hold of chunk i from byte skip of it on,
// sealing it first unless edge holds it already.
func (s *sealedSource) copyEdge(p []byte, i, skip int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.edgeIndex != i {
		if s.edge == nil {
			s.edge = make([]byte, sealedChunk)
		}
		s.edgeIndex = -1
		if _, err := s.sealRange(s.edge, i, i+1); err != nil {
			return 0, err
		}
		s.edgeIndex = i
	}
	return copy(p, s.edge[skip:s.sealedLen(i)]), nil
}

// sealWhole seals the count chunks from first on into p (whole, back to
// back from p[0]), on up to GOMAXPROCS goroutines, each a run of them; it
// returns how many bytes of p are sealed before the first chunk that
// failed.
func (s *sealedSource) sealWhole(p []byte, first, count int64) (int, error) {
	workers := min(int64(runtime.GOMAXPROCS(0)), count/minChunksPerWorker)
	if workers <= 1 {
		return s.sealRange(p, first, first+count)
	}
	type result struct {
		n   int
		err error
	}
	results := make([]result, workers)
	var wg sync.WaitGroup
	per := (count + workers - 1) / workers
	for w := range workers {
		lo, hi := first+w*per, min(first+count, first+(w+1)*per)
		at := chunkOffset(lo) - chunkOffset(first)
		run := func() {
			n, err := s.sealRange(p[at:], lo, hi)
			results[w] = result{int(at) + n, err}
		}
		if w == workers-1 {
			run()
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); run() }()
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			return r.n, r.err
		}
	}
	return len(p), nil
}

// minChunksPerWorker: below this many chunks a goroutine costs more than
// it saves.
const minChunksPerWorker = 4

// readBatch is how many chunks' plaintext sealRange reads with one call
// (a system call costs about as much as sealing a few KiB).
const readBatch = 16

var plainBufs = sync.Pool{New: func() any { return new([readBatch * chunkSize]byte) }}

// sealRange seals chunks lo…hi-1 into p, back to back.
func (s *sealedSource) sealRange(p []byte, lo, hi int64) (int, error) {
	buf := plainBufs.Get().(*[readBatch * chunkSize]byte)
	defer plainBufs.Put(buf)
	n := 0
	for i := lo; i < hi; {
		start, end := i*chunkSize, min(hi, i+readBatch)
		plain := buf[:min(s.plain, end*chunkSize)-start]
		if len(plain) > 0 {
			if m, err := s.src.ReadAt(plain, start); m != len(plain) {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return n, fmt.Errorf("read source at %d: %w (did it shrink during the upload?)", start, err)
			}
		}
		for ; i < end; i++ {
			from := i*chunkSize - start
			chunk := plain[from:min(int64(len(plain)), from+chunkSize)]
			s.d.sealChunk(p[n:n], s.key, i, i*chunkSize+int64(len(chunk)) >= s.plain, chunk)
			n += int(s.sealedLen(i))
		}
	}
	return n, nil
}

func (s *sealedSource) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for n < len(p) && off < s.length {
		if off < headerSize {
			c := copy(p[n:], header[off:])
			n += c
			off += int64(c)
			continue
		}
		i := (off - headerSize) / sealedChunk
		skip := off - chunkOffset(i)
		// The whole chunks from here that p holds.
		whole := int64(0)
		if skip == 0 {
			for j := i; j*chunkSize < max(s.plain, 1) && chunkOffset(j)+s.sealedLen(j) <= off+int64(len(p)-n); j++ {
				whole++
			}
		}
		var c int
		var err error
		if whole > 0 {
			size := chunkOffset(i+whole-1) + s.sealedLen(i+whole-1) - off
			c, err = s.sealWhole(p[n:n+int(size)], i, whole)
		} else {
			c, err = s.copyEdge(p[n:], i, skip)
		}
		n += c
		off += int64(c)
		if err != nil {
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// openReader streams the plaintext of a range of a stored object, handing
// out only bytes of chunks that passed authentication. A batch of chunks
// (readBatch of them, about 1 MiB) is read with few calls (a system call
// per 64 KiB chunk cost restore more than the decryption), decrypted in
// place and its plaintext moved together to the start of a page, so that a
// caller writes a batch with one call. It reads, decrypts and hands out in
// turn, on the caller's goroutine: restore and pull run several downloads
// at once, which keeps the cores busy, and a goroutine per reader
// decrypting ahead cost a quarter more CPU time (the hand-off of every
// batch between threads) than it saved.
type openReader struct {
	s       chunkStream
	b       *batch // nil once closed
	pending []byte // what is left of its plaintext
	err     error
}

// batch is a reader's one buffer: the stored object is read into it and
// decrypted where it lies, half the memory of a buffer to read into and
// another to decrypt into (restore holds one per download; its peak
// resident memory went from about 130 to 115 MB, CPU time the same).
//
// Its bytes keep the place in a page that they have in the object (a read
// of the page cache into memory at another place in a page cost Linux
// nearly twice the system time), and a batch's plaintext starts a page
// (so do the writes of it: a write that starts inside a page cost half as
// much system time again).
type batch struct {
	buf  [batchBuf]byte
	want []byte // what the range wants of the plaintext in buf
}

// alignedRead: no read of the stored object crosses a multiple of it, so
// reads of whole objects are of whole pages (but a batch's first and last).
const alignedRead = 1 << 20

// batchBuf holds a batch of sealed chunks and the byte after them (which
// tells whether the last is the object's last) from anywhere in a page.
const batchBuf = (4095 + readBatch*sealedChunk + 1 + 4095) &^ 4095

// Read hands out as much as p holds of the chunks decrypted already (a
// caller with a large buffer gets a batch with one call), reading the
// next batch only when it has nothing yet.
func (r *openReader) Read(p []byte) (int, error) {
	if r.b == nil {
		return 0, os.ErrClosed
	}
	n := 0
	for n < len(p) {
		if len(r.pending) > 0 {
			c := copy(p[n:], r.pending)
			r.pending = r.pending[c:]
			n += c
			continue
		}
		if n > 0 {
			return n, nil
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// WriteTo writes the rest of the plaintext to w a batch at a time,
// straight from the buffer it was decrypted into (a Read copies it first).
func (r *openReader) WriteTo(w io.Writer) (int64, error) {
	var written int64
	for {
		if len(r.pending) > 0 {
			n, err := w.Write(r.pending)
			r.pending = r.pending[n:]
			written += int64(n)
			if err != nil {
				return written, err
			}
			continue
		}
		if err := r.next(); err == io.EOF {
			return written, nil
		} else if err != nil {
			return written, err
		}
	}
}

// WritesFromItsBuffers: see backend.BufferedReader.
func (r *openReader) WritesFromItsBuffers() {}

// next makes pending the next batch's plaintext; it returns io.EOF once
// the range has ended, and the error of a batch that failed once the
// chunks before the failure were handed out.
func (r *openReader) next() error {
	switch {
	case r.err != nil:
		return r.err
	case r.s.done || r.s.remaining == 0:
		return io.EOF
	}
	r.err = r.s.fill(r.b)
	r.pending = r.b.want
	return nil
}

func (r *openReader) Close() error {
	if r.b == nil {
		return nil
	}
	err := r.s.rc.Close()
	putBatch(r.b)
	r.b, r.pending, r.err = nil, nil, os.ErrClosed
	return err
}

// batches holds batch buffers: a restore opens hundreds of readers.
var batches = sync.Pool{New: func() any { return new(batch) }}

func getBatch() *batch { return batches.Get().(*batch) }

func putBatch(b *batch) {
	if b != nil {
		b.want = nil
		batches.Put(b)
	}
}

// chunkStream reads the sealed chunks of a range of an object from rc.
type chunkStream struct {
	d           *derived
	key, stored string
	rc          io.ReadCloser
	next        int64 // index of the next chunk
	skip        int64 // plaintext bytes to drop from the next chunk
	remaining   int64 // plaintext bytes still wanted; -1: to the end
	done        bool  // the last chunk was read
	// batch.buf[lo:hi] is what was read of the object and not yet
	// decrypted; at is where in the object the next read starts.
	lo, hi  int
	at      int64
	readErr error // what rc said after its last bytes
}

// fill authenticates up to readBatch chunks, each once the bytes after it
// are read (or the object ended), decrypts them in place, moves their
// plaintext together to the page the first began in, and sets b.want to
// what the range wants of it. A chunk that fails, or a read that fails,
// ends b.want: it holds the chunks before it, and the error is returned.
// (Only the first chunk of a range is cut at its start, and only its last
// at its end, so what it wants of a batch is one span.)
func (s *chunkStream) fill(b *batch) error {
	readErr := s.read(b)
	base := s.lo &^ 4095
	b.want = b.buf[base:base]
	for k := 0; k < readBatch && s.remaining != 0; k++ {
		// A chunk is the object's last if nothing follows it.
		rest := s.hi - s.lo
		if readErr != nil && rest <= sealedChunk {
			return fmt.Errorf("reading hub object %s: %w", s.key, readErr)
		}
		last := rest <= sealedChunk
		size := min(rest, sealedChunk)
		plain, err := s.open(b.buf[s.lo:s.lo+size], last)
		if err != nil {
			return err
		}
		s.lo += size
		// Behind it, before the chunks not decrypted yet: each chunk's
		// plaintext is chunkOverhead shorter than it.
		end := base + len(b.want)
		b.want = b.buf[base : end+copy(b.buf[end:], plain)]
		if last {
			s.done = true
			return nil
		}
	}
	return nil
}

// read moves what is left undecrypted to the start of b.buf, at the place
// in a page it has in the object, then reads until b.buf[lo:hi] holds a
// batch of sealed chunks and the byte after, or the object has ended (then
// it holds the rest); it returns the error of a read that failed other
// than at the end. What is left is a byte or two but where a read came
// short: reads end where the batch does.
func (s *chunkStream) read(b *batch) error {
	rest := s.hi - s.lo
	at := int(s.at-int64(rest)) % 4096
	copy(b.buf[at:], b.buf[s.lo:s.hi])
	s.lo, s.hi = at, at+rest
	need := s.lo + readBatch*sealedChunk + 1
	for s.hi < need && s.readErr == nil {
		end := min(need, s.hi+alignedRead-int(s.at%alignedRead))
		m, err := s.rc.Read(b.buf[s.hi:end])
		s.hi += m
		s.at += int64(m)
		s.readErr = err
	}
	if s.readErr == io.EOF || s.hi >= need {
		return nil
	}
	return s.readErr
}

// open authenticates the next chunk, decrypts it where it lies and
// returns the part of its plaintext the range wants.
func (s *chunkStream) open(sealed []byte, last bool) ([]byte, error) {
	plain, err := s.d.openChunk(s.key, s.stored, s.next, last, sealed)
	if err != nil {
		return nil, err
	}
	s.next++
	if int64(len(plain)) < s.skip {
		return nil, fmt.Errorf("hub object %s: %w", s.key, backend.ErrInvalidRange)
	}
	plain = plain[s.skip:]
	s.skip = 0
	if s.remaining >= 0 {
		plain = plain[:min(int64(len(plain)), s.remaining)]
		s.remaining -= int64(len(plain))
	}
	return plain, nil
}
