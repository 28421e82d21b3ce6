package backend

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/editkit/editkit/internal/run"
)

// maxParts is S3's limit on the parts of one upload.
const maxParts = 10000

// partSizeFor returns the part size for an object of size bytes: the
// configured one, or more if that would need over 10,000 parts. It depends
// on nothing but size, so a resumed upload cuts the parts as before.
func (b *S3) partSizeFor(size int64) int64 {
	ps := b.partSize
	if (size+ps-1)/ps > maxParts {
		ps = (size + maxParts - 1) / maxParts
		ps = (ps + 1<<20 - 1) &^ (1<<20 - 1) // whole MiB
	}
	return ps
}

// storedPart is what the server holds of one part.
type storedPart struct {
	size int64
	etag string
}

// putMultipart uploads src in parts. It first looks for a pending upload of
// the same key (left by an interrupted Put, maybe of another process) and
// keeps each of its parts whose size and ETag (the part's MD5) match the
// local data; only missing or different parts are sent. A failed Put leaves
// the upload pending for the next one; AbortUploads clears the forgotten.
func (b *S3) putMultipart(ctx context.Context, key string, src Source, opts PutOptions) error {
	size := src.Length()
	partSize := b.partSizeFor(size)
	nparts := int((size + partSize - 1) / partSize)
	full := b.prefix + key

	uploadID, stored, err := b.pendingUpload(ctx, key)
	if err != nil {
		return err
	}
	if uploadID == "" {
		out, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.bucket, Key: &full})
		if err != nil {
			return b.mapErr(ctx, "put", key, err)
		}
		uploadID = aws.ToString(out.UploadId)
	}

	completed := make([]types.CompletedPart, nparts)
	md5s := make([][]byte, nparts)
	err = b.forEachPart(ctx, nparts, func(ctx context.Context, i int) error {
		off := int64(i) * partSize
		n := min(partSize, size-off)
		pn := int32(i + 1)
		sums, from, at, release, err := b.partData(ctx, src, off, n)
		if err != nil {
			return err
		}
		md5s[i] = sums.md5
		if p, ok := stored[pn]; ok && p.size == n && etagIsMD5(p.etag, sums.md5) {
			release(true)
			completed[i] = types.CompletedPart{PartNumber: aws.Int32(pn), ETag: aws.String(p.etag)}
			return nil
		}
		etag, err := b.uploadPart(ctx, key, uploadID, pn, from, at, n, sums, opts)
		release(err == nil)
		if err != nil {
			return fmt.Errorf("part %d of %d: %w", pn, nparts, err)
		}
		completed[i] = types.CompletedPart{PartNumber: aws.Int32(pn), ETag: aws.String(etag)}
		return nil
	})
	if err != nil {
		return b.uploadGone(ctx, key, opts, err)
	}
	return b.complete(ctx, key, uploadID, completed, md5s, opts)
}

// pendingUpload finds the newest unfinished upload of key and what it holds.
func (b *S3) pendingUpload(ctx context.Context, key string) (string, map[int32]storedPart, error) {
	full := b.prefix + key
	var id string
	var newest time.Time
	p := newUploadsPaginator(b.client, &s3.ListMultipartUploadsInput{Bucket: &b.bucket, Prefix: &full})
	for p.more() {
		page, err := p.next(ctx)
		if err != nil {
			if isNotImplemented(err) || hasCode(err, "AccessDenied") {
				// A gateway without the call, or a policy without
				// s3:ListBucketMultipartUploads: upload without resuming.
				return "", nil, nil
			}
			return "", nil, b.mapErr(ctx, "put", key, err)
		}
		for _, u := range page.Uploads {
			if aws.ToString(u.Key) != full {
				continue // a longer key with the same beginning
			}
			if t := aws.ToTime(u.Initiated); id == "" || t.After(newest) {
				id, newest = aws.ToString(u.UploadId), t
			}
		}
	}
	if id == "" {
		return "", nil, nil
	}
	stored := make(map[int32]storedPart)
	lp := s3.NewListPartsPaginator(b.client, &s3.ListPartsInput{Bucket: &b.bucket, Key: &full, UploadId: &id})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		if err != nil {
			err = b.mapErr(ctx, "put", key, err)
			if isNoSuchUpload(err) {
				return "", nil, nil // completed or aborted meanwhile
			}
			return "", nil, err
		}
		for _, part := range page.Parts {
			stored[aws.ToInt32(part.PartNumber)] = storedPart{size: aws.ToInt64(part.Size), etag: aws.ToString(part.ETag)}
		}
	}
	return id, stored, nil
}

// forEachPart runs fn for parts 0..n-1 on up to b.concurrency goroutines
// and returns the first error, after which no new part starts.
func (b *S3) forEachPart(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var once sync.Once
	var first error
	run.EachIndex(ctx, min(b.concurrency, n), n, func(ctx context.Context, i int) {
		if err := fn(ctx, i); err != nil {
			once.Do(func() { first = err; cancel(err) })
		}
	})
	if first != nil {
		return first
	}
	return context.Cause(ctx)
}

func (b *S3) uploadPart(ctx context.Context, key, uploadID string, pn int32, src Source, off, n int64, sums partSums, opts PutOptions) (string, error) {
	body := b.newSendBody(ctx, src, off, n, opts)
	out, err := b.client.UploadPart(body.ctx, &s3.UploadPartInput{
		Bucket:        &b.bucket,
		Key:           aws.String(b.prefix + key),
		UploadId:      &uploadID,
		PartNumber:    aws.Int32(pn),
		Body:          body,
		ContentLength: aws.Int64(n),
		ContentMD5:    aws.String(sums.md5Base64()),
	}, withPayloadHash(sums.sha256Hex()))
	if err = body.finish(err); err != nil {
		return "", b.mapErr(ctx, "put", key, err)
	}
	etag := aws.ToString(out.ETag)
	if looksLikeMD5(etag) && !etagIsMD5(etag, sums.md5) {
		return "", markTransient(fmt.Errorf("server stored the part with ETag %s, not its MD5 %x", etag, sums.md5))
	}
	return etag, nil
}

// complete assembles the parts. With IfNotExists it is the conditional
// write (If-None-Match: *) that decides a race for the key.
func (b *S3) complete(ctx context.Context, key, uploadID string, parts []types.CompletedPart, md5s [][]byte, opts PutOptions) error {
	for {
		in := &s3.CompleteMultipartUploadInput{
			Bucket:          &b.bucket,
			Key:             aws.String(b.prefix + key),
			UploadId:        &uploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		}
		conditional := opts.IfNotExists && !b.noIfNoneMatch.Load()
		if conditional {
			in.IfNoneMatch = aws.String("*")
		}
		out, err := b.client.CompleteMultipartUpload(ctx, in)
		if err != nil {
			if conditional && isNotImplemented(err) {
				b.noIfNoneMatch.Store(true)
				continue
			}
			err = b.mapErr(ctx, "put", key, err)
			if errors.Is(err, ErrExists) {
				// Lost the race: our parts are of no use any more.
				b.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{
					Bucket: &b.bucket, Key: aws.String(b.prefix + key), UploadId: &uploadID,
				})
				return err
			}
			return b.uploadGone(ctx, key, opts, err)
		}
		// The object's ETag is the MD5 of the parts' MD5s: one more check
		// that the server assembled what we sent.
		want := multipartETag(md5s)
		if got := strings.Trim(aws.ToString(out.ETag), `"`); isMultipartETag(got) && got != want {
			return fmt.Errorf("server assembled an object with ETag %s, expected %s", got, want)
		}
		return nil
	}
}

// uploadGone handles an upload that disappeared under us (NoSuchUpload): it
// was completed by a concurrent Put of the same key or aborted by a prune.
// Under IfNotExists a completed object means ErrExists; otherwise the next
// attempt starts a new upload.
func (b *S3) uploadGone(ctx context.Context, key string, opts PutOptions, err error) error {
	if !isNoSuchUpload(err) {
		// Two writers racing for one key may have shared the pending
		// upload; the server then fails the second completion in its own
		// way (versitygw: 500). Under IfNotExists what matters is whether
		// the key now exists.
		if opts.IfNotExists && ctx.Err() == nil {
			if _, serr := b.stat(ctx, key); serr == nil {
				return ErrExists
			}
		}
		return err
	}
	if opts.IfNotExists {
		if _, serr := b.stat(ctx, key); serr == nil {
			return ErrExists
		}
	}
	return markTransient(fmt.Errorf("the upload was completed or aborted elsewhere: %w", err))
}

// AbortUploads aborts this hub's multipart uploads started more than
// olderThan ago.
func (b *S3) AbortUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	type upload struct{ key, id string }
	var old []upload
	p := newUploadsPaginator(b.client, &s3.ListMultipartUploadsInput{Bucket: &b.bucket, Prefix: aws.String(b.prefix)})
	for p.more() {
		page, err := p.next(ctx)
		if err != nil {
			return 0, fmt.Errorf("abort uploads: %w", b.mapErr(ctx, "list uploads", "", err))
		}
		for _, u := range page.Uploads {
			if aws.ToTime(u.Initiated).Before(cutoff) {
				old = append(old, upload{aws.ToString(u.Key), aws.ToString(u.UploadId)})
			}
		}
	}
	n := 0
	for _, u := range old {
		_, err := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b.bucket, Key: &u.key, UploadId: &u.id})
		if err != nil {
			if err = b.mapErr(ctx, "abort", u.key, err); !isNoSuchUpload(err) {
				return n, fmt.Errorf("abort upload of %s: %w", u.key, err)
			}
			continue
		}
		n++
	}
	return n, nil
}

// uploadsPaginator pages through ListMultipartUploads, which the SDK has no
// paginator for.
type uploadsPaginator struct {
	client *s3.Client
	in     s3.ListMultipartUploadsInput
	done   bool
}

func newUploadsPaginator(c *s3.Client, in *s3.ListMultipartUploadsInput) *uploadsPaginator {
	return &uploadsPaginator{client: c, in: *in}
}

func (p *uploadsPaginator) more() bool { return !p.done }

func (p *uploadsPaginator) next(ctx context.Context) (*s3.ListMultipartUploadsOutput, error) {
	in := p.in
	out, err := p.client.ListMultipartUploads(ctx, &in)
	if err != nil {
		return nil, err
	}
	nextKey, nextID := aws.ToString(out.NextKeyMarker), aws.ToString(out.NextUploadIdMarker)
	if !aws.ToBool(out.IsTruncated) || (nextKey == aws.ToString(p.in.KeyMarker) && nextID == aws.ToString(p.in.UploadIdMarker)) {
		p.done = true // last page, or a server that does not move on
	}
	p.in.KeyMarker, p.in.UploadIdMarker = &nextKey, &nextID
	return out, nil
}

func looksLikeMD5(etag string) bool {
	e := strings.Trim(etag, `"`)
	if len(e) != 32 {
		return false
	}
	_, err := hex.DecodeString(e)
	return err == nil
}

func etagIsMD5(etag string, sum []byte) bool {
	got, err := hex.DecodeString(strings.Trim(etag, `"`))
	return err == nil && bytes.Equal(got, sum)
}

func multipartETag(md5s [][]byte) string {
	h := md5.New()
	for _, s := range md5s {
		h.Write(s)
	}
	return fmt.Sprintf("%x-%d", h.Sum(nil), len(md5s))
}

func isMultipartETag(e string) bool {
	sum, n, ok := strings.Cut(e, "-")
	return ok && looksLikeMD5(sum) && n != "" && !slices.ContainsFunc([]byte(n), func(c byte) bool { return c < '0' || c > '9' })
}
