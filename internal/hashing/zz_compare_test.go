package hashing

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func dropCaches(t *testing.T) {
	exec.Command("sync").Run()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		t.Fatal(err)
	}
}

func TestZZCompare(t *testing.T) {
	path := os.Getenv("CMP_FILE")
	if path == "" {
		t.Skip()
	}
	runs, _ := strconv.Atoi(os.Getenv("CMP_RUNS"))
	cold := os.Getenv("CMP_COLD") != ""
	o := FileOptions{BLAKE3: true, XXH128: os.Getenv("CMP_XXH") != "", FromMedium: cold && os.Getenv("CMP_NOFM") == ""}
	if !cold {
		exec.Command("cat", path).Run()
	}
	fi, _ := os.Stat(path)
	gb := float64(fi.Size()) / 1e9
	var sumB, sumO, cpuO float64
	minB, minO := 1e9, 1e9
	for i := range runs {
		if cold {
			dropCaches(t)
		}
		t0 := time.Now()
		if out, err := exec.Command("b3sum", path).CombinedOutput(); err != nil {
			t.Fatal(err, string(out))
		}
		tb := time.Since(t0).Seconds()
		if cold {
			dropCaches(t)
		}
		var r0, r1 syscall.Rusage
		syscall.Getrusage(0, &r0)
		t0 = time.Now()
		if _, err := HashFile(context.Background(), path, o); err != nil {
			t.Fatal(err)
		}
		to := time.Since(t0).Seconds()
		syscall.Getrusage(0, &r1)
		t.Logf("   ours user %.3f sys %.3f", float64(r1.Utime.Nano()-r0.Utime.Nano())/1e9, float64(r1.Stime.Nano()-r0.Stime.Nano())/1e9)
		sumB += tb
		minB, minO = min(minB, tb), min(minO, to)
		cpuO += float64(r1.Utime.Nano()-r0.Utime.Nano()+r1.Stime.Nano()-r0.Stime.Nano()) / 1e9
		sumO += to
		t.Logf("run %d: b3sum %.3fs (%.2f GB/s)  HashFile %.3fs (%.2f GB/s)  ratio %.2f", i, tb, gb/tb, to, gb/to, tb/to)
	}
	t.Logf("total: b3sum %.3fs HashFile %.3fs ratio %.3f  minB %.3f minO %.3f  cpuO %.3f", sumB, sumO, sumB/sumO, minB, minO, cpuO/float64(runs))
}
