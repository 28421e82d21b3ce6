// Package s3open opens hub storage on an S3 test server (package s3test)
// for tests outside package backend: the one way a test gets a ready
// backend on the real S3 server. It is apart from s3test because package
// backend's own tests import s3test, so s3test cannot import backend.
package s3open

import (
	"context"
	"testing"

	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/contenthub/backend/s3test"
)

// Backend opens the hub at prefix ("" for the bucket's root) of srv's
// bucket with the server's own credentials; mods change the configuration
// before it is opened (other credentials, part sizes). The backend closes
// when the test ends.
func Backend(t testing.TB, srv *s3test.Server, prefix string, mods ...func(*backend.S3Config)) *backend.S3 {
	t.Helper()
	cfg := backend.S3Config{
		Bucket:      srv.Bucket,
		Prefix:      prefix,
		Endpoint:    srv.Endpoint,
		Region:      srv.Region,
		Credentials: srv.Credentials(),
	}
	for _, mod := range mods {
		mod(&cfg)
	}
	b, err := backend.OpenS3(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open S3 test hub %s: %v", srv.URL(prefix), err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// Start starts an S3 test server and opens the hub at prefix on it.
func Start(t testing.TB, prefix string) (*s3test.Server, *backend.S3) {
	t.Helper()
	srv := s3test.Start(t)
	return srv, Backend(t, srv, prefix)
}
