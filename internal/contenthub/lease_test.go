package contenthub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/hashing"
)

// twoCompactorsHub is a hub with one pack holding two big bins and a small
// one, and a small blob stored on its own (from before packs): one
// compaction packs the single object (keeping the pack), another drops the
// two big bins (repacking the small one and deleting the pack).
func twoCompactorsHub(t *testing.T) (b backend.Backend, big1, big2, small, loose string) {
	t.Helper()
	ctx := context.Background()
	b, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := New(b).NewBlobWriter(ctx)
	big1 = putSmall(t, w, strings.Repeat("x", 100_000))
	big2 = putSmall(t, w, strings.Repeat("y", 100_000))
	small = putSmall(t, w, "the bin both keep")
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	data := []byte("a bin stored before packs")
	loose = fmt.Sprintf("%x", hashing.SumBLAKE3(data))
	if err := b.Put(ctx, BlobKey(loose), backend.BytesSource(data), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return b, big1, big2, small, loose
}

// readAll reads blobs through a fresh hub, as the next command would.
func readAll(t *testing.T, b backend.Backend, b3s ...string) error {
	t.Helper()
	var mu sync.Mutex // fn is called from several goroutines
	got := map[string]bool{}
	err := New(b).ReadBlobs(context.Background(), b3s, func(b3 string, r io.Reader) error {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		got[b3] = true
		return nil
	})
	if err == nil && len(got) != len(b3s) {
		err = fmt.Errorf("read %d of %d blobs", len(got), len(b3s))
	}
	return err
}

// Two compactions started at once, from two computers (two Hub values over
// one backend), the second running whole at each step of the first: the
// second finds the lease and does nothing, so the index never names a
// deleted pack (before the lease, the first's index named the pack the
// second had repacked and deleted) and every blob stays readable.
func TestTwoCompactionsAtOnce(t *testing.T) {
	ctx := context.Background()
	for _, step := range []string{"pack-stored", "indexed"} {
		t.Run(step, func(t *testing.T) {
			b, big1, big2, small, loose := twoCompactorsHub(t)
			var errB error
			ran := false
			first := New(b)
			_, err := first.Compact(ctx, nil, CompactOptions{PackLoose: true, Holder: LeaseHolder{User: "ana", Host: "home-a"},
				Hook: func(s string) {
					if s == step && !ran {
						ran = true
						_, errB = New(b).Compact(ctx, []string{big1, big2}, CompactOptions{Holder: LeaseHolder{User: "bo", Host: "home-b"}})
					}
				}})
			if err != nil || !ran {
				t.Fatalf("the first compaction: %v (second ran: %v)", err, ran)
			}
			problems, err := New(b).IndexProblems(ctx, time.Now())
			if err != nil || len(problems) != 0 {
				t.Fatalf("index after both: %v %v", problems, err)
			}
			var busy *CompactingError
			if !errors.As(errB, &busy) || !errors.Is(errB, ErrCompacting) || busy.Holder.User != "ana" || !strings.Contains(errB.Error(), "ana@home-a") {
				t.Fatalf("the second compaction, during the first: %v; want it refused, naming ana@home-a", errB)
			}
			if err := readAll(t, b, big1, big2, small, loose); err != nil {
				t.Fatal(err)
			}
			// Released: the second one, run again, compacts.
			if _, err := New(b).Compact(ctx, []string{big1, big2}, CompactOptions{}); err != nil {
				t.Fatalf("after the first finished: %v", err)
			}
			if err := readAll(t, b, small, loose); err != nil {
				t.Fatal(err)
			}
			if problems, _ := New(b).IndexProblems(ctx, time.Now()); len(problems) != 0 {
				t.Fatalf("index at the end: %v", problems)
			}
		})
	}
}

// A lease whose holder was killed is taken over once it expires, not
// before; two takers of the expired lease never both get it.
func TestCompactionLeaseExpiresAndIsTakenOverOnce(t *testing.T) {
	ctx := context.Background()
	b, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 7, 2, 14, 0, 0, time.UTC)
	clock := t0
	now := func() time.Time { return clock }
	killed, err := New(b).takeLease(ctx, LeaseHolder{User: "ana", Host: "home-a", PID: 42}, now)
	if err != nil {
		t.Fatal(err)
	}
	_ = killed // never released: its process was killed
	clock = t0.Add(LeaseFor - time.Minute)
	if _, err := New(b).Compact(ctx, nil, CompactOptions{Now: now}); !errors.Is(err, ErrCompacting) {
		t.Fatalf("before the lease expires: %v; want ErrCompacting", err)
	}
	clock = t0.Add(LeaseFor + time.Minute)
	one, errOne := New(b).takeLease(ctx, LeaseHolder{Host: "home-b"}, now)
	_, errTwo := New(b).takeLease(ctx, LeaseHolder{Host: "home-c"}, now)
	if errOne != nil || !errors.Is(errTwo, ErrCompacting) {
		t.Fatalf("two takers of an expired lease: %v, %v; want the first to get it, the second refused", errOne, errTwo)
	}
	// The killed holder, were it alive after all, must not delete now.
	if err := killed.holds(ctx); err == nil {
		t.Fatal("the expired holder still thinks it holds the lease")
	}
	if err := one.holds(ctx); err != nil {
		t.Fatalf("the new holder: %v", err)
	}
	one.release(ctx)
	if _, err := New(b).Compact(ctx, nil, CompactOptions{Now: now}); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// A taker working from an old listing creates a generation below the
// current lease (one a holder tidied away): it finds that and backs off.
func TestCompactionLeaseLateTakerBacksOff(t *testing.T) {
	ctx := context.Background()
	b, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now
	for range 3 { // generations 1–3, each released; 1 and 2 tidied away
		l, err := New(b).takeLease(ctx, LeaseHolder{Host: "a"}, now)
		if err != nil {
			t.Fatal(err)
		}
		l.release(ctx)
	}
	holder, err := New(b).takeLease(ctx, LeaseHolder{Host: "holder"}, now) // generation 4
	if err != nil || holder.rec.Generation != 4 {
		t.Fatalf("%+v %v", holder, err)
	}
	// The late taker had seen generation 1 released and makes 2.
	data := []byte(`{"host":"late","generation":2}`)
	if err := b.Put(ctx, leaseKey(2), backend.BytesSource(data), backend.PutOptions{IfNotExists: true}); err != nil {
		t.Fatal(err)
	}
	if err := holder.holds(ctx); err != nil {
		t.Fatalf("a generation below the holder's: %v", err)
	}
	if _, err := New(b).Compact(ctx, nil, CompactOptions{}); !errors.Is(err, ErrCompacting) {
		t.Fatalf("while generation 4 is held: %v", err)
	}
}

// A compaction that outlives its lease stops before deleting anything.
func TestCompactionPastItsLeaseDeletesNothing(t *testing.T) {
	ctx := context.Background()
	b, big1, big2, small, loose := twoCompactorsHub(t)
	clock := time.Now()
	now := func() time.Time { return clock }
	_, err := New(b).Compact(ctx, []string{big1, big2}, CompactOptions{PackLoose: true, Now: now, Hook: func(step string) {
		if step == "pack-stored" {
			clock = clock.Add(LeaseFor)
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "stopped before deleting anything") {
		t.Fatalf("compaction past its lease: %v", err)
	}
	if err := readAll(t, b, big1, big2, small, loose); err != nil {
		t.Fatal(err)
	}
}

// An index that names a blob in a pack that is gone and in another (a
// pack and a single object, two packs) never loses the blob: every reader
// tries the other places.
func TestReadersTryEveryPlaceOfABlob(t *testing.T) {
	ctx := context.Background()
	b, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	content := "a bin named in a gone pack first"
	w := New(b).NewBlobWriter(ctx)
	blob := putSmall(t, w, content)
	if err := w.store(ctx); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	there := w.stored[0]
	w.mu.Unlock()
	var gone packID
	gone[0] = 0xff // a pack that is not in the hub
	f := &indexFile{}
	f.addPack(gone, there.entries)
	f.addPack(there.id, there.entries)
	if _, err := New(b).putIndex(ctx, f); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		if err := readAll(t, b, blob); err != nil {
			t.Fatalf("%s: ReadBlobs: %v", what, err)
		}
		rc, err := New(b).OpenBlob(ctx, blob, 0)
		if err != nil {
			t.Fatalf("%s: OpenBlob: %v", what, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != content {
			t.Fatalf("%s: OpenBlob read %q", what, got)
		}
		for name, has := range map[string]func(context.Context, string) (bool, error){"HasBlob": New(b).HasBlob, "BlobStored": New(b).BlobStored} {
			if ok, err := has(ctx, blob); !ok || err != nil {
				t.Fatalf("%s: %s: %v %v", what, name, ok, err)
			}
		}
	}
	check("a gone pack and a pack")
	// Now the pack goes too; the blob is still stored as an object of its
	// own.
	if err := b.Delete(ctx, there.id.key()); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, BlobKey(blob), backend.BytesSource([]byte(content)), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	check("two gone packs and a single object")
}

// A lease taken on this computer by a process that is gone (kill -9) ends
// at once: the next run here does not wait hours. One of a live process
// here holds.
func TestCompactionLeaseOfADeadProcessHere(t *testing.T) {
	ctx := context.Background()
	b, err := backend.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if _, err := New(b).takeLease(ctx, LeaseHolder{Host: host, PID: os.Getpid()}, time.Now); err != nil {
		t.Fatal(err)
	}
	if _, err := New(b).Compact(ctx, nil, CompactOptions{}); !errors.Is(err, ErrCompacting) {
		t.Fatalf("while a live process here holds the lease: %v", err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(b).takeLease(ctx, LeaseHolder{Host: host, PID: dead.Process.Pid}, func() time.Time { return time.Now().Add(LeaseFor) }); err != nil {
		t.Fatal(err)
	}
	if _, err := New(b).Compact(ctx, nil, CompactOptions{}); err != nil {
		t.Fatalf("the lease of a process here that is gone: %v", err)
	}
}
