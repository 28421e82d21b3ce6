package hubcrypt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hubkey"
)

// Wrap returns a backend that seals every object it stores in b and names
// it as names.go says, and opens and checks every object it reads; keys/
// (the keyring) passes through untouched; l names the keys whose names
// are changed. Callers see plain keys, sizes and bytes.
func Wrap(b backend.Backend, k *Keys, l Layout) (*Store, error) {
	d, err := derive(k, l)
	if err != nil {
		return nil, err
	}
	return &Store{b: b, d: d}, nil
}

// Store is a backend.Backend sealing every object (see Wrap).
type Store struct {
	b backend.Backend
	d *derived
}

// StoredKey is the name the object with the plain key is stored under.
func (s *Store) StoredKey(key string) string {
	if passthrough(key) {
		return key
	}
	return s.d.storedKey(key)
}

// PlainKey is the plain key of the object stored under stored; ok is false
// for the name of a plain object that a sealed one would be stored under
// another name (a plain hub's blobs/ab/<hex>, snapshots/SET/…).
func (s *Store) PlainKey(stored string) (key string, ok bool) {
	if passthrough(stored) {
		return stored, true
	}
	return s.d.plainKey(stored)
}

// Unwrap gives the storage underneath (for tools that look at it).
func (s *Store) Unwrap() backend.Backend { return s.b }

func (s *Store) Location() string { return s.b.Location() }
func (s *Store) Close() error     { return s.b.Close() }

func passthrough(key string) bool { return strings.HasPrefix(key, hubkey.Prefix) }

func (s *Store) Put(ctx context.Context, key string, src backend.Source, opts backend.PutOptions) error {
	if err := backend.ValidateKey(key); err != nil {
		return err
	}
	if passthrough(key) {
		return s.b.Put(ctx, key, src, opts)
	}
	return s.b.Put(ctx, s.d.storedKey(key), s.d.sealSource(key, src), opts)
}

func (s *Store) Stat(ctx context.Context, key string) (backend.ObjectInfo, error) {
	if err := backend.ValidateKey(key); err != nil {
		return backend.ObjectInfo{}, err
	}
	if passthrough(key) {
		return s.b.Stat(ctx, key)
	}
	oi, err := s.b.Stat(ctx, s.d.storedKey(key))
	if err != nil {
		return oi, err
	}
	oi.Key = key
	oi.Size = max(0, PlainSize(oi.Size))
	return oi, nil
}

func (s *Store) Delete(ctx context.Context, key string) error {
	if err := backend.ValidateKey(key); err != nil {
		return err
	}
	if passthrough(key) {
		return s.b.Delete(ctx, key)
	}
	return s.b.Delete(ctx, s.d.storedKey(key))
}

func (s *Store) AbortUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	return backend.AbortUploads(ctx, s.b, olderThan)
}

// Get reads whole chunks around the range asked for and hands out only the
// bytes asked for, each from a chunk that passed authentication.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := backend.ValidateKey(key); err != nil {
		return nil, err
	}
	if passthrough(key) {
		return s.b.Get(ctx, key, offset, length)
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: negative offset %d", backend.ErrInvalidRange, offset)
	}
	if length == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	// Start at the chunk holding offset; at a chunk boundary, the chunk
	// before it, so that an offset at the very end is still checked
	// against a chunk that says it is the last.
	first := offset / chunkSize
	if offset > 0 && offset%chunkSize == 0 {
		first--
	}
	skip := offset - first*chunkSize
	from := chunkOffset(first)
	if first == 0 {
		from = 0
	}
	// One byte more than the chunks asked for tells whether the last of
	// them is the object's last.
	cLen := int64(-1)
	if length > 0 {
		cLen = chunkOffset((offset+length-1)/chunkSize+1) - from + 1
	}
	stored := s.d.storedKey(key)
	rc, err := s.b.Get(ctx, stored, from, cLen)
	if err != nil {
		return nil, err
	}
	if first == 0 {
		var h [headerSize]byte
		if _, err := io.ReadFull(rc, h[:]); err != nil || h != header {
			rc.Close()
			return nil, &DamagedError{Key: key, Stored: stored, Reason: "has no encrypted-object header (a plain object: was the hub's encryption finished? run `editkit hub init --encrypt` again)"}
		}
	}
	r := &openReader{
		s: chunkStream{d: s.d, key: key, stored: stored, rc: rc, next: first, skip: skip, remaining: length, at: from},
		b: getBatch(),
	}
	if first == 0 {
		r.s.at = headerSize // read above
	}
	// The first batch now: a refused object or a range past the end is
	// an error of Get, before the caller has created anything.
	if err = r.s.fill(r.b); err != nil {
		r.Close()
		return nil, err
	}
	r.pending = r.b.want
	return r, nil
}

// List maps prefix to the stored names it covers, lists them and maps each
// back. Inside a renamed kind (blobs, packs, index, snapshots) stored order
// is not plain order, so those listings are collected and sorted.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[backend.ObjectInfo, error] {
	return func(yield func(backend.ObjectInfo, error) bool) {
		if passthrough(prefix) {
			for oi, err := range s.b.List(ctx, prefix) {
				if !yield(oi, err) {
					return
				}
			}
			return
		}
		kind, how := s.d.layout.kindOf(prefix)
		if how == "" {
			for oi, err := range s.b.List(ctx, prefix) {
				if err == nil && passthrough(oi.Key) {
					continue
				}
				if err == nil {
					if oi, err = s.plainInfo(oi); err != nil {
						continue
					}
				}
				if !yield(oi, err) {
					return
				}
			}
			// A listing from above a renamed kind (the whole hub) also
			// walks its renamed kinds, which the loop above yielded in
			// stored order: good enough for the only such caller, a
			// migration that does not care about order.
			return
		}
		listFrom := kind
		if how == "named" {
			if set, _, ok := strings.Cut(strings.TrimPrefix(prefix, kind), "/"); ok && set != "" {
				listFrom = kind + s.d.sealName(set) + "/"
			}
		}
		var out []backend.ObjectInfo
		for oi, err := range s.b.List(ctx, listFrom) {
			if err != nil {
				yield(oi, err)
				return
			}
			pi, err := s.plainInfo(oi)
			if err != nil || !strings.HasPrefix(pi.Key, prefix) {
				continue
			}
			out = append(out, pi)
		}
		slices.SortFunc(out, func(a, b backend.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
		for _, oi := range out {
			if !yield(oi, nil) {
				return
			}
		}
	}
}

var errNotOurs = fmt.Errorf("not a sealed object's name")

func (s *Store) plainInfo(oi backend.ObjectInfo) (backend.ObjectInfo, error) {
	key, ok := s.d.plainKey(oi.Key)
	if !ok {
		return oi, errNotOurs
	}
	oi.Key = key
	oi.Size = max(0, PlainSize(oi.Size))
	return oi, nil
}
