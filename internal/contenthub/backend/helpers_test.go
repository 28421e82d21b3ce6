package backend

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv("CONTENTHUB_HELPER") == "1" {
		helperProcessPut()
	}
	isolateAWSEnv()
	os.Exit(m.Run())
}

// isolateAWSEnv keeps the developer's or CI's AWS settings out of the tests
// (a profile, keys, an endpoint), and the SDK away from the EC2 metadata
// address: tests talk to 127.0.0.1 only. AWS_CA_BUNDLE stays: the backend
// must work with the one this environment sets.
func isolateAWSEnv() {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") && name != "AWS_CA_BUNDLE" {
			os.Unsetenv(name)
		}
	}
	dir, err := os.MkdirTemp("", "contenthub-aws-")
	if err == nil {
		os.Setenv("AWS_CONFIG_FILE", dir+"/config")
		os.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	}
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// randomData returns n reproducible pseudo-random bytes.
func randomData(seed uint64, n int) []byte {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	r := rand.NewChaCha8(s)
	b := make([]byte, n)
	r.Read(b)
	return b
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }

func readAll(t testing.TB, b Backend, key string, off, length int64) []byte {
	t.Helper()
	rc, err := b.Get(context.Background(), key, off, length)
	if err != nil {
		t.Fatalf("get %s [%d,%d): %v", key, off, length, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return data
}

func mustPut(t testing.TB, b Backend, key string, data []byte) {
	t.Helper()
	if err := b.Put(context.Background(), key, BytesSource(data), PutOptions{}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func checkObject(t testing.TB, b Backend, key string, want []byte) {
	t.Helper()
	got := readAll(t, b, key, 0, -1)
	if len(got) != len(want) || sha(got) != sha(want) {
		t.Fatalf("%s: got %d bytes (sha %x), want %d bytes (sha %x)", key, len(got), sha(got), len(want), sha(want))
	}
}

// meterCount counts the bytes a backend reports sending and can interrupt
// the upload after cut bytes.
type meterCount struct {
	n     atomic.Int64
	cut   int64
	fired atomic.Bool
	onCut func() error // called once when cut is reached; its error aborts
}

func (m *meterCount) meter(ctx context.Context, n int) error {
	total := m.n.Add(int64(n))
	if m.onCut != nil && m.cut > 0 && total >= m.cut && m.fired.CompareAndSwap(false, true) {
		return m.onCut()
	}
	return nil
}

// errInjected is a transient failure made up by a test.
var errInjected = markTransient(errors.New("injected network failure"))

// flakyReaders wraps a Backend so that its first n downloads break
// half-way with a transient error.
type flakyReaders struct {
	Backend
	n atomic.Int32
}

func (f *flakyReaders) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	rc, err := f.Backend.Get(ctx, key, off, length)
	if err != nil || f.n.Add(-1) < 0 {
		return rc, err
	}
	return &breakingReader{rc: rc, left: 100 << 10}, nil
}

type breakingReader struct {
	rc   io.ReadCloser
	left int
}

func (r *breakingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, errInjected
	}
	if len(p) > r.left {
		p = p[:r.left]
	}
	n, err := r.rc.Read(p)
	r.left -= n
	return n, err
}

func (r *breakingReader) Close() error { return r.rc.Close() }

// fastRetry is a retry policy for tests.
func fastRetry() RetryPolicy {
	return RetryPolicy{InitialInterval: 50 * time.Millisecond, MaxInterval: 500 * time.Millisecond, MaxElapsed: 60 * time.Second}
}

// helperProcessPut is the child of TestLocalIfNotExistsAcrossProcesses:
// the test binary started with CONTENTHUB_HELPER=1 runs only this.
func helperProcessPut() {
	l, err := OpenLocal(os.Getenv("CONTENTHUB_DIR"))
	if err != nil {
		os.Exit(2)
	}
	seed, _ := strconv.Atoi(os.Getenv("CONTENTHUB_SEED"))
	data := randomData(uint64(seed), 2<<20)
	at, _ := strconv.ParseInt(os.Getenv("CONTENTHUB_AT"), 10, 64)
	time.Sleep(time.Until(time.Unix(0, at)))
	err = l.Put(context.Background(), os.Getenv("CONTENTHUB_KEY"), BytesSource(data), PutOptions{IfNotExists: true})
	switch {
	case err == nil:
		os.Exit(0)
	case errors.Is(err, ErrExists):
		os.Exit(3)
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
