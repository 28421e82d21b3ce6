package tracker

import (
	"context"
	"strconv"
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
