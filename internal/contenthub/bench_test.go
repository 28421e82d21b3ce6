package contenthub

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/contenthub/s3test"
)

// TestHubThroughput measures uploads and downloads of one large file to
// versitygw on loopback and to a folder, with the default part size and
// concurrency. It runs only with EDITKIT_HUB_BENCH=1 (size in MiB from
// EDITKIT_HUB_BENCH_MIB, default 1024).
func TestHubThroughput(t *testing.T) {
	if os.Getenv("EDITKIT_HUB_BENCH") != "1" {
		t.Skip("set EDITKIT_HUB_BENCH=1 to measure throughput")
	}
	mib := 1024
	if v, err := strconv.Atoi(os.Getenv("EDITKIT_HUB_BENCH_MIB")); err == nil && v > 0 {
		mib = v
	}
	path := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range mib / 16 {
		f.Write(randomData(uint64(1000+i), 16<<20))
	}
	f.Close()
	src, err := NewFileSource(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	size := float64(src.Length()) / (1 << 20)

	measure := func(name string, b Backend) {
		ctx := context.Background()
		start := time.Now()
		if err := b.Put(ctx, "blobs/be/bench", src, PutOptions{}); err != nil {
			t.Fatal(err)
		}
		up := time.Since(start)
		start = time.Now()
		rc, err := b.Get(ctx, "blobs/be/bench", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != src.Length() {
			t.Fatalf("read back %d bytes: %v", n, err)
		}
		down := time.Since(start)
		t.Logf("%s: %.0f MiB up in %v (%.0f MiB/s), down in %v (%.0f MiB/s)",
			name, size, up.Round(time.Millisecond), size/up.Seconds(), down.Round(time.Millisecond), size/down.Seconds())
	}

	srv := s3test.Start(t)
	s3b, err := OpenS3(context.Background(), S3Config{Bucket: srv.Bucket, Prefix: "bench", Endpoint: srv.Endpoint, Region: srv.Region, Credentials: srv.Credentials()})
	if err != nil {
		t.Fatal(err)
	}
	defer s3b.Close()
	measure("versitygw, 16 MiB parts x4", s3b)

	dir := filepath.Join(t.TempDir(), "hub")
	os.Mkdir(dir, 0o755)
	local, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	measure("folder", local)
}
