package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/slowtest"
)

// fixture describes one backend for the conformance suite.
type fixture struct {
	// open returns a fresh, empty store.
	open func(t *testing.T) Backend
	// bigSize is the size of the objects used for resuming: large enough to
	// be resumable (multipart on S3) and to be cut in the middle.
	bigSize int
	// cut is after how many sent bytes an upload of bigSize is
	// interrupted; on S3 it must lie past the first round of concurrent
	// parts, so that at least one part is complete.
	cut int64
}

// runConformance is the suite every backend passes.
func runConformance(t *testing.T, fx fixture) {
	t.Run("PutGetStat", func(t *testing.T) { testPutGetStat(t, fx.open(t)) })
	t.Run("List", func(t *testing.T) { testList(t, fx.open(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, fx.open(t)) })
	t.Run("IfNotExists", func(t *testing.T) { testIfNotExists(t, fx.open(t), fx) })
	t.Run("HostileKeys", func(t *testing.T) { testHostileKeys(t, fx.open(t)) })
	t.Run("ResumeAfterCancel", func(t *testing.T) { testResumeAfterCancel(t, fx.open(t), fx) })
	t.Run("RetryResumesPut", func(t *testing.T) { testRetryResumesPut(t, fx.open(t), fx) })
	t.Run("RetryResumesGet", func(t *testing.T) { testRetryResumesGet(t, fx.open(t)) })
	t.Run("AbortUploads", func(t *testing.T) { testAbortUploads(t, fx.open(t), fx) })
	t.Run("BandwidthLimit", func(t *testing.T) {
		slowtest.Skip(t, "measures seconds of throttled transfer")
		testBandwidthLimit(t, fx.open(t))
	})
	t.Run("Logging", func(t *testing.T) { testLogging(t, fx.open(t)) })
}

func testPutGetStat(t *testing.T, b Backend) {
	ctx := context.Background()
	data := randomData(1, 300_000)
	mustPut(t, b, "blobs/ab/abcdef", data)
	checkObject(t, b, "blobs/ab/abcdef", data)

	info, err := b.Stat(ctx, "blobs/ab/abcdef")
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "blobs/ab/abcdef" || info.Size != int64(len(data)) || time.Since(info.Modified) > time.Hour {
		t.Fatalf("stat: %+v", info)
	}

	for _, r := range []struct{ off, length int64 }{
		{0, 10}, {1000, 5000}, {299_990, 10}, {299_990, 100}, {123_456, -1}, {0, -1}, {5, 0},
	} {
		got := readAll(t, b, "blobs/ab/abcdef", r.off, r.length)
		end := int64(len(data))
		if r.length >= 0 {
			end = min(end, r.off+r.length)
		}
		if !bytes.Equal(got, data[r.off:end]) {
			t.Errorf("range %d+%d: got %d bytes, want %d", r.off, r.length, len(got), end-r.off)
		}
	}
	if _, err := b.Get(ctx, "blobs/ab/abcdef", int64(len(data))+10, -1); !errors.Is(err, ErrInvalidRange) {
		t.Errorf("get past the end: %v, want ErrInvalidRange", err)
	}

	// Empty objects.
	mustPut(t, b, "events/empty", nil)
	checkObject(t, b, "events/empty", nil)
	if got := readAll(t, b, "events/empty", 0, 10); len(got) != 0 {
		t.Errorf("range of empty object: %d bytes", len(got))
	}
	if info, err := b.Stat(ctx, "events/empty"); err != nil || info.Size != 0 {
		t.Errorf("stat empty: %+v %v", info, err)
	}

	// Missing objects.
	if _, err := b.Stat(ctx, "blobs/ab/missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("stat missing: %v", err)
	}
	if _, err := b.Get(ctx, "blobs/ab/missing", 0, -1); !errors.Is(err, ErrNotFound) {
		t.Errorf("get missing: %v", err)
	}
	if _, err := b.Get(ctx, "blobs", 0, -1); !errors.Is(err, ErrNotFound) {
		t.Errorf("get of a key that is only a prefix: %v", err)
	}
	if err := b.Put(ctx, "x/y", BytesSource([]byte("z")), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "x/y/z"); !errors.Is(err, ErrNotFound) {
		t.Errorf("stat below an object: %v", err)
	}

	// Without IfNotExists a Put replaces.
	mustPut(t, b, "snapshots/s1", []byte("one"))
	mustPut(t, b, "snapshots/s1", []byte("two, longer"))
	checkObject(t, b, "snapshots/s1", []byte("two, longer"))

	if b.Location() == "" {
		t.Error("empty Location")
	}
}

func listKeys(t *testing.T, b Backend, prefix string) []string {
	t.Helper()
	var keys []string
	for info, err := range b.List(context.Background(), prefix) {
		if err != nil {
			t.Fatalf("list %q: %v", prefix, err)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

func testList(t *testing.T, b Backend) {
	// Keys whose byte order differs from a folder walk's: '-' < '/' < '0'.
	// (No key is a folder of another: a folder cannot hold both.)
	keys := []string{"a-c", "a/b", "a/b-x", "a/b0/c", "a0", "b/c/d", "b/cd", "snap/2024-01-02", "snap/2024-01-10", "snap/2025"}
	for i, k := range slices.Backward(keys) {
		mustPut(t, b, k, []byte(fmt.Sprint(i)))
	}
	for prefix, want := range map[string][]string{
		"":          keys,
		"a":         {"a-c", "a/b", "a/b-x", "a/b0/c", "a0"},
		"a/":        {"a/b", "a/b-x", "a/b0/c"},
		"a/b":       {"a/b", "a/b-x", "a/b0/c"},
		"a/b0/":     {"a/b0/c"},
		"a/b/":      nil,
		"b/c":       {"b/c/d", "b/cd"},
		"snap/2024": {"snap/2024-01-02", "snap/2024-01-10"},
		"nothing":   nil,
		"nothing/":  nil,
		"a/b0/c/":   nil,
	} {
		got := listKeys(t, b, prefix)
		if !slices.Equal(got, want) {
			t.Errorf("list %q: got %q, want %q", prefix, got, want)
		}
	}
	// Sizes come along.
	for info, err := range b.List(context.Background(), "a/b0/c") {
		if err != nil || info.Size != 1 || info.Modified.IsZero() {
			t.Errorf("list info: %+v %v", info, err)
		}
	}
	// Stopping early is fine.
	n := 0
	for range b.List(context.Background(), "") {
		n++
		if n == 2 {
			break
		}
	}
}

func testDelete(t *testing.T, b Backend) {
	ctx := context.Background()
	mustPut(t, b, "blobs/cd/cdef", []byte("data"))
	if err := b.Delete(ctx, "blobs/cd/cdef"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "blobs/cd/cdef"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := b.Delete(ctx, "blobs/cd/cdef"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if err := b.Delete(ctx, "never/there"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if keys := listKeys(t, b, ""); len(keys) != 0 {
		t.Fatalf("left: %q", keys)
	}
}

func testIfNotExists(t *testing.T, b Backend, fx fixture) {
	ctx := context.Background()
	create := PutOptions{IfNotExists: true}
	if err := b.Put(ctx, "events/e1", BytesSource([]byte("first")), create); err != nil {
		t.Fatal(err)
	}
	err := b.Put(ctx, "events/e1", BytesSource([]byte("second")), create)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if !strings.Contains(err.Error(), "events/e1") {
		t.Errorf("error does not name the key: %v", err)
	}
	checkObject(t, b, "events/e1", []byte("first"))

	// Two writers at once: exactly one wins and the object is the winner's,
	// whole. Small objects, then large ones (multipart on S3). Through
	// WithRetry, as editkit always uses a backend: a writer whose shared
	// pending upload the other one is completing this very moment gets a
	// transient error (the object is not there yet), and its next attempt
	// finds the object.
	rb := WithRetry(b, fastRetry())
	race := func(key string, a, c []byte) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, data := range [][]byte{a, c} {
			wg.Go(func() {
				<-start
				errs[i] = rb.Put(ctx, key, BytesSource(data), create)
			})
		}
		close(start)
		wg.Wait()
		var winner []byte
		switch {
		case errs[0] == nil && errors.Is(errs[1], ErrExists):
			winner = a
		case errs[1] == nil && errors.Is(errs[0], ErrExists):
			winner = c
		case errs[0] == nil && errs[1] == nil && bytes.Equal(a, c):
			// Both completions of one shared multipart upload succeeded:
			// the S3 test server checks If-None-Match and assembles the
			// object in two steps, so two completions at the same moment
			// can both pass (S3 itself decides atomically). With the same
			// bytes, as content-addressed blobs have, the object is still
			// whole and right, which is what a writer relies on.
			winner = a
		default:
			t.Fatalf("%s: results %v, %v: want one nil and one ErrExists", key, errs[0], errs[1])
		}
		checkObject(t, b, key, winner)
	}
	for i := range 8 {
		race(fmt.Sprintf("events/race%d", i), randomData(uint64(10+i), 50_000), randomData(uint64(100+i), 60_000))
	}
	// Large ones carry the same bytes, as content-addressed blobs do.
	big := randomData(7, fx.bigSize)
	race("blobs/bi/big", big, big)
}

func testHostileKeys(t *testing.T, b Backend) {
	ctx := context.Background()
	for _, key := range []string{
		"", "/etc/passwd", "../escape", "a/../../escape", "a/./b", "a//b", "a/", ".partial/x",
		".hidden", `a\b`, `..\..\x`, "C:/x", "a:b", "con", "blobs/NUL.txt", "a/b.", "a/b ",
		"a\x00b", "a\nb", "\xff\xfe", strings.Repeat("x", 1025),
	} {
		if err := b.Put(ctx, key, BytesSource([]byte("x")), PutOptions{}); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("put %q: %v, want ErrInvalidKey", key, err)
		}
		if _, err := b.Get(ctx, key, 0, -1); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("get %q: %v, want ErrInvalidKey", key, err)
		}
		if _, err := b.Stat(ctx, key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("stat %q: %v, want ErrInvalidKey", key, err)
		}
		if err := b.Delete(ctx, key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("delete %q: %v, want ErrInvalidKey", key, err)
		}
	}
	for _, prefix := range []string{"../", "/abs", "a/../", `a\`, ".partial/"} {
		for _, err := range b.List(ctx, prefix) {
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("list %q: %v, want ErrInvalidKey", prefix, err)
			}
		}
	}
	if keys := listKeys(t, b, ""); len(keys) != 0 {
		t.Errorf("hostile keys left objects: %q", keys)
	}
}

// testResumeAfterCancel interrupts a large Put half-way (Ctrl-C) and checks
// that the next Put sends only what is missing.
func testResumeAfterCancel(t *testing.T, b Backend, fx fixture) {
	data := randomData(3, fx.bigSize)
	ctx, cancel := context.WithCancel(context.Background())
	first := &meterCount{cut: fx.cut, onCut: func() error { cancel(); return context.Canceled }}
	err := b.Put(ctx, "blobs/re/resume", BytesSource(data), PutOptions{Meter: first.meter})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted put: %v, want context.Canceled", err)
	}
	if _, err := b.Stat(context.Background(), "blobs/re/resume"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an interrupted put left an object: %v", err)
	}
	second := &meterCount{}
	if err := b.Put(context.Background(), "blobs/re/resume", BytesSource(data), PutOptions{Meter: second.meter}); err != nil {
		t.Fatal(err)
	}
	t.Logf("first attempt sent %d bytes, the resumed one %d of %d", first.n.Load(), second.n.Load(), len(data))
	if s := second.n.Load(); s >= int64(len(data)) || s == 0 {
		t.Errorf("resumed put sent %d bytes of %d: want fewer, but not none", s, len(data))
	}
	checkObject(t, b, "blobs/re/resume", data)

	// A different source under the same key is not mixed with the old
	// partial data.
	ctx, cancel = context.WithCancel(context.Background())
	m := &meterCount{cut: fx.cut, onCut: func() error { cancel(); return context.Canceled }}
	b.Put(ctx, "blobs/re/other", BytesSource(data), PutOptions{Meter: m.meter})
	other := randomData(4, fx.bigSize)
	if err := b.Put(context.Background(), "blobs/re/other", BytesSource(other), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	checkObject(t, b, "blobs/re/other", other)
}

// testRetryResumesPut fails an upload with a transient error half-way:
// WithRetry tries again, and the second attempt resumes.
func testRetryResumesPut(t *testing.T, b Backend, fx fixture) {
	data := randomData(5, fx.bigSize)
	m := &meterCount{cut: fx.cut, onCut: func() error { return errInjected }}
	var retries int
	p := fastRetry()
	p.Notify = func(RetryNote) { retries++ }
	rb := WithRetry(b, p)
	if err := rb.Put(context.Background(), "blobs/rt/retry", BytesSource(data), PutOptions{Meter: m.meter}); err != nil {
		t.Fatal(err)
	}
	if retries != 1 {
		t.Errorf("%d retries, want 1", retries)
	}
	if sent := m.n.Load(); sent >= 2*int64(len(data)) {
		t.Errorf("sent %d bytes for %d: the retry did not resume", sent, len(data))
	}
	checkObject(t, b, "blobs/rt/retry", data)

	// Permanent errors are not retried.
	retries = 0
	if err := rb.Put(context.Background(), "../x", BytesSource(data), PutOptions{}); !errors.Is(err, ErrInvalidKey) || retries != 0 {
		t.Errorf("invalid key: %v after %d retries", err, retries)
	}
	if _, err := rb.Stat(context.Background(), "nope"); !errors.Is(err, ErrNotFound) || retries != 0 {
		t.Errorf("missing key: %v after %d retries", err, retries)
	}
}

// testRetryResumesGet breaks downloads half-way: WithRetry's reader reopens
// them where they broke.
func testRetryResumesGet(t *testing.T, b Backend) {
	data := randomData(6, 1<<20)
	mustPut(t, b, "blobs/gt/get", data)
	fb := &flakyReaders{Backend: b}
	fb.n.Store(3)
	rb := WithRetry(fb, fastRetry())
	checkObject(t, rb, "blobs/gt/get", data)
	fb.n.Store(2)
	if got := readAll(t, rb, "blobs/gt/get", 1000, 300_000); !bytes.Equal(got, data[1000:301_000]) {
		t.Errorf("range through breaking reader: %d bytes", len(got))
	}
	// Without the retry wrapper the break reaches the reader.
	fb.n.Store(1)
	rc, err := fb.Get(context.Background(), "blobs/gt/get", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !IsTransient(err) {
		t.Errorf("broken download: %v, want a transient error", err)
	}
}

func testAbortUploads(t *testing.T, b Backend, fx fixture) {
	data := randomData(8, fx.bigSize)
	ctx, cancel := context.WithCancel(context.Background())
	m := &meterCount{cut: fx.cut, onCut: func() error { cancel(); return context.Canceled }}
	if err := b.Put(ctx, "blobs/ab/aborted", BytesSource(data), PutOptions{Meter: m.meter}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted put: %v", err)
	}
	// Through the retry wrapper, as the hub calls it: the server may still
	// be finishing a part the cancelled Put sent when the abort arrives,
	// and answer 500 (versitygw does); a retry then finds the upload again.
	rb := WithRetry(b, fastRetry())
	if n, err := AbortUploads(context.Background(), rb, time.Hour); err != nil || n != 0 {
		t.Fatalf("abort uploads older than an hour: %d, %v; want 0", n, err)
	}
	n, err := AbortUploads(context.Background(), rb, 0)
	if err != nil || n < 1 {
		t.Fatalf("abort uploads: %d, %v; want at least 1", n, err)
	}
	// Nothing left to resume: the whole object goes again.
	again := &meterCount{}
	if err := b.Put(context.Background(), "blobs/ab/aborted", BytesSource(data), PutOptions{Meter: again.meter}); err != nil {
		t.Fatal(err)
	}
	if again.n.Load() != int64(len(data)) {
		t.Errorf("after abort: sent %d of %d", again.n.Load(), len(data))
	}
	checkObject(t, b, "blobs/ab/aborted", data)
}

func testBandwidthLimit(t *testing.T, b Backend) {
	const rate = 1 << 20
	lb := WithBandwidthLimit(b, rate)
	data := randomData(9, 2<<20)
	start := time.Now()
	if err := lb.Put(context.Background(), "blobs/bw/limited", BytesSource(data), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	up := time.Since(start)
	start = time.Now()
	got := readAll(t, lb, "blobs/bw/limited", 0, 1<<20)
	down := time.Since(start)
	t.Logf("2 MiB up in %v, 1 MiB down in %v at 1 MiB/s", up, down)
	// Lower bounds only: the cap must hold however fast the machine is; a
	// slow or loaded one taking longer says nothing about the limiter.
	if up < 1500*time.Millisecond {
		t.Errorf("2 MiB at 1 MiB/s took only %v", up)
	}
	if down < 750*time.Millisecond {
		t.Errorf("1 MiB at 1 MiB/s took only %v", down)
	}
	if !bytes.Equal(got, data[:1<<20]) {
		t.Error("data changed")
	}
}

func testLogging(t *testing.T, b Backend) {
	var buf syncBuffer
	lb := WithLogging(b, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	mustPut(t, lb, "events/logged", []byte("hello"))
	readAll(t, lb, "events/logged", 0, -1)
	lb.Stat(context.Background(), "events/missing")
	listKeys(t, lb, "events/")
	lb.Delete(context.Background(), "events/logged")
	out := buf.String()
	for _, want := range []string{
		`msg="hub put" key=events/logged size=5 duration=`,
		`msg="hub get" key=events/logged offset=0 size=5 duration=`,
		`msg="hub stat" key=events/missing size=0 duration=`,
		`error="stat events/missing: object not found`,
		`msg="hub list" prefix=events/ count=1`,
		`msg="hub delete" key=events/logged`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 5 {
		t.Errorf("%d log lines, want 5:\n%s", n, out)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
