package backend

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/editkit/editkit/internal/contenthub/backend/s3test"
)

// BenchmarkHubThroughput uploads and downloads one large file to versitygw
// on loopback and to a folder, with the default part size and concurrency
// (size in MiB from EDITKIT_HUB_BENCH_MIB, default 256):
//
//	go test -run '^$' -bench HubThroughput ./internal/contenthub/backend/
func BenchmarkHubThroughput(b *testing.B) {
	mib := 256
	if v, err := strconv.Atoi(os.Getenv("EDITKIT_HUB_BENCH_MIB")); err == nil && v > 0 {
		mib = v
	}
	path := filepath.Join(b.TempDir(), "big.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	for i := range max(1, mib/16) {
		f.Write(randomData(uint64(1000+i), 16<<20))
	}
	f.Close()
	src, err := NewFileSource(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()

	run := func(b *testing.B, be Backend) {
		ctx := context.Background()
		b.SetBytes(2 * src.Length()) // up and down
		for i := 0; b.Loop(); i++ {
			key := "blobs/be/bench" + strconv.Itoa(i)
			if err := be.Put(ctx, key, src, PutOptions{}); err != nil {
				b.Fatal(err)
			}
			rc, err := be.Get(ctx, key, 0, -1)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil || n != src.Length() {
				b.Fatalf("read back %d bytes: %v", n, err)
			}
		}
	}
	b.Run("versitygw", func(b *testing.B) {
		srv := s3test.Start(b)
		s3b, err := OpenS3(context.Background(), S3Config{Bucket: srv.Bucket, Prefix: "bench", Endpoint: srv.Endpoint, Region: srv.Region, Credentials: srv.Credentials()})
		if err != nil {
			b.Fatal(err)
		}
		defer s3b.Close()
		run(b, s3b)
	})
	b.Run("folder", func(b *testing.B) {
		local, err := OpenLocal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		run(b, local)
	})
}
