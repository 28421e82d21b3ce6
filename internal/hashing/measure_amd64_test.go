//go:build amd64 && !purego

package hashing

import (
	"slices"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

// BenchmarkBLAKE3Engines is the measurement behind the package doc's
// choice of BLAKE3 engine: zeebo/blake3, ParallelBLAKE3 with the AVX-512
// kernel, and ParallelBLAKE3 on guts alone, on one core (a stream fed in
// 1 MiB writes, as copy and placement hash) and on every core (one large
// write, as HashFile shares a file). Rounds interleave the engines so that
// a busy neighbour slows them alike; it prints each engine's speed and
// the median of its per-round ratios to zeebo. It measures, it checks
// nothing, so it is a benchmark (make bench runs it once):
// go test -run '^$' -bench BLAKE3Engines -benchtime 1x ./internal/hashing/
func BenchmarkBLAKE3Engines(b *testing.B) {
	t := b
	data := pattern(256<<20, 1)
	stream := func(w interface{ Write([]byte) (int, error) }) {
		for off := 0; off < len(data); off += 1 << 20 {
			w.Write(data[off : off+1<<20])
		}
	}
	kernel := haveKernel
	defer func() { haveKernel = kernel }()
	parallel := func(withKernel bool, workers int, feed func(*ParallelBLAKE3)) func() {
		return func() {
			haveKernel = withKernel
			h := NewParallelBLAKE3(workers)
			feed(h)
			h.Sum256()
		}
	}
	whole := func(h *ParallelBLAKE3) { h.Write(data) }
	streamed := func(h *ParallelBLAKE3) { stream(h) }
	engines := []struct {
		name string
		run  func()
	}{
		{"zeebo/blake3, one core", func() { h := blake3.New(); stream(h); h.Sum(nil) }},
		{"guts alone, one core", parallel(false, 1, streamed)},
		{"guts alone, every core", parallel(false, 0, whole)},
	}
	if kernel {
		engines = append(engines,
			struct {
				name string
				run  func()
			}{"kernel, one core", parallel(true, 1, streamed)},
			struct {
				name string
				run  func()
			}{"kernel, every core", parallel(true, 0, whole)})
	} else {
		t.Log("this CPU has no AVX-512 (or GODEBUG turned it off): the kernel is not measured")
	}
	const rounds = 11
	secs := make([][]float64, len(engines))
	for range rounds {
		for i, e := range engines {
			start := time.Now()
			e.run()
			secs[i] = append(secs[i], time.Since(start).Seconds())
		}
	}
	median := func(x []float64) float64 {
		y := slices.Clone(x)
		slices.Sort(y)
		return y[len(y)/2]
	}
	for i, e := range engines {
		ratios := make([]float64, rounds)
		for k := range ratios {
			ratios[k] = secs[0][k] / secs[i][k]
		}
		t.Logf("%-24s %5.2f GB/s  %.2f× zeebo/blake3", e.name, float64(len(data))/median(secs[i])/1e9, median(ratios))
	}
}
