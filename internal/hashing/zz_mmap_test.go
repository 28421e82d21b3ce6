package hashing

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zeebo/xxh3"
	"golang.org/x/sys/unix"
)

func mmapHash(path string, win int, doXXH bool) (Sum, error) {
	f, err := os.Open(path)
	if err != nil {
		return Sum{}, err
	}
	defer f.Close()
	fi, _ := f.Stat()
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return Sum{}, err
	}
	defer unix.Munmap(m)
	b3 := NewParallelBLAKE3(0)
	x := xxh3.New()
	var wg sync.WaitGroup
	if doXXH {
		wg.Add(1)
		go func() { defer wg.Done(); x.Write(m) }()
	}
	for o := 0; o < len(m); o += win {
		b3.Write(m[o:min(o+win, len(m))])
	}
	wg.Wait()
	var s Sum
	s.BLAKE3 = b3.Sum256()
	s.XXH128 = x.Sum128().Bytes()
	return s, nil
}

func TestZZMmap(t *testing.T) {
	path := os.Getenv("CMP_FILE")
	if path == "" {
		t.Skip()
	}
	exec.Command("cat", path).Run()
	cpu := func() float64 {
		var r syscall.Rusage
		syscall.Getrusage(0, &r)
		return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e9
	}
	for rep := 0; rep < 6; rep++ {
		for _, v := range []string{"b3sum", "read", "mmap8M", "mmap64M", "mmapnoxxh"} {
			c0 := cpu()
			t0 := time.Now()
			switch v {
			case "b3sum":
				exec.Command("b3sum", path).Run()
			case "read":
				HashFile(t.Context(), path, FileOptions{BLAKE3: true, XXH128: true})
			case "mmap8M":
				mmapHash(path, 8<<20, true)
			case "mmap64M":
				mmapHash(path, 64<<20, true)
			case "mmapnoxxh":
				mmapHash(path, 8<<20, false)
			}
			t.Logf("%-10s wall %.3f cpu %.3f", v, time.Since(t0).Seconds(), cpu()-c0)
		}
	}
}
