package hashing

import (
	"fmt"
	"testing"
)

func BenchmarkZZWrite(b *testing.B) {
	data := pattern(256<<20, 1)
	for _, ws := range []int{256 << 10, 512 << 10, 1 << 20, 2 << 20, 8 << 20} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("w%d-%dK", workers, ws>>10), func(b *testing.B) {
				h := NewParallelBLAKE3(workers)
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					h.Reset()
					for o := 0; o < len(data); o += ws {
						h.Write(data[o : o+ws])
					}
				}
			})
		}
	}
}
