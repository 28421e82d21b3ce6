// Package contenthub is the hub: it owns what editkit keeps there and how
// it is laid out, and is the only package that knows a key or a prefix:
// content-addressed blobs (a file's bytes under its BLAKE3; small ones
// many to a pack, with an index: pack.go, index.go, blobwriter.go,
// readblobs.go, compact.go), backup
// snapshots, the append-only event log, and the media catalog. Every object
// is immutable and every key unique, so several people can write at once
// without locks and nothing is ever overwritten. The bytes move through a
// backend.Backend (S3 or a folder, package contenthub/backend) with
// retrying, rate limiting and logging wrapped around it; callers ask the hub
// for what they want (a blob, a snapshot, the events, a checkpoint), never
// for a key.
//
// Layout:
//
//	blobs/ab/abcdef…             a file's content, the key its BLAKE3 (hex): PackThreshold and up, and small ones from before packs
//	packs/ab/abcdef…             many small blobs back to back, with a header listing them; the key is the pack's BLAKE3 (pack.go)
//	index/abcdef….idx            which pack holds which small blob; immutable, one per batch of packs, merged by prune (index.go)
//	snapshots/SET/ID.json        a backup snapshot's summary (written last: its presence means complete)
//	snapshots/SET/ID.entries.gz  the snapshot's file list, gzipped JSON lines in tree order
//	events/YYYY/MM/DD/ID.jsonl   a batch of events (one command's changes), never rewritten
//	catalog/checkpoints/ID.json.gz  the catalog folded through batch ID (checkpoints.go; its content is package catalog's)
//	prune/pending.json           blobs the last prune found unreferenced, deleted by a later one
//	prune/deleting/ID.json       a prune's announced deletions, while it deletes (see gc.go)
//	prune/lease/GEN.json         the compaction lease: one prune, hub pack or repair rewrites packs at a time (lease.go)
//	repair/ID.json               blobs `hub check --repair` removed as damaged
//
// How prune deletes blobs while others back up and push, without a lock,
// is in gc.go.
package contenthub

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/editkit/editkit/internal/contenthub/backend"
)

// Hub is an open hub.
type Hub struct {
	backend  backend.Backend // the hub's objects: storage, or storage under the hub's encryption
	storage  backend.Backend // the storage itself (encrypt.go)
	location string
	ix       *indexState // the pack index, loaded on first use
	clock    func() time.Time
}

// Config says where the hub is and how to reach it.
type Config struct {
	// URL is s3://BUCKET/PREFIX, a folder path, or file:///path.
	URL        string
	S3Endpoint string // optional; else the AWS SDK's AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL
	// BytesPerSecond caps transfers (0: no cap).
	BytesPerSecond int64
	// Retry gives up on a transient failure after this long (0: 15 minutes,
	// long enough to ride out a dropped home connection at night).
	RetryFor time.Duration
	// OnRetry, if set, hears of each retry before its wait, so that the
	// command can tell the user (this package prints nothing).
	OnRetry func(backend.RetryNote)
	Logger  *slog.Logger // nil: no logging
	// Identities gives the identities an encrypted hub is opened with; it
	// is called only for a hub that has a keyring (encrypt.go).
	Identities func() ([]age.Identity, error)
	// KeyringTrust is the folder where this person's computer remembers
	// the keyring generation it accepted ("": nowhere; see hubkey.Load).
	KeyringTrust string
	// Encrypting opens a hub whose encryption has not finished (for
	// EncryptInPlace); others are told to wait.
	Encrypting bool
	// Clock is the command's run clock, which names the event log's new
	// batches by when they arrive (nil: time.Now): a command that lists
	// the log by its run clock (EventKeys) then finds its own batches,
	// on a test's clock far ahead too.
	Clock func() time.Time
}

// Open connects to the hub described by c.
func Open(ctx context.Context, c Config) (*Hub, error) {
	if c.URL == "" {
		return nil, errors.New("no hub configured: give --hub, set EDITKIT_HUB, or set hub in the settings file (editkit config init)")
	}
	var b backend.Backend
	var err error
	switch {
	case strings.HasPrefix(c.URL, "s3://"):
		u, perr := url.Parse(c.URL)
		if perr != nil || u.Host == "" {
			return nil, fmt.Errorf("hub %q: want s3://BUCKET/PREFIX", c.URL)
		}
		b, err = backend.OpenS3(ctx, backend.S3Config{
			Bucket:   u.Host,
			Prefix:   strings.Trim(u.Path, "/"),
			Endpoint: c.S3Endpoint,
		})
	case strings.HasPrefix(c.URL, "file://"):
		u, perr := url.Parse(c.URL)
		if perr != nil {
			return nil, fmt.Errorf("hub %q: %w", c.URL, perr)
		}
		b, err = openLocal(u.Path)
	case strings.Contains(c.URL, "://"):
		return nil, fmt.Errorf("hub %q: want s3://BUCKET/PREFIX, a folder path or file:///path", c.URL)
	default:
		b, err = openLocal(c.URL)
	}
	if err != nil {
		return nil, err
	}
	if c.Logger != nil {
		b = backend.WithLogging(b, c.Logger)
	}
	retry := c.RetryFor
	if retry <= 0 {
		retry = 15 * time.Minute
	}
	b = backend.WithRetry(b, backend.RetryPolicy{MaxElapsed: retry, Notify: c.OnRetry})
	if c.BytesPerSecond > 0 {
		b = backend.WithBandwidthLimit(b, c.BytesPerSecond)
	}
	objects, err := unlock(ctx, b, c)
	if err != nil {
		b.Close()
		return nil, err
	}
	h := New(objects)
	h.storage, h.clock = b, c.Clock
	return h, nil
}

// now is the time by the hub's clock (see Config.Clock).
func (h *Hub) now() time.Time {
	if h.clock == nil {
		return time.Now()
	}
	return h.clock()
}

func openLocal(dir string) (backend.Backend, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("hub folder %s does not exist: if it is on a NAS share, mount the share; to start a new hub there, run `editkit hub init %s`", abs, abs)
	}
	return backend.OpenLocal(abs)
}

// New wraps a backend (tests, or callers that built their own).
func New(b backend.Backend) *Hub {
	return &Hub{backend: b, storage: b, location: b.Location(), ix: &indexState{}}
}

// Location names the hub for messages.
func (h *Hub) Location() string { return h.location }

// Close releases the hub.
func (h *Hub) Close() error { return h.backend.Close() }

const blobsPrefix = "blobs/"

// BlobKey is where the blob with the given BLAKE3 (hex) lives; callers use
// it only to name a blob to the user.
func BlobKey(b3 string) string { return blobsPrefix + b3[:2] + "/" + b3 }

// blobOf is the BLAKE3 of the blob stored under key, "" if key holds no
// blob.
func blobOf(key string) string {
	b3 := key[strings.LastIndexByte(key, '/')+1:]
	if !validB3(b3) || key != BlobKey(b3) {
		return ""
	}
	return b3
}

// IsBlobKey reports whether key (relative to the hub) holds a blob, for
// tools that look at a hub's storage from outside (benchmarks).
func IsBlobKey(key string) bool { return blobOf(key) != "" }

// IsPackKey reports whether key (relative to the hub) holds a pack of
// small blobs, for the same tools.
func IsPackKey(key string) bool { _, ok := packOf(key); return ok }

// HasBlob reports whether the hub holds a blob: packed (the index, loaded
// once per command, says so) or as an object of its own.
func (h *Hub) HasBlob(ctx context.Context, b3 string) (bool, error) {
	if at, err := h.lookupPacked(ctx, b3); err != nil || len(at) > 0 {
		return len(at) > 0, err
	}
	_, err := h.backend.Stat(ctx, BlobKey(b3))
	if errors.Is(err, backend.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// BlobStored is HasBlob asking the storage rather than trusting the
// index: each pack the index puts the blob in is looked up until one is
// there. Backups call it, after ReloadIndex, for blobs a prune may have
// just removed.
func (h *Hub) BlobStored(ctx context.Context, b3 string) (bool, error) {
	at, err := h.lookupPacked(ctx, b3)
	if err != nil {
		return false, err
	}
	for _, p := range at {
		_, err := h.backend.Stat(ctx, p.pack.key())
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, backend.ErrNotFound) {
			return false, err
		}
	}
	_, err = h.backend.Stat(ctx, BlobKey(b3))
	if errors.Is(err, backend.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// PutBlob uploads a file as the blob b3, an object of its own, unless the
// hub has it. Interrupted uploads of large files resume on the next call.
// Commands upload through a BlobWriter, which packs small files and calls
// this for the others.
func (h *Hub) PutBlob(ctx context.Context, b3, path string) (uploaded bool, err error) {
	return h.PutBlobMetered(ctx, b3, path, nil)
}

// PutBlobMetered is PutBlob telling stored (unless nil) of each chunk of
// the file as it is sent, for progress.
func (h *Hub) PutBlobMetered(ctx context.Context, b3, path string, stored func(n int64)) (uploaded bool, err error) {
	if ok, err := h.HasBlob(ctx, b3); err != nil || ok {
		return false, err
	}
	src, err := backend.NewFileSource(path)
	if err != nil {
		return false, err
	}
	defer src.Close()
	opts := backend.PutOptions{IfNotExists: true}
	if stored != nil {
		opts.Meter = func(_ context.Context, n int) error { stored(int64(n)); return nil }
	}
	err = h.backend.Put(ctx, BlobKey(b3), src, opts)
	if errors.Is(err, backend.ErrExists) {
		return false, nil // someone else uploaded the same content meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("upload %s: %w", path, err)
	}
	return true, nil
}

// OpenBlob reads a blob from offset on (0: all of it; more: the rest of an
// interrupted download); a packed blob is a range of its pack. The bytes
// are not checked against the blob's hash here (callers hash what they
// write); ReadBlobs checks them.
func (h *Hub) OpenBlob(ctx context.Context, b3 string, offset int64) (io.ReadCloser, error) {
	for attempt := 0; ; attempt++ {
		at, err := h.lookupPacked(ctx, b3)
		if err != nil {
			return nil, err
		}
		if len(at) == 0 {
			return h.backend.Get(ctx, BlobKey(b3), offset, -1)
		}
		// The first place may be a pack an index still names after it is
		// gone: try the others before giving up.
		for _, p := range at {
			e := p.e
			if offset > int64(e.length) {
				return nil, fmt.Errorf("blob %s: %w", b3, backend.ErrInvalidRange)
			}
			if offset == int64(e.length) {
				return io.NopCloser(strings.NewReader("")), nil
			}
			rc, err := h.backend.Get(ctx, p.pack.key(), int64(e.off)+offset, int64(e.length)-offset)
			if !errors.Is(err, backend.ErrNotFound) {
				return rc, err
			}
		}
		if attempt > 0 {
			// Named only by packs that are gone: perhaps stored on its own.
			rc, err := h.backend.Get(ctx, BlobKey(b3), offset, -1)
			if errors.Is(err, backend.ErrNotFound) {
				return nil, fmt.Errorf("blob %s: the index names only packs that are gone (%s…); run `editkit hub check --repair`: %w", b3, at[0].pack.key(), err)
			}
			return rc, err
		}
		// Repacked by a prune since the index was read.
		if err := h.ReloadIndex(ctx); err != nil {
			return nil, err
		}
	}
}

// DeleteBlob removes a blob. Only prune, hub check --repair and a command
// taking back a blob it uploaded itself (see gc.go) delete blobs.
func (h *Hub) DeleteBlob(ctx context.Context, b3 string) error {
	return h.backend.Delete(ctx, BlobKey(b3))
}

// BlobInfo describes a blob in the hub.
type BlobInfo struct {
	B3       string // BLAKE3, hex
	Size     int64
	Modified time.Time // when it was uploaded (its pack, for a packed blob)
	Packed   bool      // in a pack rather than an object of its own
}

// Blobs lists the hub's blobs: those of its own objects (objects under
// blobs/ whose name is not a BLAKE3 are not blobs and are skipped), then
// the packed ones whose pack is there. A blob both loose and packed is
// listed twice.
func (h *Hub) Blobs(ctx context.Context) iter.Seq2[BlobInfo, error] {
	return func(yield func(BlobInfo, error) bool) {
		for oi, err := range h.backend.List(ctx, blobsPrefix) {
			if err != nil {
				yield(BlobInfo{}, fmt.Errorf("listing the blobs: %w", err))
				return
			}
			b3 := blobOf(oi.Key)
			if b3 == "" {
				continue
			}
			if !yield(BlobInfo{B3: b3, Size: oi.Size, Modified: oi.Modified}, nil) {
				return
			}
		}
		if err := h.ReloadIndex(ctx); err != nil {
			yield(BlobInfo{}, err)
			return
		}
		packs, err := h.listPacks(ctx)
		if err != nil {
			yield(BlobInfo{}, err)
			return
		}
		x, _ := h.index(ctx)
		var last [32]byte
		for i, e := range x.sorted {
			pi, ok := packs[x.packs[e.pack]]
			if !ok || (i > 0 && e.b3 == last) {
				continue
			}
			last = e.b3
			if !yield(BlobInfo{B3: hex.EncodeToString(e.b3[:]), Size: int64(e.length), Modified: pi.Modified, Packed: true}, nil) {
				return
			}
		}
	}
}

// listPacks lists the packs in the hub.
func (h *Hub) listPacks(ctx context.Context) (map[packID]backend.ObjectInfo, error) {
	out := map[packID]backend.ObjectInfo{}
	for oi, err := range h.backend.List(ctx, packsPrefix) {
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", packsPrefix, err)
		}
		if id, ok := packOf(oi.Key); ok {
			out[id] = oi
		}
	}
	return out, nil
}

// AbortUploads discards uploads interrupted more than olderThan ago (S3
// multipart uploads, the folder backend's partial files); a storage that
// keeps none reports errors.ErrUnsupported.
func (h *Hub) AbortUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	return backend.AbortUploads(ctx, h.backend, olderThan)
}
