package tracker

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSustainedRowsWithinQuota records pushes of 2 000 events back to
// back — 20 per op, minutes of quota — against the fake at
// Google's default quotas (60 writes and 60 reads per minute per user).
// The clock is virtual: it moves only while the tracker waits for quota,
// so the figure is the ceiling the quota puts on throughput, in rows per
// minute sustained without a single 429.
func BenchmarkSustainedRowsWithinQuota(b *testing.B) {
	const batch, batches = 2000, 20
	var rows int
	var minutes float64
	var writes, maxPerMinute int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b, envOpt{})
		tr := e.tracker(e.config())
		ctx := context.Background()
		if err := tr.Init(ctx); err != nil {
			b.Fatal(err)
		}
		all := genEvents(batch*batches, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
		start, st0 := e.clock.Now(), e.fake.Stats()
		b.StartTimer()
		for j := range batches {
			res, err := tr.Record(ctx, all[j*batch:(j+1)*batch])
			if err != nil || res.Pending != 0 {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.StopTimer()
		st := e.fake.Stats()
		if st.QuotaRejections != 0 {
			b.Fatalf("%d quota errors", st.QuotaRejections)
		}
		rows += batch * batches
		minutes += e.clock.Now().Sub(start).Minutes()
		writes += st.Writes - st0.Writes
		maxPerMinute = max(maxPerMinute, st.MaxWritesMinute)
		b.StartTimer()
	}
	b.ReportMetric(float64(rows)/minutes, "rows/min")
	b.ReportMetric(float64(writes)/minutes, "avg-writes/min")
	b.ReportMetric(float64(maxPerMinute), "max-writes-in-60s")
}

// BenchmarkRecord2000 is one 2 000-item push into a fresh sheet: real time,
// requests, and time spent waiting for quota (virtual clock) per push.
func BenchmarkRecord2000(b *testing.B) {
	for _, rows := range []int{1000, 100, 20} {
		b.Run("rows-per-request="+strconv.Itoa(rows), func(b *testing.B) {
			var reads, writes int
			var waited time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e := newEnv(b, envOpt{})
				cfg := e.config()
				cfg.RowsPerRequest = rows
				tr := e.tracker(cfg)
				evs := genEvents(2000, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
				start := e.clock.Now()
				b.StartTimer()
				res, err := tr.Record(context.Background(), evs)
				b.StopTimer()
				if err != nil || res.Pending != 0 {
					b.Fatalf("%+v %v", res, err)
				}
				st := e.fake.Stats()
				if st.QuotaRejections != 0 {
					b.Fatalf("%d quota errors", st.QuotaRejections)
				}
				reads, writes = reads+st.Reads, writes+st.Writes
				waited += e.clock.Now().Sub(start)
				b.StartTimer()
			}
			b.ReportMetric(float64(reads)/float64(b.N), "reads/op")
			b.ReportMetric(float64(writes)/float64(b.N), "writes/op")
			b.ReportMetric(waited.Seconds()/float64(b.N), "quota-wait-s/op")
		})
	}
}

// BenchmarkCSVPushToLongLog is a big copy's push (20 000 events) onto the
// log.csv of a busy year (100 000 rows), none of whose events the log
// holds: CPU seconds (user+system, from getrusage) and bytes read per push.
func BenchmarkCSVPushToLongLog(b *testing.B) {
	cfg := Config{CSVDir: b.TempDir(), Location: time.UTC}
	cfg.setDefaults()
	s := newCSVSink(cfg)
	ctx := context.Background()
	all := genEvents(120_000, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	if _, err := s.pushWith(ctx, all[:100_000], false); err != nil {
		b.Fatal(err)
	}
	logPath := filepath.Join(cfg.CSVDir, "log.csv")
	long, err := os.ReadFile(logPath)
	if err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := os.WriteFile(logPath, long, 0o644); err != nil {
			b.Fatal(err)
		}
		before := cpuTime(b)
		b.StartTimer()
		pr, err := s.pushWith(ctx, all[100_000:], false)
		b.StopTimer()
		cpu += cpuTime(b) - before
		if err != nil || pr.written != 20_000 {
			b.Fatalf("%d written, %v", pr.written, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
