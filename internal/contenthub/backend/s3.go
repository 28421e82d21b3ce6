package backend

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// S3Config says where the hub is on an S3-compatible service and how to
// upload to it. Credentials and region come from the standard AWS chain
// (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN,
// AWS_REGION / AWS_DEFAULT_REGION, AWS_PROFILE with the shared config and
// credentials files, SSO, …), custom CAs from AWS_CA_BUNDLE.
type S3Config struct {
	// Bucket holds the hub; Prefix (optional, "team/show") is the folder
	// in it, so that several hubs can share a bucket. ParseS3URL splits an
	// "s3://BUCKET/PREFIX" hub URL into the two.
	Bucket string
	Prefix string
	// Endpoint is the service's URL (the CLI's --s3-endpoint), such as
	// "http://nas.local:7070". Empty: AWS_ENDPOINT_URL_S3 or
	// AWS_ENDPOINT_URL (or the profile's endpoint_url), else AWS itself.
	Endpoint string
	// Region overrides the chain's region; with none there, us-east-1.
	Region string
	// Profile overrides AWS_PROFILE.
	Profile string
	// VirtualHostedStyle addresses BUCKET.host even on a custom endpoint,
	// where path style (host/BUCKET) is the default because MinIO, NAS
	// gateways and IP-address endpoints need it.
	VirtualHostedStyle bool
	// Credentials, if set, replaces the chain's credentials.
	Credentials aws.CredentialsProvider

	// MultipartThreshold: larger objects are uploaded in parts, which a
	// later Put resumes (default 64 MiB).
	MultipartThreshold int64
	// PartSize of multipart uploads (default 16 MiB). S3 wants at least
	// 5 MiB; it is raised as needed to stay within 10,000 parts. A resumed
	// upload must use the same part size to reuse the parts it finds.
	PartSize int64
	// Concurrency is how many parts are uploaded at once (default 4).
	Concurrency int
	// StallTimeout abandons a request whose body (either way) moves no byte
	// for this long (default 2 minutes): a connection that silently died
	// otherwise hangs until TCP gives up, a quarter of an hour later.
	StallTimeout time.Duration
}

// S3 is the backend for S3-compatible services. It relies on the SDK for
// signing, endpoints and credentials only: its own retries are off, because
// retrying is WithRetry's job.
type S3 struct {
	client   *s3.Client
	creds    aws.CredentialsProvider
	bucket   string
	prefix   string // "" or ending in "/"
	endpoint string // for messages
	profile  string

	threshold   int64
	partSize    int64
	concurrency int
	stall       time.Duration

	// noIfNoneMatch is set once the server said it cannot do conditional
	// writes; IfNotExists then rests on the Stat before the upload.
	noIfNoneMatch atomic.Bool
	// verified is set once the bucket and credentials are known to work.
	verified atomic.Bool

	mu         sync.Mutex
	transports []*http.Transport // to close idle connections

	bufs partBuffers // for costly sources' parts
}

var _ Backend = (*S3)(nil)
var _ UploadAborter = (*S3)(nil)

// OpenS3 prepares a client for the hub in cfg.Bucket under cfg.Prefix. It
// does not contact the server: a hub that is down or misconfigured shows in the first operation,
// with an error that says what to fix.
func OpenS3(ctx context.Context, cfg S3Config) (*S3, error) {
	bucket, prefix, err := checkBucketPrefix(cfg.Bucket, cfg.Prefix)
	if err != nil {
		return nil, err
	}
	b := &S3{
		bucket:      bucket,
		prefix:      prefix,
		threshold:   cfg.MultipartThreshold,
		partSize:    cfg.PartSize,
		concurrency: cfg.Concurrency,
		stall:       cfg.StallTimeout,
		profile:     cfg.Profile,
	}
	if b.threshold <= 0 {
		b.threshold = 64 << 20
	}
	if b.partSize <= 0 {
		b.partSize = 16 << 20
	}
	if b.concurrency <= 0 {
		b.concurrency = 4
	}
	if b.stall <= 0 {
		b.stall = 2 * time.Minute
	}
	b.bufs.budget = int64(b.concurrency) * b.partSize
	if cfg.Endpoint != "" {
		if err := checkEndpoint(cfg.Endpoint); err != nil {
			return nil, err
		}
	}

	// The SDK can only add AWS_CA_BUNDLE's certificates to a client it can
	// rebuild, so the transport is tuned through a BuildableClient.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		// Counted from the end of the request body: a server assembling
		// a large multipart object may take a while to answer.
		tr.ResponseHeaderTimeout = 5 * time.Minute
		tr.MaxIdleConnsPerHost = max(b.concurrency, 2) * 2
		b.mu.Lock()
		b.transports = append(b.transports, tr)
		b.mu.Unlock()
	}).WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = 15 * time.Second
	})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("S3 configuration for s3://%s/%s: %w", bucket, prefix, err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1" // what gateways and MinIO expect by default
	}
	b.creds = awsCfg.Credentials
	b.client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		// BaseEndpoint now also holds AWS_ENDPOINT_URL(_S3), if set.
		if o.BaseEndpoint != nil && !cfg.VirtualHostedStyle {
			o.UsePathStyle = true
		}
		// Content-MD5 and the signed SHA-256 (see withPayloadHash) already
		// protect every upload; the SDK's default CRC32 trailer is not
		// understood by every S3-compatible service.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true
		o.Retryer = aws.NopRetryer{}
	})
	if ep := b.client.Options().BaseEndpoint; ep != nil {
		if err := checkEndpoint(*ep); err != nil {
			return nil, err
		}
		b.endpoint = redactURL(*ep)
	} else {
		b.endpoint = "AWS S3 (" + awsCfg.Region + ")"
	}
	return b, nil
}

// ParseS3URL splits a hub URL "s3://BUCKET" or "s3://BUCKET/PREFIX" into
// bucket and prefix.
func ParseS3URL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", fmt.Errorf("hub URL %q: want s3://BUCKET or s3://BUCKET/PREFIX", u)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if _, _, err := checkBucketPrefix(bucket, prefix); err != nil {
		return "", "", fmt.Errorf("hub URL %q: %w", u, err)
	}
	return bucket, strings.Trim(prefix, "/"), nil
}

// checkBucketPrefix validates them and returns the prefix as keys are
// prefixed with it: "" or ending in "/".
func checkBucketPrefix(bucket, prefix string) (string, string, error) {
	if bucket == "" {
		return "", "", errors.New("no S3 bucket given")
	}
	if strings.ContainsAny(bucket, "/\\?#") || strings.TrimSpace(bucket) != bucket {
		return "", "", fmt.Errorf("S3 bucket name %q", bucket)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := ValidateKey(prefix); err != nil {
			return "", "", fmt.Errorf("S3 prefix: %w", err)
		}
		prefix += "/"
	}
	return bucket, prefix, nil
}

func checkEndpoint(ep string) error {
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("S3 endpoint %q: want a URL such as http://HOST:PORT or https://HOST", redactURL(ep))
	}
	return nil
}

// redactURL drops user information and query from an endpoint URL for
// messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable endpoint)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

// Location returns "s3://BUCKET/PREFIX at ENDPOINT".
func (b *S3) Location() string {
	return fmt.Sprintf("s3://%s/%s at %s", b.bucket, b.prefix, b.endpoint)
}

// Close drops idle connections.
func (b *S3) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, tr := range b.transports {
		tr.CloseIdleConnections()
	}
	return nil
}

// Put uploads src in one request up to the multipart threshold, in parts
// above it. Every request carries the body's MD5 (Content-MD5) and its signed
// SHA-256, both checked by the server, so a body corrupted on the way is
// refused rather than stored.
func (b *S3) Put(ctx context.Context, key string, src Source, opts PutOptions) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if opts.IfNotExists {
		// Saves uploading what is there already; If-None-Match below
		// settles races.
		_, err := b.stat(ctx, key)
		if err == nil {
			return fmt.Errorf("put %s: %w", key, ErrExists)
		}
		if !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	var err error
	if src.Length() <= b.threshold {
		err = b.putObject(ctx, key, src, opts)
	} else {
		err = b.putMultipart(ctx, key, src, opts)
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (b *S3) putObject(ctx context.Context, key string, src Source, opts PutOptions) (err error) {
	size := src.Length()
	sums, from, at, release, err := b.partData(ctx, src, 0, size)
	if err != nil {
		return err
	}
	defer func() { release(err == nil) }()
	for {
		body := b.newSendBody(ctx, from, at, size, opts)
		in := &s3.PutObjectInput{
			Bucket:        &b.bucket,
			Key:           aws.String(b.prefix + key),
			Body:          body,
			ContentLength: aws.Int64(size),
			ContentMD5:    aws.String(sums.md5Base64()),
		}
		conditional := opts.IfNotExists && !b.noIfNoneMatch.Load()
		if conditional {
			in.IfNoneMatch = aws.String("*")
		}
		_, err := b.client.PutObject(body.ctx, in, withPayloadHash(sums.sha256Hex()))
		err = body.finish(err)
		if err == nil {
			return nil
		}
		if conditional && isNotImplemented(err) {
			b.noIfNoneMatch.Store(true)
			continue
		}
		return b.mapErr(ctx, "put", key, err)
	}
}

// partSums holds the checksums of a part (or of a whole small object).
type partSums struct{ md5, sha256 []byte }

func (s partSums) md5Base64() string { return base64.StdEncoding.EncodeToString(s.md5) }
func (s partSums) sha256Hex() string { return hex.EncodeToString(s.sha256) }

// CostlySource is a Source whose bytes cost work to produce (hubcrypt seals
// them as they are read). The S3 backend reads each part of one into
// memory once, hashes it and sends it from there, where its budget of
// buffers allows, rather than reading it once to hash and again to send.
type CostlySource interface {
	Source
	CostlyToRead()
}

// partData hashes the n bytes of src at off and says where to send them
// from (from at at); release(sent) must be called once they are sent or
// the request failed.
func (b *S3) partData(ctx context.Context, src Source, off, n int64) (sums partSums, from Source, at int64, release func(sent bool), err error) {
	if _, ok := src.(CostlySource); ok {
		if buf := b.bufs.get(n); buf != nil {
			if err := readFull(src, buf, off); err != nil {
				b.bufs.put(buf)
				return partSums{}, nil, 0, nil, err
			}
			m, h := md5.Sum(buf), sha256.Sum256(buf)
			return partSums{md5: m[:], sha256: h[:]}, BytesSource(buf), 0, func(sent bool) {
				if sent {
					b.bufs.put(buf)
				} else {
					// The HTTP transport may still be reading a
					// failed request's body: leave it to the GC.
					b.bufs.lost(buf)
				}
			}, nil
		}
	}
	sums, err = hashSection(ctx, src, off, n)
	return sums, src, off, func(bool) {}, err
}

// partBuffers lends the buffers partData reads parts into, up to a budget
// of bytes lent and kept; past it, parts are read twice. Returned buffers
// are kept for the next parts (a fresh one costs page faults).
type partBuffers struct {
	mu     sync.Mutex
	budget int64 // bytes neither lent nor kept
	free   [][]byte
}

func (p *partBuffers) get(n int64) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, b := range p.free {
		if int64(cap(b)) >= n {
			p.free = slices.Delete(p.free, i, i+1)
			return b[:n]
		}
	}
	for p.budget < n && len(p.free) > 0 {
		last := p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		p.budget += int64(cap(last))
	}
	if p.budget < n {
		return nil
	}
	p.budget -= n
	return make([]byte, n)
}

func (p *partBuffers) put(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = append(p.free, b[:0])
}

func (p *partBuffers) lost(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget += int64(cap(b))
}

// hashSection reads n bytes of src at off once for both checksums.
func hashSection(ctx context.Context, src Source, off, n int64) (partSums, error) {
	m, h := md5.New(), sha256.New()
	w := io.MultiWriter(m, h)
	buf := make([]byte, min(n, 1<<20))
	for done := int64(0); done < n; {
		if err := ctx.Err(); err != nil {
			return partSums{}, err
		}
		k := int(min(int64(len(buf)), n-done))
		if err := readFull(src, buf[:k], off+done); err != nil {
			return partSums{}, err
		}
		w.Write(buf[:k])
		done += int64(k)
	}
	return partSums{md5: sum(m), sha256: sum(h)}, nil
}

func sum(h hash.Hash) []byte { return h.Sum(nil) }

// withPayloadHash hands the SDK the SHA-256 we computed, so it neither reads
// the body a second time to compute it nor, over https, falls back to
// UNSIGNED-PAYLOAD: the server checks the body against the signed hash.
func withPayloadHash(sha256Hex string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("editkitPayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					return next.HandleFinalize(v4.SetPayloadHash(ctx, sha256Hex), in)
				}), middleware.Before)
		})
	}
}

// errStalled is the cause of a request abandoned by the stall watchdog.
var errStalled = errors.New("no data moved")

// sendBody is an upload's request body: a section of the source that meters
// what the HTTP transport takes from it and cancels the request when the
// transport stops taking (the connection died without telling).
type sendBody struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	r      *io.SectionReader
	meter  func(context.Context, int) error
	timer  *time.Timer
	stall  time.Duration
}

func (b *S3) newSendBody(ctx context.Context, src Source, off, n int64, opts PutOptions) *sendBody {
	rctx, cancel := context.WithCancelCause(ctx)
	return &sendBody{
		ctx:    rctx,
		cancel: cancel,
		r:      io.NewSectionReader(src, off, n),
		meter:  opts.meter,
		timer:  time.AfterFunc(b.stall, func() { cancel(errStalled) }),
		stall:  b.stall,
	}
}

func (s *sendBody) Read(p []byte) (int, error) {
	s.timer.Reset(s.stall)
	n, err := s.r.Read(p)
	if err == io.EOF {
		// Sent: from here the transport's response timeout watches.
		s.timer.Stop()
	}
	if n > 0 {
		if merr := s.meter(s.ctx, n); merr != nil {
			return 0, merr
		}
	}
	return n, err
}

func (s *sendBody) Seek(offset int64, whence int) (int64, error) {
	return s.r.Seek(offset, whence)
}

// finish ends the request's watchdog; a stalled request's error says so.
func (s *sendBody) finish(err error) error {
	s.timer.Stop()
	stalled := errors.Is(context.Cause(s.ctx), errStalled)
	s.cancel(nil)
	if err != nil && stalled {
		return markTransient(fmt.Errorf("upload stalled: the connection took no data for %v: %w", s.stall, err))
	}
	return err
}

// Get downloads a range of the object. Reading the body is watched like an
// upload: a connection that stops delivering fails after StallTimeout
// instead of hanging.
func (b *S3) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if err := checkOffset(offset); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if length == 0 {
		if _, err := b.stat(ctx, key); err != nil {
			return nil, fmt.Errorf("get %s: %w", key, err)
		}
		return emptyReader{}, nil
	}
	in := &s3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)}
	if length > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	} else if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	rctx, cancel := context.WithCancelCause(ctx)
	out, err := b.client.GetObject(rctx, in)
	if err != nil {
		cancel(nil)
		err = b.mapErr(ctx, "get", key, err)
		if errors.Is(err, ErrInvalidRange) && offset == 0 {
			// A range on an empty object: there is nothing to read.
			if info, serr := b.stat(ctx, key); serr == nil && info.Size == 0 {
				return emptyReader{}, nil
			}
		}
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	r := &recvBody{body: out.Body, ctx: rctx, cancel: cancel, stall: b.stall, b: b, key: key}
	r.timer = time.AfterFunc(b.stall, func() { cancel(errStalled) })
	r.timer.Stop()
	return r, nil
}

// recvBody is a download's response body with a watchdog on each Read.
type recvBody struct {
	body   io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	stall  time.Duration
	b      *S3
	key    string
}

func (r *recvBody) Read(p []byte) (int, error) {
	r.timer.Reset(r.stall)
	n, err := r.body.Read(p)
	r.timer.Stop()
	if err != nil && err != io.EOF {
		cause := context.Cause(r.ctx)
		switch {
		case errors.Is(cause, errStalled):
			err = markTransient(fmt.Errorf("get %s: download stalled: no data for %v: %w", r.key, r.stall, err))
		case cause != nil:
			err = fmt.Errorf("get %s: %w", r.key, err) // the caller gave up
		default:
			// A broken download is worth resuming from where it broke.
			err = markTransient(fmt.Errorf("get %s: %w", r.key, r.b.scrub(r.ctx, err)))
		}
	}
	return n, err
}

func (r *recvBody) Close() error {
	r.timer.Stop()
	err := r.body.Close()
	r.cancel(nil)
	return err
}

// Stat asks for the object's metadata (HEAD).
func (b *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	info, err := b.stat(ctx, key)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return info, nil
}

func (b *S3) stat(ctx context.Context, key string) (ObjectInfo, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)})
	if err != nil {
		return ObjectInfo{}, b.mapErr(ctx, "stat", key, err)
	}
	b.verified.Store(true)
	return ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified)}, nil
}

// Delete removes the object; S3 answers a delete of a missing key with
// success, some servers with NoSuchKey.
func (b *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)})
	if err != nil {
		err = b.mapErr(ctx, "delete", key, err)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List pages through ListObjectsV2, which returns keys in byte-wise order.
// Objects that no Backend call could name (written by other tools, "folder"
// markers ending in "/") are skipped.
func (b *S3) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := validatePrefix(prefix); err != nil {
			yield(ObjectInfo{}, fmt.Errorf("list: %w", err))
			return
		}
		p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
			Bucket: &b.bucket,
			Prefix: aws.String(b.prefix + prefix),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(ObjectInfo{}, fmt.Errorf("list %s: %w", prefix, b.mapErr(ctx, "list", prefix, err)))
				return
			}
			for _, o := range page.Contents {
				key := strings.TrimPrefix(aws.ToString(o.Key), b.prefix)
				if validateKey(key) != nil {
					continue
				}
				if !yield(ObjectInfo{Key: key, Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)}, nil) {
					return
				}
			}
		}
	}
}
