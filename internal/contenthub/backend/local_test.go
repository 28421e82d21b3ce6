package backend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/slowtest"
)

func openLocalTest(t *testing.T) *Local {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hub")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := OpenLocalWith(dir, LocalOptions{ResumeThreshold: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLocalConformance(t *testing.T) {
	runConformance(t, fixture{
		open:    func(t *testing.T) Backend { return openLocalTest(t) },
		bigSize: 24 << 20,
		cut:     12 << 20,
	})
}

func TestLocalMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-mounted")
	_, err := OpenLocal(dir)
	if !errors.Is(err, ErrNoBucket) || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("OpenLocal created the folder")
	}
}

// TestLocalHostileKeysStayInside checks that nothing is written next to the
// hub folder, whatever the key.
func TestLocalHostileKeysStayInside(t *testing.T) {
	l := openLocalTest(t)
	parent := filepath.Dir(l.Location())
	for _, key := range []string{"../outside", "a/../../outside", "/tmp/outside", `..\outside`} {
		l.Put(context.Background(), key, BytesSource([]byte("x")), PutOptions{})
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Fatalf("files next to the hub: %v", entries)
	}
}

// TestLocalAdoptsCrashedWriter: a writer killed without parking its partial
// file (kill -9, power cut) leaves it under its own name; the next Put of the
// key takes it over once its process is gone, or after StaleAfter for
// another computer's.
func TestLocalAdoptsCrashedWriter(t *testing.T) {
	l := openLocalTest(t)
	data := randomData(20, 6<<20)
	key := "blobs/cr/crashed"
	pdir := filepath.Join(l.Location(), partialDir)
	os.MkdirAll(pdir, 0o755)

	// A dead process of this computer.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(pdir, fmt.Sprintf("%s.%s-%d-dead.tmp", keyHash(key), l.host, cmd.Process.Pid))
	if err := os.WriteFile(dead, data[:4<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	m := &meterCount{}
	if err := l.Put(context.Background(), key, BytesSource(data), PutOptions{Meter: m.meter}); err != nil {
		t.Fatal(err)
	}
	if m.n.Load() != 2<<20 {
		t.Errorf("sent %d bytes, want the missing 2 MiB", m.n.Load())
	}
	checkObject(t, l, key, data)

	// Another computer's, fresh: left alone; stale: adopted.
	key = "blobs/cr/other"
	other := filepath.Join(pdir, keyHash(key)+".ffffffff-1-x.tmp")
	os.WriteFile(other, data[:4<<20], 0o644)
	m = &meterCount{}
	if err := l.Put(context.Background(), key, BytesSource(data), PutOptions{Meter: m.meter}); err != nil {
		t.Fatal(err)
	}
	if m.n.Load() != int64(len(data)) {
		t.Errorf("took over a live writer's file: sent %d", m.n.Load())
	}
	os.Chtimes(other, time.Now().Add(-2*time.Hour), time.Now().Add(-2*time.Hour))
	l.Delete(context.Background(), key)
	m = &meterCount{}
	if err := l.Put(context.Background(), key, BytesSource(data), PutOptions{Meter: m.meter}); err != nil {
		t.Fatal(err)
	}
	if m.n.Load() != 2<<20 {
		t.Errorf("stale file not adopted: sent %d", m.n.Load())
	}
	checkObject(t, l, key, data)
	if left, _ := os.ReadDir(pdir); len(left) != 0 {
		t.Errorf("partial files left: %v", left)
	}
}

// TestLocalDamagedPartialIsRewritten: resuming compares the partial file
// with the source and rewrites from the first chunk that differs.
func TestLocalDamagedPartialIsRewritten(t *testing.T) {
	l := openLocalTest(t)
	data := randomData(21, 8<<20)
	key := "blobs/da/damaged"
	ctx, cancel := context.WithCancel(context.Background())
	m := &meterCount{cut: 6 << 20, onCut: func() error { cancel(); return context.Canceled }}
	if err := l.Put(ctx, key, BytesSource(data), PutOptions{Meter: m.meter}); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	parked := filepath.Join(l.Location(), partialDir, keyHash(key))
	f, err := os.OpenFile(parked, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("no parked partial file: %v", err)
	}
	b := []byte{0}
	f.ReadAt(b, 3<<20+5)
	b[0] ^= 0xff
	f.WriteAt(b, 3<<20+5)
	f.Close()

	m = &meterCount{}
	if err := l.Put(context.Background(), key, BytesSource(data), PutOptions{Meter: m.meter}); err != nil {
		t.Fatal(err)
	}
	if m.n.Load() != 5<<20 {
		t.Errorf("sent %d bytes, want 5 MiB (from the damaged chunk on)", m.n.Load())
	}
	checkObject(t, l, key, data)
}

// TestLocalAbortSparesActiveWriters: prune must not remove the partial file
// of a Put that is running.
func TestLocalAbortSparesActiveWriters(t *testing.T) {
	l := openLocalTest(t)
	data := randomData(22, 4<<20)
	reached, release := make(chan struct{}), make(chan struct{})
	m := &meterCount{cut: 1 << 20, onCut: func() error { close(reached); <-release; return nil }}
	done := make(chan error)
	go func() {
		done <- l.Put(context.Background(), "blobs/ac/active", BytesSource(data), PutOptions{Meter: m.meter})
	}()
	<-reached
	n, err := l.AbortUploads(context.Background(), 0)
	close(release)
	if err != nil || n != 0 {
		t.Errorf("abort uploads removed %d files (%v) during a put", n, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkObject(t, l, "blobs/ac/active", data)
}

// TestLocalIfNotExistsAcrossProcesses races two processes creating the same
// key: link(2) lets exactly one win.
func TestLocalIfNotExistsAcrossProcesses(t *testing.T) {
	slowtest.Skip(t, "starts processes")
	l := openLocalTest(t)
	for round := range 3 {
		key := fmt.Sprintf("events/proc%d", round)
		at := time.Now().Add(300 * time.Millisecond).UnixNano()
		var cmds []*exec.Cmd
		for i := range 2 {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "CONTENTHUB_HELPER=1", "CONTENTHUB_DIR="+l.Location(),
				"CONTENTHUB_KEY="+key, "CONTENTHUB_SEED="+strconv.Itoa(i), "CONTENTHUB_AT="+strconv.FormatInt(at, 10))
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		won, lost := -1, 0
		for i, cmd := range cmds {
			err := cmd.Wait()
			var ee *exec.ExitError
			switch {
			case err == nil:
				if won >= 0 {
					t.Fatalf("%s: both processes created it", key)
				}
				won = i
			case errors.As(err, &ee) && ee.ExitCode() == 3:
				lost++
			default:
				t.Fatalf("%s: helper %d: %v", key, i, err)
			}
		}
		if won < 0 || lost != 1 {
			t.Fatalf("%s: won %d, lost %d", key, won, lost)
		}
		checkObject(t, l, key, randomData(uint64(won), 2<<20))
	}
}

func TestValidateKey(t *testing.T) {
	for _, ok := range []string{"blobs/ab/abcdef0123", "snapshots/2025-01-02T03:04:05Z"[:20], "events/x.json", "a", "a b/c-d_e.f"} {
		if err := ValidateKey(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/a", "a/", "a//b", "./a", "a/..", ".x", "a/.x", `a\b`, "a:b", "a*", "a?", `a"`, "a<", "a|",
		"a\tb", "com1", "LPT9.txt", "x/aux", "a.", "a ", "\xc3\x28"} {
		if err := ValidateKey(bad); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%q: %v, want ErrInvalidKey", bad, err)
		}
	}
}
