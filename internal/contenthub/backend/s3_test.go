package backend

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/editkit/editkit/internal/contenthub/backend/s3test"
	"github.com/editkit/editkit/internal/slowtest"
)

// Test sizes: parts of S3's minimum size, objects of a few parts.
const (
	testPartSize  = 5 << 20
	testThreshold = 8 << 20
	testBigSize   = 26 << 20 // six parts, the last one 1 MiB
	// testCut lies past the first round of three concurrent parts, so at
	// least one part is complete when the upload is cut.
	testCut = 17 << 20
)

var prefixSeq atomic.Int64

// openS3Test opens a backend on a fresh prefix of srv's bucket.
func openS3Test(t *testing.T, srv *s3test.Server, mod ...func(*S3Config)) *S3 {
	t.Helper()
	cfg := S3Config{
		Bucket:             srv.Bucket,
		Prefix:             "t" + strconv.FormatInt(prefixSeq.Add(1), 10),
		Endpoint:           srv.Endpoint,
		Region:             srv.Region,
		Credentials:        srv.Credentials(),
		MultipartThreshold: testThreshold,
		PartSize:           testPartSize,
		Concurrency:        3,
	}
	for _, m := range mod {
		m(&cfg)
	}
	b, err := OpenS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestS3Conformance(t *testing.T) {
	srv := s3test.Start(t)
	runConformance(t, fixture{
		open:    func(t *testing.T) Backend { return openS3Test(t, srv) },
		bigSize: testBigSize,
		cut:     testCut,
	})
}

// TestS3ServerKilledMidUpload: the server dies (SIGKILL) during a multipart
// upload and comes back; the next Put finds the pending upload and sends
// only the parts the server does not have.
func TestS3ServerKilledMidUpload(t *testing.T) {
	slowtest.Skip(t, "fault injection against the S3 server")
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.Endpoint)
	b := openS3Test(t, srv, func(c *S3Config) { c.Endpoint = proxy.URL })
	data := randomData(30, testBigSize)

	m := &meterCount{cut: testCut, onCut: func() error { srv.Kill(); return nil }}
	err := b.Put(context.Background(), "blobs/ki/killed", BytesSource(data), PutOptions{Meter: m.meter})
	if err == nil {
		t.Fatal("put succeeded although the server was killed")
	}
	if !IsTransient(err) {
		t.Errorf("server gone: %v is not transient", err)
	}
	t.Logf("while the server was killed: %v", err)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}

	before := proxy.BodyBytes()
	m2 := &meterCount{}
	if err := b.Put(context.Background(), "blobs/ki/killed", BytesSource(data), PutOptions{Meter: m2.meter}); err != nil {
		t.Fatal(err)
	}
	wire := proxy.BodyBytes() - before
	t.Logf("resumed after the restart: %d bytes on the wire (%d metered) of %d", wire, m2.n.Load(), len(data))
	if wire >= int64(len(data)) || m2.n.Load() >= int64(len(data)) {
		t.Errorf("resumed put sent %d bytes of %d", wire, len(data))
	}
	// The meter counts what goes on the wire (plus a few bytes of XML).
	if d := wire - m2.n.Load(); d < 0 || d > 64<<10 {
		t.Errorf("wire %d vs metered %d", wire, m2.n.Load())
	}
	checkObject(t, b, "blobs/ki/killed", data)
}

// TestS3RetryAcrossRestart: WithRetry carries a Put over a server that dies
// mid-upload and comes back a second later.
func TestS3RetryAcrossRestart(t *testing.T) {
	slowtest.Skip(t, "fault injection against the S3 server")
	srv := s3test.Start(t)
	b := openS3Test(t, srv)
	data := randomData(31, testBigSize)
	restarted := make(chan error, 1)
	m := &meterCount{cut: testCut, onCut: func() error {
		srv.Kill()
		go func() {
			time.Sleep(time.Second)
			restarted <- srv.Start()
		}()
		return nil
	}}
	var notes []string
	p := fastRetry()
	p.Notify = func(n RetryNote) { notes = append(notes, n.Err.Error()) }
	if err := WithRetry(b, p).Put(context.Background(), "blobs/rs/restart", BytesSource(data), PutOptions{Meter: m.meter}); err != nil {
		t.Fatal(err)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d retries; sent %d bytes for %d; first error: %s", len(notes), m.n.Load(), len(data), notes[0])
	if m.n.Load() >= 2*int64(len(data)) {
		t.Errorf("sent %d bytes for %d: retries did not resume", m.n.Load(), len(data))
	}
	checkObject(t, b, "blobs/rs/restart", data)

	// A server that is down when the Put starts.
	srv.Stop()
	go func() {
		time.Sleep(time.Second)
		restarted <- srv.Start()
	}()
	if err := WithRetry(b, p).Put(context.Background(), "events/after", BytesSource([]byte("x")), PutOptions{IfNotExists: true}); err != nil {
		t.Fatal(err)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
}

// TestS3DamagedPartsAreReplaced: parts that the server holds but that do
// not match the local data — cut short on the server's disk, or uploaded with
// other content — are found by ListParts (size, ETag) and sent again.
func TestS3DamagedPartsAreReplaced(t *testing.T) {
	slowtest.Skip(t, "fault injection against the S3 server")
	srv := s3test.Start(t)
	b := openS3Test(t, srv, func(c *S3Config) { c.Concurrency = 1 })
	data := randomData(32, testBigSize)
	key := "blobs/dm/damaged"
	ctx, cancel := context.WithCancel(context.Background())
	m := &meterCount{cut: 4*testPartSize + 1, onCut: func() error { cancel(); return context.Canceled }}
	if err := b.Put(ctx, key, BytesSource(data), PutOptions{Meter: m.meter}); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}

	raw := srv.Client()
	full := b.prefix + key
	ups, err := raw.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &srv.Bucket, Prefix: &full})
	if err != nil || len(ups.Uploads) != 1 {
		t.Fatalf("pending uploads: %v, %v", ups, err)
	}
	id := ups.Uploads[0].UploadId
	parts, err := raw.ListParts(context.Background(), &s3.ListPartsInput{Bucket: &srv.Bucket, Key: &full, UploadId: id})
	if err != nil || len(parts.Parts) != 4 {
		t.Fatalf("parts: %v, %v", parts, err)
	}

	// Part 1 cut short on the server's disk.
	files, err := srv.PartFiles()
	if err != nil {
		t.Fatal(err)
	}
	var part1 string
	for _, f := range files {
		if filepath.Base(f) == "1" && filepath.Base(filepath.Dir(f)) == *id {
			part1 = f
		}
	}
	if part1 == "" {
		t.Fatalf("part 1 not found among %q", files)
	}
	if err := os.Truncate(part1, 1<<20); err != nil {
		t.Fatal(err)
	}
	// Part 3 replaced with other data of the same size.
	other := randomData(33, testPartSize)
	sum := md5.Sum(other)
	if _, err := raw.UploadPart(context.Background(), &s3.UploadPartInput{
		Bucket: &srv.Bucket, Key: &full, UploadId: id, PartNumber: aws.Int32(3),
		Body: bytes.NewReader(other), ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	}); err != nil {
		t.Fatal(err)
	}

	m = &meterCount{}
	if err := b.Put(context.Background(), key, BytesSource(data), PutOptions{Meter: m.meter}); err != nil {
		t.Fatal(err)
	}
	// Parts 2 and 4 were kept; 1, 3, 5 and 6 were sent.
	if want := int64(len(data)) - 2*testPartSize; m.n.Load() != want {
		t.Errorf("sent %d bytes, want %d (parts 1, 3, 5, 6)", m.n.Load(), want)
	}
	checkObject(t, b, key, data)
}

// TestS3CorruptedInTransit: a proxy flips a bit of request bodies. The
// server refuses them (Content-MD5, signed SHA-256): the Put fails with a
// transient error, nothing is stored, and WithRetry gets it through once the
// proxy stops damaging.
func TestS3CorruptedInTransit(t *testing.T) {
	slowtest.Skip(t, "fault injection against the S3 server")
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.Endpoint)
	b := openS3Test(t, srv, func(c *S3Config) { c.Endpoint = proxy.URL })
	data := randomData(34, 1<<20)

	proxy.CorruptNext(1)
	err := b.Put(context.Background(), "blobs/co/small", BytesSource(data), PutOptions{})
	if err == nil {
		t.Fatal("a corrupted upload was accepted")
	}
	t.Logf("corrupted body: %v", err)
	if !IsTransient(err) {
		t.Errorf("not transient: %v", err)
	}
	if !strings.Contains(err.Error(), "BadDigest") && !strings.Contains(err.Error(), "XAmzContentSHA256Mismatch") {
		t.Errorf("the server did not refuse it for its checksum: %v", err)
	}
	if _, err := b.Stat(context.Background(), "blobs/co/small"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the corrupted object was stored: %v", err)
	}

	rb := WithRetry(b, fastRetry())
	proxy.CorruptNext(2)
	if err := rb.Put(context.Background(), "blobs/co/small", BytesSource(data), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	checkObject(t, b, "blobs/co/small", data)

	// The same for a part of a multipart upload.
	big := randomData(35, testBigSize)
	proxy.CorruptNext(1)
	if err := rb.Put(context.Background(), "blobs/co/big", BytesSource(big), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if proxy.Corrupted() != 4 {
		t.Errorf("%d bodies corrupted, want 4", proxy.Corrupted())
	}
	checkObject(t, b, "blobs/co/big", big)
}

// TestS3WrongCredentials: each wrong credential gets a message that names
// it, the endpoint and what to set, and shows neither key.
func TestS3WrongCredentials(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	mustPut(t, openS3Test(t, srv), "events/x", []byte("x"))

	// Counted, not timed: a refused credential is never retried.
	var retries atomic.Int32
	policy := fastRetry()
	policy.Notify = func(RetryNote) { retries.Add(1) }
	check := func(b Backend, wants ...string) {
		t.Helper()
		for _, op := range []func() error{
			func() error { return b.Put(ctx, "events/y", BytesSource([]byte("y")), PutOptions{}) },
			func() error { _, err := b.Stat(ctx, "events/x"); return err }, // HEAD: no error body
			func() error { _, err := b.Get(ctx, "events/x", 0, -1); return err },
			func() error {
				for _, err := range b.List(ctx, "") {
					return err
				}
				return nil
			},
		} {
			err := op()
			if !errors.Is(err, ErrAuth) || IsTransient(err) {
				t.Errorf("got %v, want ErrAuth", err)
				continue
			}
			if n := retries.Swap(0); n != 0 {
				t.Errorf("refused credentials were retried %d times", n)
			}
			for _, w := range append(wants, srv.Endpoint) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			for _, secret := range []string{srv.SecretKey, "WRONGACCESSKEY", "wrong-secret-key"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%q shows a credential", err)
				}
			}
		}
	}
	wrongKey := WithRetry(openS3Test(t, srv, func(c *S3Config) {
		c.Credentials = credentials.NewStaticCredentialsProvider("WRONGACCESSKEY", srv.SecretKey, "")
	}), policy)
	check(wrongKey, "AWS_ACCESS_KEY_ID", "not known to the server")
	wrongSecret := WithRetry(openS3Test(t, srv, func(c *S3Config) {
		c.Credentials = credentials.NewStaticCredentialsProvider(srv.AccessKey, "wrong-secret-key", "")
	}), policy)
	check(wrongSecret, "AWS_SECRET_ACCESS_KEY", "does not match")

	// From the environment, the message says so; the log shows no secret.
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-key")
	var logBuf syncBuffer
	env := WithLogging(openS3Test(t, srv, func(c *S3Config) { c.Credentials = nil }), slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	check(env, "AWS_SECRET_ACCESS_KEY", "from the environment")
	if strings.Contains(logBuf.String(), "wrong-secret-key") || !strings.Contains(logBuf.String(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("log:\n%s", logBuf.String())
	}
}

func TestS3MissingBucketAndEndpoint(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	nb := openS3Test(t, srv, func(c *S3Config) { c.Bucket = "no-such-bucket" })
	err := nb.Put(ctx, "events/x", BytesSource([]byte("x")), PutOptions{})
	if !errors.Is(err, ErrNoBucket) || !strings.Contains(err.Error(), "create it") || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Errorf("missing bucket: %v", err)
	}
	for _, err := range nb.List(ctx, "") {
		if !errors.Is(err, ErrNoBucket) {
			t.Errorf("list in missing bucket: %v", err)
		}
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()
	down := openS3Test(t, srv, func(c *S3Config) { c.Endpoint = dead })
	_, err = down.Stat(ctx, "events/x")
	if !IsTransient(err) || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("unreachable endpoint: %v", err)
	}
	p := fastRetry()
	p.MaxAttempts = 3
	if _, err := WithRetry(down, p).Stat(ctx, "events/x"); err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("retried unreachable endpoint: %v", err)
	}

	for _, bad := range []S3Config{{}, {Bucket: "b/c"}, {Bucket: "b", Prefix: "../x"}, {Bucket: "b", Endpoint: "127.0.0.1:9000"}} {
		if _, err := OpenS3(ctx, bad); err == nil {
			t.Errorf("OpenS3(%+v) accepted", bad)
		}
	}
	for u, want := range map[string][2]string{
		"s3://b": {"b", ""}, "s3://b/": {"b", ""}, "s3://b/team/show/": {"b", "team/show"},
		"b/c": {}, "s3://": {}, "s3:///x": {}, "s3://b/../x": {}, "s3://b/a//c": {},
	} {
		bucket, prefix, err := ParseS3URL(u)
		if (err == nil) != (want[0] != "") || bucket != want[0] || prefix != want[1] {
			t.Errorf("ParseS3URL(%q) = %q, %q, %v", u, bucket, prefix, err)
		}
	}
}

// TestS3TLS: an https endpoint signed by a private CA works once
// AWS_CA_BUNDLE names that CA, and fails with a clear message while it names
// the system bundle only (as this environment's does).
func TestS3TLS(t *testing.T) {
	srv := s3test.StartTLS(t)
	ctx := context.Background()
	t.Setenv("AWS_CA_BUNDLE", srv.CAFile)
	b := openS3Test(t, srv)
	data := randomData(36, 10<<20) // multipart too
	if err := b.Put(ctx, "blobs/tl/tls", BytesSource(data), PutOptions{IfNotExists: true}); err != nil {
		t.Fatal(err)
	}
	checkObject(t, b, "blobs/tl/tls", data)

	const system = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(system); err != nil {
		t.Fatalf("%s is missing (apt install ca-certificates): it is needed to show an untrusted server is refused", system)
	}
	t.Setenv("AWS_CA_BUNDLE", system)
	untrusted := openS3Test(t, srv)
	_, err := untrusted.Stat(ctx, "blobs/tl/tls")
	if err == nil || !strings.Contains(err.Error(), "not trusted") || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") || IsTransient(err) {
		t.Errorf("untrusted server: %v", err)
	}
}

// TestS3StandardChain: with nothing in S3Config but the URL, endpoint,
// credentials and region come from the standard AWS variables and files —
// with AWS_CA_BUNDLE set to the system bundle and a plain http endpoint.
func TestS3StandardChain(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		t.Setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
	}

	t.Run("environment", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
		t.Setenv("AWS_REGION", srv.Region)
		t.Setenv("AWS_ENDPOINT_URL_S3", srv.Endpoint)
		b, err := OpenS3(ctx, S3Config{Bucket: srv.Bucket, Prefix: "chain-env"})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if !strings.Contains(b.Location(), srv.Endpoint) {
			t.Errorf("location %q", b.Location())
		}
		mustPut(t, b, "events/env", []byte("env"))
		checkObject(t, b, "events/env", []byte("env"))
	})

	t.Run("profile", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config"), []byte("[profile editkit]\nregion = "+srv.Region+"\n"), 0o600)
		os.WriteFile(filepath.Join(dir, "credentials"), []byte(fmt.Sprintf(
			"[editkit]\naws_access_key_id = %s\naws_secret_access_key = %s\n[stale]\naws_access_key_id = NOTAKEY\naws_secret_access_key = x\n",
			srv.AccessKey, srv.SecretKey)), 0o600)
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
		t.Setenv("AWS_PROFILE", "editkit")
		t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
		b, err := OpenS3(ctx, S3Config{Bucket: srv.Bucket, Prefix: "chain-profile"})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		mustPut(t, b, "events/profile", []byte("profile"))
		checkObject(t, b, "events/profile", []byte("profile"))

		stale, err := OpenS3(ctx, S3Config{Bucket: srv.Bucket, Prefix: "chain-profile", Profile: "stale", Region: srv.Region})
		if err != nil {
			t.Fatal(err)
		}
		defer stale.Close()
		_, err = stale.Stat(ctx, "events/profile")
		if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), `profile "stale"`) {
			t.Errorf("stale profile: %v", err)
		}
	})
}

// TestS3ServerFeatures records what the test server supports of what the
// backend relies on, talking to it directly.
func TestS3ServerFeatures(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	raw := srv.Client()
	put := func(key string, body []byte, mod func(*s3.PutObjectInput)) error {
		in := &s3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String(key), Body: bytes.NewReader(body)}
		if mod != nil {
			mod(in)
		}
		_, err := raw.PutObject(ctx, in)
		return err
	}
	code := func(err error) string {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		if err != nil {
			return err.Error()
		}
		return "ok"
	}
	if err := put("f/a", []byte("a"), nil); err != nil {
		t.Fatal(err)
	}
	ifNoneMatch := put("f/a", []byte("b"), func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	wrongMD5 := put("f/b", []byte("b"), func(in *s3.PutObjectInput) {
		in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(make([]byte, 16)))
	})
	crc := put("f/c", []byte("c"), func(in *s3.PutObjectInput) { in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32c })
	wrongCRC := put("f/d", []byte("d"), func(in *s3.PutObjectInput) { in.ChecksumCRC32C = aws.String("AAAAAA==") })
	t.Logf("If-None-Match on an existing key: %s; wrong Content-MD5: %s; x-amz-checksum-crc32c: %s; wrong crc32c: %s",
		code(ifNoneMatch), code(wrongMD5), code(crc), code(wrongCRC))
	if code(ifNoneMatch) != "PreconditionFailed" || code(wrongMD5) != "BadDigest" {
		t.Errorf("the backend relies on If-None-Match and Content-MD5 being checked")
	}

	// If-None-Match on CompleteMultipartUpload.
	mp, err := raw.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &srv.Bucket, Key: aws.String("f/a")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := raw.UploadPart(ctx, &s3.UploadPartInput{Bucket: &srv.Bucket, Key: aws.String("f/a"), UploadId: mp.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("part"))})
	if err != nil {
		t.Fatal(err)
	}
	_, completeErr := raw.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &srv.Bucket, Key: aws.String("f/a"),
		UploadId: mp.UploadId, IfNoneMatch: aws.String("*"),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
	t.Logf("If-None-Match on CompleteMultipartUpload over an existing key: %s", code(completeErr))
	if code(completeErr) != "PreconditionFailed" {
		t.Errorf("conditional CompleteMultipartUpload not supported")
	}

	// Keys come back in byte order, also across "folders".
	for _, k := range []string{"o/a/b", "o/a-c", "o/a0"} {
		put(k, []byte("x"), nil)
	}
	out, err := raw.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &srv.Bucket, Prefix: aws.String("o/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	t.Logf("ListObjectsV2 order: %q", keys)
	if !slices.IsSorted(keys) {
		t.Errorf("server lists out of byte order: %q", keys)
	}
}

// TestS3StalledConnection: a connection that stops moving data without
// breaking (a dead Wi-Fi, a NAT that forgot us) fails after StallTimeout
// with a transient error, both ways, instead of hanging.
func TestS3StalledConnection(t *testing.T) {
	slowtest.Skip(t, "fault injection against the S3 server")
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.Endpoint)
	b := openS3Test(t, srv, func(c *S3Config) { c.Endpoint = proxy.URL; c.StallTimeout = time.Second })
	ctx := context.Background()
	data := randomData(37, testBigSize)
	// Uploaded without the short timeout, which a busy test machine might
	// hit.
	plain := openS3Test(t, srv, func(c *S3Config) { c.Prefix = strings.TrimSuffix(b.prefix, "/") })
	mustPut(t, plain, "blobs/st/stall", data)

	m := &meterCount{cut: 1 << 20, onCut: func() error { proxy.Pause(); return nil }}
	err := b.Put(ctx, "blobs/st/up", BytesSource(data), PutOptions{Meter: m.meter})
	proxy.Resume()
	t.Logf("upload: %v", err)
	// The stall detector fired (a hang would never get here).
	if !IsTransient(err) || !strings.Contains(err.Error(), "stalled") {
		t.Errorf("stalled upload: %v", err)
	}

	rc, err := b.Get(ctx, "blobs/st/stall", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 64<<10)
	if _, err := rc.Read(buf); err != nil {
		t.Fatal(err)
	}
	proxy.Pause()
	for err == nil {
		_, err = rc.Read(buf)
	}
	proxy.Resume()
	t.Logf("download: %v", err)
	// The stall detector fired (a hang would never get here).
	if !IsTransient(err) || !strings.Contains(err.Error(), "stalled") {
		t.Errorf("stalled download: %v", err)
	}
	// WithRetry picks the upload up where it stopped.
	if err := WithRetry(b, fastRetry()).Put(ctx, "blobs/st/up", BytesSource(data), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	checkObject(t, b, "blobs/st/up", data)
}

// countingSource is a CostlySource that counts the bytes read from it.
type countingSource struct {
	Source
	read atomic.Int64
}

func (c *countingSource) CostlyToRead() {}

func (c *countingSource) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.Source.ReadAt(p, off)
	c.read.Add(int64(n))
	return n, err
}

// A costly source (an encrypted hub's, sealed as it is read) is read once,
// not once to hash each part and again to send it; in one request and in
// parts. Past the budget of buffers, an upload still goes through.
func TestS3CostlySourceReadOnce(t *testing.T) {
	srv := s3test.Start(t)
	for _, size := range []int{testThreshold - 1, testBigSize} {
		b := openS3Test(t, srv)
		data := randomData(uint64(size), size)
		src := &countingSource{Source: BytesSource(data)}
		key := fmt.Sprintf("blobs/co/costly%d", size)
		if err := b.Put(context.Background(), key, src, PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := src.read.Load(); got != int64(size) {
			t.Errorf("%d bytes: %d read from the source, want each once", size, got)
		}
		checkObject(t, b, key, data)
	}
	small := openS3Test(t, srv, func(c *S3Config) { c.Concurrency = 1 })
	small.bufs.budget = testPartSize - 1
	data := randomData(7, testBigSize)
	if err := small.Put(context.Background(), "blobs/co/over", &countingSource{Source: BytesSource(data)}, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	checkObject(t, small, "blobs/co/over", data)
}
