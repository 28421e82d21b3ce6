//go:build unix

package tracker

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

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
