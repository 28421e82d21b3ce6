package contenthub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/zeebo/blake3"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hubcrypt"
	"github.com/editkit/editkit/internal/hubkey"
)

// An encrypted hub has a keyring under keys/ (package hubkey); every other
// object goes through hubcrypt.Wrap, sealed and under a keyed name, so
// nothing else in this package knows whether the hub is encrypted.

// sealedLayout tells hubcrypt which keys carry a content hash or a set
// name, to be stored under keyed names.
func sealedLayout() hubcrypt.Layout {
	return hubcrypt.Layout{
		Sharded: []string{blobsPrefix, packsPrefix},
		Flat:    map[string]string{indexPrefix: ".idx"},
		Named:   []string{snapshotsPrefix},
	}
}

// NewEncrypted is New for an encrypted hub whose keys the caller holds
// (tests, benchmarks).
func NewEncrypted(b backend.Backend, keys *hubkey.Keys) (*Hub, error) {
	enc, err := hubcrypt.Wrap(b, keys, sealedLayout())
	if err != nil {
		return nil, err
	}
	h := New(enc)
	h.storage = b
	return h, nil
}

// StoredBlobKey is the key the storage holds the blob b3 under: BlobKey,
// or its keyed name in an encrypted hub (for tests and tools that look at
// the storage from outside).
func (h *Hub) StoredBlobKey(b3 string) string {
	if s, ok := h.backend.(*hubcrypt.Store); ok {
		return s.StoredKey(BlobKey(b3))
	}
	return BlobKey(b3)
}

// encryptingKey marks a hub whose plain objects are being encrypted
// (BeginEncryption to the end of EncryptInPlace). It is stored plain
// beside the keyring (it holds a time only; the keyring's generations
// have other names) and written before it, so that no moment shows a
// keyring beside plain objects without it.
const encryptingKey = hubkey.Prefix + "encrypting.json"

// ErrEncrypting: the hub's encryption was started and has not finished.
var ErrEncrypting = errors.New("the hub's encryption has not finished")

// unlock returns b as the hub's objects are to be read and written: b
// itself for a plain hub, b wrapped in the hub's encryption for one with a
// keyring, which one of the identities must open (else hubkey's
// *NoKeyError).
func unlock(ctx context.Context, b backend.Backend, c Config) (backend.Backend, error) {
	if !c.Encrypting {
		_, err := b.Stat(ctx, encryptingKey)
		if err == nil {
			return nil, fmt.Errorf("the hub %s: %w: its objects are being encrypted; wait for the `editkit hub init --encrypt` that does it to end, or run it again to finish", b.Location(), ErrEncrypting)
		}
		if !errors.Is(err, backend.ErrNotFound) {
			return nil, err
		}
	}
	encrypted := false
	for _, err := range b.List(ctx, hubkey.Prefix) {
		if err != nil {
			return nil, fmt.Errorf("looking for the hub's keyring: %w", err)
		}
		encrypted = true
		break
	}
	if !encrypted {
		return b, nil
	}
	var ids []age.Identity
	if c.Identities != nil {
		var err error
		if ids, err = c.Identities(); err != nil {
			return nil, err
		}
	}
	keys, err := hubkey.Load(ctx, b, ids, c.KeyringTrust)
	if errors.Is(err, hubkey.ErrNotEncrypted) {
		return b, nil
	}
	if err != nil {
		return nil, err
	}
	return hubcrypt.Wrap(b, keys, sealedLayout())
}

// asDamaged makes an object the hub's encryption refused (a flipped byte,
// a truncation, a swapped object, one from another hub) damaged like bytes
// that do not match their hash: hub check reports it, --repair removes it.
func asDamaged(err error) error {
	if errors.Is(err, hubcrypt.ErrDamaged) && !errors.Is(err, ErrDamaged) {
		return &sealDamage{err}
	}
	return err
}

type sealDamage struct{ err error }

func (e *sealDamage) Error() string   { return e.err.Error() }
func (e *sealDamage) Unwrap() []error { return []error{e.err, ErrDamaged} }

// Storage is the hub's storage under its encryption, for package hubkey
// (the keyring under keys/ is the one thing stored as it is).
func (h *Hub) Storage() backend.Backend { return h.storage }

// Encrypted reports whether the hub's objects are sealed.
func (h *Hub) Encrypted() bool { return h.storage != h.backend }

// EncryptionUnfinished reports whether an encryption of the hub's objects
// was begun (BeginEncryption) and has not finished.
func (h *Hub) EncryptionUnfinished(ctx context.Context) (bool, error) {
	_, err := h.storage.Stat(ctx, encryptingKey)
	if errors.Is(err, backend.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// BeginEncryption is the first step of encrypting a hub that holds
// objects, before its keyring is written: from now until EncryptInPlace
// ends, others opening the hub are told to wait (ErrEncrypting). It
// reports whether the hub holds objects (false: nothing to encrypt, and
// nothing was marked).
//
// A hub that has a keyring already is left alone (false).
func BeginEncryption(ctx context.Context, h *Hub) (holdsObjects bool, err error) {
	for _, err := range h.storage.List(ctx, hubkey.Prefix) {
		if err != nil {
			return false, fmt.Errorf("looking for the keyring of %s: %w", h.location, err)
		}
		return false, nil
	}
	for oi, err := range h.storage.List(ctx, "") {
		if err != nil {
			return false, fmt.Errorf("listing %s: %w", h.location, err)
		}
		if !strings.HasPrefix(oi.Key, hubkey.Prefix) {
			holdsObjects = true
			break
		}
	}
	if !holdsObjects {
		return false, nil
	}
	marker := fmt.Appendf(nil, `{"started":%q}`, time.Now().UTC().Format(time.RFC3339))
	if err := h.storage.Put(ctx, encryptingKey, backend.BytesSource(marker), backend.PutOptions{}); err != nil {
		return false, fmt.Errorf("marking %s as being encrypted: %w", h.location, err)
	}
	return true, nil
}

// EncryptProgress is what EncryptInPlace reports after each object.
type EncryptProgress struct {
	Objects, Done int // objects found when it started, and done so far (sealed now, or already)
	Bytes         int64
	// Written is set on a report between an object's sealed copy being
	// written and checked and its plain one being removed (tests stop
	// there).
	Written bool
}

// EncryptInPlace seals every plain object of h with keys (BeginEncryption
// first, then the keyring that holds keys) and removes the plain ones;
// from then on h reads and writes the hub encrypted. It can be stopped at any point (kill -9
// included) and run again: an object is sealed under its new name, read
// back and checked, and only then is the plain one removed; objects whose
// name stays (events, checkpoints, prune records) are replaced at once,
// which both stores do atomically. While it runs, others opening the hub
// are told to wait (ErrEncrypting); run it when nobody is writing to the
// hub: a plain object written meanwhile is sealed by the next run.
func EncryptInPlace(ctx context.Context, h *Hub, keys *hubkey.Keys, progress func(EncryptProgress)) error {
	raw := h.storage
	encB, err := hubcrypt.Wrap(raw, keys, sealedLayout())
	if err != nil {
		return err
	}
	enc := New(encB)
	var todo []backend.ObjectInfo
	for oi, err := range raw.List(ctx, "") {
		if err != nil {
			return fmt.Errorf("listing %s: %w", h.location, err)
		}
		if !strings.HasPrefix(oi.Key, hubkey.Prefix) {
			todo = append(todo, oi)
		}
	}
	p := EncryptProgress{Objects: len(todo)}
	for _, oi := range todo {
		written := func() {
			if progress != nil {
				progress(EncryptProgress{Objects: p.Objects, Done: p.Done, Bytes: p.Bytes, Written: true})
			}
		}
		sealed, err := sealObject(ctx, raw, encB, oi, written)
		if err != nil {
			return err
		}
		if sealed {
			p.Bytes += oi.Size
		}
		p.Done++
		if progress != nil {
			progress(p)
		}
	}
	// The folders the plain names made (snapshots/SET/) go with them.
	for _, kind := range []string{snapshotsPrefix, blobsPrefix, packsPrefix} {
		if err := backend.PruneEmptyFolders(ctx, raw, kind); err != nil {
			return err
		}
	}
	if err := raw.Delete(ctx, encryptingKey); err != nil {
		return err
	}
	h.backend, h.ix = enc.backend, enc.ix
	return nil
}

// sealObject seals the object stored as oi, unless it is sealed already:
// under its new name for a kind whose names change (then it is read back
// and compared before the plain one is removed), in its place for the
// others (copied first: the source must not be the object being
// replaced).
func sealObject(ctx context.Context, raw backend.Backend, enc *hubcrypt.Store, oi backend.ObjectInfo, written func()) (sealed bool, err error) {
	key := oi.Key
	plain, ok := enc.PlainKey(key)
	if ok && plain != key {
		return false, nil // already under its sealed name
	}
	var src backend.Source
	if !ok {
		src = &objectSource{ctx: ctx, b: raw, key: key, size: oi.Size}
	} else {
		rc, err := enc.Get(ctx, key, 0, 1)
		if err == nil {
			rc.Close()
			return false, nil // sealed in its place
		}
		if !errors.Is(err, hubcrypt.ErrDamaged) {
			return false, err
		}
		copySrc, done, err := copyObject(ctx, raw, oi)
		if err != nil {
			return false, err
		}
		defer done()
		src = copySrc
	}
	sum, err := hashObject(ctx, raw, key)
	if err != nil {
		return false, err
	}
	if err := enc.Put(ctx, key, src, backend.PutOptions{}); err != nil {
		return false, fmt.Errorf("encrypting %s: %w", key, err)
	}
	back, err := hashObject(ctx, enc, key)
	if err != nil {
		return false, fmt.Errorf("reading back %s: %w", key, err)
	}
	if back != sum {
		return false, fmt.Errorf("encrypting %s: what was stored does not read back the same; the plain object is kept, run it again", key)
	}
	written()
	if !ok {
		if err := raw.Delete(ctx, key); err != nil {
			return false, fmt.Errorf("removing the plain %s: %w", key, err)
		}
	}
	return true, nil
}

// inMemoryMax is the largest object copyObject holds in memory; what keeps
// its name is mostly small (event batches, records), but a catalog
// checkpoint may not be.
const inMemoryMax = 8 << 20

// copyObject copies the object oi of b: into memory if it is small, else
// into a temporary file (removed by done), so memory stays bounded
// whatever the hub holds.
func copyObject(ctx context.Context, b backend.Backend, oi backend.ObjectInfo) (src backend.Source, done func(), err error) {
	rc, err := b.Get(ctx, oi.Key, 0, -1)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", oi.Key, err)
	}
	defer rc.Close()
	if oi.Size <= inMemoryMax {
		data, err := readAllSized(rc, oi.Size)
		if err == nil && int64(len(data)) != oi.Size {
			err = fmt.Errorf("%d bytes, not the %d it was listed with: did it change? run it again", len(data), oi.Size)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", oi.Key, err)
		}
		return backend.BytesSource(data), func() {}, nil
	}
	f, err := os.CreateTemp("", "editkit-encrypt-*")
	if err != nil {
		return nil, nil, fmt.Errorf("a temporary copy of %s: %w (set TMPDIR to a folder with room for it)", oi.Key, err)
	}
	remove := func() { f.Close(); os.Remove(f.Name()) }
	if _, err := io.Copy(f, rc); err != nil {
		remove()
		return nil, nil, fmt.Errorf("copying %s to %s: %w", oi.Key, f.Name(), err)
	}
	fileSrc, err := backend.NewFileSource(f.Name())
	if err != nil {
		remove()
		return nil, nil, err
	}
	return fileSrc, func() { fileSrc.Close(); remove() }, nil
}

func hashObject(ctx context.Context, b backend.Backend, key string) ([32]byte, error) {
	rc, err := b.Get(ctx, key, 0, -1)
	if err != nil {
		return [32]byte{}, fmt.Errorf("reading %s: %w", key, err)
	}
	defer rc.Close()
	h := blake3.New()
	if _, err := io.Copy(h, rc); err != nil {
		return [32]byte{}, fmt.Errorf("reading %s: %w", key, err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// objectSource reads an object of b as a Put's source.
type objectSource struct {
	ctx  context.Context
	b    backend.Backend
	key  string
	size int64
}

func (s *objectSource) Length() int64 { return s.size }

func (s *objectSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	rc, err := s.b.Get(s.ctx, s.key, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}
