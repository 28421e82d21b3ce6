package tracker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/slowtest"
)

// The child side of TestOutboxSurvivesKill: record events as fast as it
// can into an outbox whose Sheet is unreachable, printing each batch's ids
// before Record and after it returns, until killed.
func outboxChild() {
	dir := os.Getenv("EDITKIT_TRACKER_OUTBOX")
	ctx := context.Background()
	tr, err := New(ctx, Config{
		Spreadsheet: "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdef", CredentialsFile: os.Getenv("EDITKIT_TRACKER_KEY"),
		Endpoint: os.Getenv("EDITKIT_TRACKER_ENDPOINT"), OutboxDir: dir,
		Clock: NewScaledClock(time.Now(), 1000), MinFlushInterval: time.Hour,
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		var evs []event.Event
		var ids []string
		for j := 0; j <= i%7; j++ {
			e := event.New(time.Now(), event.Pulled)
			e.Drive, e.Path, e.Note = "EDIT_01", fmt.Sprintf("A/%d-%d.mov", i, j), strings.Repeat("x", 2000)
			evs = append(evs, e)
			ids = append(ids, e.ID)
		}
		fmt.Fprintln(w, "try", strings.Join(ids, " "))
		w.Flush()
		if _, err := tr.Record(ctx, evs); err != nil {
			fmt.Fprintln(w, "error", err)
			w.Flush()
			os.Exit(2)
		}
		fmt.Fprintln(w, "ok", strings.Join(ids, " "))
		w.Flush()
	}
}

// kill -9 in the middle of recording: every event whose Record returned is
// delivered exactly once afterwards, and the outbox is never corrupt.
func TestOutboxSurvivesKill(t *testing.T) {
	if os.Getenv("EDITKIT_TRACKER_CHILD") == "1" {
		outboxChild()
		return
	}
	slowtest.Skip(t, "kills a child process mid-push")
	e := newEnv(t, envOpt{})
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String() + "/"
	dead.Close()
	dir := filepath.Join(t.TempDir(), "outbox")

	tried, accepted := map[string]bool{}, map[string]bool{}
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOutboxSurvivesKill$")
		cmd.Env = append(os.Environ(), "EDITKIT_TRACKER_CHILD=1", "EDITKIT_TRACKER_OUTBOX="+dir,
			"EDITKIT_TRACKER_KEY="+e.keyFile, "EDITKIT_TRACKER_ENDPOINT="+deadURL)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		oks := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 0 {
				continue
			}
			switch f[0] {
			case "try":
				for _, id := range f[1:] {
					tried[id] = true
				}
			case "ok":
				for _, id := range f[1:] {
					accepted[id] = true
				}
				oks++
			case "error":
				t.Fatalf("child: %s", sc.Text())
			}
			if oks == 40+round*17 {
				// SIGKILL at an arbitrary moment (mid-write, likely): no
				// deferred cleanup runs. Keep reading what it printed.
				go func() {
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
					cmd.Process.Kill()
				}()
			}
		}
		cmd.Wait()
	}
	t.Logf("%d events accepted, %d tried", len(accepted), len(tried))

	tr := e.tracker(Config{Spreadsheet: e.sheetID, CredentialsFile: e.keyFile, Endpoint: e.fake.URL,
		OutboxDir: dir, Clock: e.clock})
	res, err := tr.Sync(context.Background())
	if err != nil || res.Pending != 0 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
	count := map[string]int{}
	for _, v := range e.column(tabLog, colEventID) {
		count[v.(string)]++
	}
	for id := range accepted {
		if count[id] != 1 {
			t.Errorf("accepted event %s is in the Log %d times", id, count[id])
		}
	}
	for id, n := range count {
		if !tried[id] || n != 1 {
			t.Errorf("Log row %s ×%d (tried: %v)", id, n, tried[id])
		}
	}
}

// A writer that died half-way leaves a temporary file: it is ignored (the
// batch was never accepted) and cleaned up, and the accepted batches go out.
func TestOutboxIgnoresHalfWrittenBatch(t *testing.T) {
	e := newEnv(t, envOpt{})
	cfg := e.config()
	evs := genEvents(10, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	queue(t, cfg.OutboxDir, evs[:5])
	// Half of a batch in the temporary name WriteFileAtomic uses.
	var whole strings.Builder
	for _, ev := range evs[5:] {
		b, _ := json.Marshal(ev)
		whole.Write(b)
		whole.WriteByte('\n')
	}
	half := whole.String()[:whole.Len()/2]
	tmp := filepath.Join(cfg.OutboxDir, "."+evs[5].ID+".batch.123.tmp")
	if err := os.WriteFile(tmp, []byte(half), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(tmp, old, old)

	res, err := e.tracker(cfg).Sync(context.Background())
	if err != nil || res.Sent != 5 || res.Pending != 0 || len(res.Warnings) > 0 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	e.assertExactlyOnce(evs[:5])
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("stale temporary file not removed: %v", err)
	}
}

// A batch damaged from outside is put aside with a warning and does not
// block the others.
func TestOutboxPutsDamagedBatchAside(t *testing.T) {
	e := newEnv(t, envOpt{})
	cfg := e.config()
	evs := genEvents(4, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	queue(t, cfg.OutboxDir, evs)
	bad := filepath.Join(cfg.OutboxDir, "00000000T000000.000000Z-bad-0000.batch")
	os.WriteFile(bad, []byte("{\"id\":\"x\",\"act"), 0o600)
	res, err := e.tracker(cfg).Sync(context.Background())
	if err != nil || res.Sent != 4 || len(res.Warnings) != 1 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	if _, err := os.Stat(bad + ".unreadable"); err != nil {
		t.Errorf("damaged batch not put aside: %v", err)
	}
}

// Record per file is coalesced: the first call sends, the next ones within
// MinFlushInterval only queue, Sync sends the rest in one go.
func TestRecordCoalescesPerFileCalls(t *testing.T) {
	e := newEnv(t, envOpt{})
	cfg := e.config()
	cfg.MinFlushInterval = time.Hour
	tr := e.tracker(cfg)
	evs := genEvents(200, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	first := mustRecord(t, tr, evs[:1])
	if first.Sent != 1 || first.Deferred {
		t.Fatalf("first: %+v", first)
	}
	for i := 1; i < len(evs); i++ {
		res := mustRecord(t, tr, evs[i:i+1])
		if !res.Deferred || res.Pending != i {
			t.Fatalf("record %d: %+v", i, res)
		}
	}
	before := e.fake.Stats().Writes
	res, err := tr.Sync(context.Background())
	if err != nil || res.Sent != 199 || res.Pending != 0 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	if w := e.fake.Stats().Writes - before; w > 8 {
		t.Errorf("199 queued events took %d writes", w)
	}
	e.assertExactlyOnce(evs)
}

// A batch the Sheet took only part of is not rewritten: the outbox notes
// which events the Log was seen to hold, and the next Sync sends only the
// others (none is found "already there": none is sent twice), then the
// batch leaves the outbox.
func TestPartlyConfirmedBatchSendsOnlyTheRest(t *testing.T) {
	e := newEnv(t, envOpt{})
	cfg := e.config()
	cfg.RowsPerRequest = 2
	tr := e.tracker(cfg)
	ctx := context.Background()
	if err := tr.Init(ctx); err != nil {
		t.Fatal(err)
	}
	evs := genEvents(4, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	id := queue(t, cfg.OutboxDir, evs)
	batch := filepath.Join(cfg.OutboxDir, id+".batch")
	before, _ := os.ReadFile(batch)
	// The first append of two rows is applied but never answered; the
	// next round reads them back (confirmed), and its append of the other
	// two is refused (access taken away).
	e.fake.Inject(sheetsfakeFault{Op: "values.append", ApplyThenDrop: true})
	e.fake.Inject(sheetsfakeFault{Op: "values.append", Status: 403})
	res, err := tr.Sync(ctx)
	if err != nil || res.Pending != 2 || res.NotSent == nil {
		t.Fatalf("sync through the refusal: %+v %v", res, err)
	}
	receipt, err := os.ReadFile(filepath.Join(cfg.OutboxDir, id+".tracker.receipt"))
	if err != nil || !strings.Contains(string(receipt), evs[0].ID) || !strings.Contains(string(receipt), evs[1].ID) || strings.Contains(string(receipt), evs[2].ID) {
		t.Fatalf("receipt: %s %v", receipt, err)
	}
	if after, _ := os.ReadFile(batch); string(after) != string(before) {
		t.Fatal("the batch was rewritten")
	}
	res, err = tr.Sync(ctx)
	if err != nil || res.Sent != 2 || res.AlreadyThere != 0 || res.Pending != 0 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	e.assertExactlyOnce(evs)
	if entries, _ := os.ReadDir(cfg.OutboxDir); len(entries) > 0 {
		for _, de := range entries {
			if !strings.HasPrefix(de.Name(), ".") {
				t.Errorf("left in the outbox: %s", de.Name())
			}
		}
	}
}
