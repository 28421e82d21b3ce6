package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// Backend stores immutable objects by key ("blobs/ab/abcdef…", "snapshots/…",
// "events/…"). Keys are slash-separated and validated by every method (see
// ValidateKey). Implementations are safe for concurrent use.
type Backend interface {
	// Location names the store for messages; it never contains credentials.
	Location() string
	// Put stores src under key. Without IfNotExists an existing object is
	// replaced. A Put that fails part-way may be called again with the same
	// key and source to resume.
	Put(ctx context.Context, key string, src Source, opts PutOptions) error
	// Get reads length bytes from offset (length < 0: to the end). Asking for
	// an offset past the end gives ErrInvalidRange; a range that runs past
	// the end is cut short.
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Stat returns ErrNotFound for a missing key.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List yields every key under prefix (a key prefix, not necessarily a
	// folder) in byte-wise sorted order. On an error it yields the error and
	// stops.
	List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error]
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	Close() error
}

// UploadAborter is implemented by backends (and the wrappers around them)
// that keep the progress of interrupted uploads.
type UploadAborter interface {
	// AbortUploads discards interrupted uploads started more than olderThan
	// ago and returns how many it discarded.
	AbortUploads(ctx context.Context, olderThan time.Duration) (n int, err error)
}

// AbortUploads calls b's AbortUploads if it has one; it is what `editkit
// prune` uses to clean up after uploads that were never resumed.
func AbortUploads(ctx context.Context, b Backend, olderThan time.Duration) (int, error) {
	if a, ok := b.(UploadAborter); ok {
		return a.AbortUploads(ctx, olderThan)
	}
	return 0, nil
}

// BufferedReader is what Get returns for an object it decodes into
// buffers of its own (hubcrypt decrypts a batch of chunks at once): its
// WriteTo writes from them, no copy needed. (A file's WriteTo is no such
// thing: it copies through 32 KiB at a time.)
type BufferedReader interface {
	io.Reader
	io.WriterTo
	WritesFromItsBuffers()
}

// Source is what Put uploads: readable at offsets, so a retry re-reads it
// from the start and multipart parts are read independently (and
// concurrently), with a length known up front.
type Source interface {
	io.ReaderAt
	Length() int64
}

// BlockSource is a Source that produces its bytes in blocks (hubcrypt
// seals 64 KiB chunks): a read that ends on a block boundary costs no block
// produced twice or in part. ReadSize is how many bytes from off, at most
// max, end on a boundary (max itself when no boundary is that close).
type BlockSource interface {
	Source
	ReadSize(off int64, max int) int
}

// readSize is how much of src a copy that reads up to max bytes at a
// time reads from off.
func readSize(src Source, off int64, max int) int {
	n := int(min(int64(max), src.Length()-off))
	if bs, ok := src.(BlockSource); ok {
		n = min(n, bs.ReadSize(off, max))
	}
	return n
}

// PutOptions adjusts a Put.
type PutOptions struct {
	// IfNotExists makes the Put a conditional create: if the key exists the
	// Put returns ErrExists and the object is left alone. It is race-free
	// where the store allows (link(2) in a folder, If-None-Match: * on S3).
	IfNotExists bool

	// Meter, if set, is called by the backend with each chunk of data right
	// before it is sent (S3) or written (folder): bytes the backend only
	// reads to hash or to check what an earlier attempt left behind are not
	// metered. It may block (WithBandwidthLimit paces uploads with it) and
	// an error from it aborts the Put. Callers use it for progress.
	// It is called from several goroutines at once for multipart uploads.
	Meter func(ctx context.Context, n int) error
}

// meter calls opts.Meter if it is set.
func (o PutOptions) meter(ctx context.Context, n int) error {
	if o.Meter == nil || n == 0 {
		return nil
	}
	return o.Meter(ctx, n)
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
}

var (
	// ErrNotFound: no object with that key.
	ErrNotFound = errors.New("object not found")
	// ErrExists: a Put with IfNotExists found the key taken.
	ErrExists = errors.New("object already exists")
	// ErrInvalidKey: a key that could escape the store or that some store
	// (S3, Windows, SMB) cannot hold.
	ErrInvalidKey = errors.New("invalid key")
	// ErrInvalidRange: a Get starting past the end of the object.
	ErrInvalidRange = errors.New("range starts past the end of the object")
	// ErrAuth: the store refused the credentials or their permissions; the
	// error's message says which setting to fix. Not transient.
	ErrAuth = errors.New("credentials refused")
	// ErrNoBucket: the bucket or folder that should hold the hub is missing.
	ErrNoBucket = errors.New("hub storage does not exist")
)

// IsTransient reports whether err is worth another attempt: network errors,
// timeouts, server errors (5xx), throttling (429, SlowDown), request bodies
// corrupted in transit. Missing or existing objects, invalid keys, refused
// credentials and cancellation are not.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	for _, perm := range []error{ErrNotFound, ErrExists, ErrInvalidKey, ErrInvalidRange, ErrAuth, ErrNoBucket} {
		if errors.Is(err, perm) {
			return false
		}
	}
	// A backend's own verdict first: a request it abandoned itself (a
	// stalled upload) ends in context.Canceled too.
	var t interface{ Transient() bool }
	if errors.As(err, &t) {
		return t.Transient()
	}
	// The caller's cancellation or deadline (context.DeadlineExceeded would
	// otherwise pass for a network timeout).
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return isNetworkError(err)
}

// transientError marks an error a backend knows to be worth a retry.
type transientError struct{ err error }

func (e *transientError) Error() string   { return e.err.Error() }
func (e *transientError) Unwrap() error   { return e.err }
func (e *transientError) Transient() bool { return true }

func markTransient(err error) error {
	if err == nil {
		return nil
	}
	return &transientError{err}
}

// permanentError stops IsTransient from looking further down the chain (a
// network error deep inside may be a symptom, not the cause).
type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() error   { return e.err }
func (e *permanentError) Transient() bool { return false }

// ValidateKey reports whether key is usable in every backend: relative,
// slash-separated, no "." or ".." or empty segments, no segment starting
// with "." (the folder backend keeps its own files there), nothing Windows or
// SMB shares cannot store (backslash, ':', '*', '?', '"', '<', '>', '|',
// control characters, trailing dots or spaces, device names such as CON).
func ValidateKey(key string) error {
	if err := validateKey(key); err != nil {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, err)
	}
	return nil
}

func validateKey(key string) error {
	if key == "" {
		return errors.New("empty")
	}
	if len(key) > 1024 {
		return errors.New("longer than 1024 bytes")
	}
	if strings.HasPrefix(key, "/") {
		return errors.New("absolute")
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := validateSegment(seg); err != nil {
			return err
		}
	}
	return nil
}

// validatePrefix checks a List prefix: complete segments follow the key
// rules, the trailing partial segment only the character rules.
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > 1024 || strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("%w: list prefix %q", ErrInvalidKey, prefix)
	}
	segs := strings.Split(prefix, "/")
	for i, seg := range segs {
		var err error
		if i < len(segs)-1 {
			err = validateSegment(seg)
		} else if seg != "" {
			err = validateChars(seg)
			if err == nil && (seg == "." || seg == ".." || seg[0] == '.') {
				err = errors.New("segment starts with '.'")
			}
		}
		if err != nil {
			return fmt.Errorf("%w: list prefix %q: %s", ErrInvalidKey, prefix, err)
		}
	}
	return nil
}

func validateSegment(seg string) error {
	switch {
	case seg == "":
		return errors.New("empty path segment")
	case seg == "." || seg == "..":
		return fmt.Errorf("path segment %q", seg)
	case seg[0] == '.':
		return errors.New("segment starts with '.'")
	case strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " "):
		return errors.New("segment ends with '.' or ' '")
	}
	if err := validateChars(seg); err != nil {
		return err
	}
	base, _, _ := strings.Cut(seg, ".")
	if isWindowsDeviceName(base) {
		return fmt.Errorf("%q is a device name on Windows", seg)
	}
	return nil
}

func validateChars(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("control character")
		}
		if strings.ContainsRune(`\:*?"<>|`, r) {
			return fmt.Errorf("character %q", r)
		}
	}
	return nil
}

func isWindowsDeviceName(s string) bool {
	switch strings.ToUpper(s) {
	case "CON", "PRN", "AUX", "NUL",
		"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return true
	}
	return false
}

// FileSource is a Source backed by an open file.
type FileSource struct {
	f    *os.File
	size int64
}

// NewFileSource opens path for upload. The caller closes it after the Put.
// The file should not change while it is uploaded: the size is taken now,
// and a resumed upload compares what was sent with the file's content.
func NewFileSource(path string) (*FileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return &FileSource{f: f, size: fi.Size()}, nil
}

func (s *FileSource) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }
func (s *FileSource) Length() int64                           { return s.size }
func (s *FileSource) Name() string                            { return s.f.Name() }
func (s *FileSource) Close() error                            { return s.f.Close() }

type bytesSource []byte

// BytesSource returns a Source reading b, which must not change during Put.
func BytesSource(b []byte) Source { return bytesSource(b) }

func (s bytesSource) Length() int64 { return int64(len(s)) }
func (s bytesSource) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(s)) {
		return 0, io.EOF
	}
	n := copy(p, s[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readFull reads len(p) bytes of src at off; a source shorter than its
// Length is an error, not a short object.
func readFull(src Source, p []byte, off int64) error {
	n, err := src.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &permanentError{fmt.Errorf("read source at %d: %w (did it shrink during the upload?)", off, err)}
}

// checkOffset validates Get's offset.
func checkOffset(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: negative offset %d", ErrInvalidRange, offset)
	}
	return nil
}

// emptyReader is what a Get of zero bytes returns without asking the store.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyReader) Close() error             { return nil }
