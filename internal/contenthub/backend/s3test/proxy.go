package s3test

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is an HTTP proxy on 127.0.0.1 in front of a server, for tests: it
// counts the request body bytes it forwards and can damage request bodies
// in transit. Clients talk to it as if it were the server (the Host header
// passes unchanged, so SigV4 signatures stay valid).
type Proxy struct {
	URL string

	bodyBytes atomic.Int64
	requests  atomic.Int64
	corrupt   atomic.Int64
	corrupted atomic.Int64

	mu     sync.Mutex
	paused chan struct{} // non-nil while paused; closed on Resume
}

// NewProxy starts a proxy to target (an http:// URL) that stops when the
// test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	rp.Transport = tr
	rp.ErrorLog = log.New(io.Discard, "", 0) // broken connections are what tests do
	rp.ModifyResponse = func(resp *http.Response) error {
		resp.Body = &pausingBody{rc: resp.Body, p: p}
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		if r.Body != nil && r.ContentLength > 0 {
			cb := &countingBody{rc: r.Body, p: p}
			if (r.Method == http.MethodPut || r.Method == http.MethodPost) && p.takeCorrupt() {
				cb.flipAt = r.ContentLength / 2
			} else {
				cb.flipAt = -1
			}
			r.Body = cb
		}
		p.wait(r.Context())
		rp.ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(p.Resume) // before Close: let blocked handlers finish
	p.URL = srv.URL
	return p
}

// CorruptNext makes the proxy flip one bit in the middle of the bodies of
// the next n PUT or POST requests that have one.
func (p *Proxy) CorruptNext(n int) { p.corrupt.Store(int64(n)) }

// Corrupted returns how many bodies the proxy has damaged.
func (p *Proxy) Corrupted() int64 { return p.corrupted.Load() }

// BodyBytes returns the request body bytes forwarded so far.
func (p *Proxy) BodyBytes() int64 { return p.bodyBytes.Load() }

// Requests returns the number of requests received.
func (p *Proxy) Requests() int64 { return p.requests.Load() }

func (p *Proxy) takeCorrupt() bool {
	for {
		n := p.corrupt.Load()
		if n <= 0 {
			return false
		}
		if p.corrupt.CompareAndSwap(n, n-1) {
			p.corrupted.Add(1)
			return true
		}
	}
}

type countingBody struct {
	rc     io.ReadCloser
	p      *Proxy
	off    int64
	flipAt int64
}

func (b *countingBody) Read(buf []byte) (int, error) {
	b.p.wait(context.Background())
	n, err := b.rc.Read(buf)
	if b.flipAt >= b.off && b.flipAt < b.off+int64(n) {
		buf[b.flipAt-b.off] ^= 0x01
	}
	b.off += int64(n)
	b.p.bodyBytes.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }

// Pause makes the proxy stop moving data either way, like a connection that
// died without a word; Resume lets it go on.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused == nil {
		p.paused = make(chan struct{})
	}
}

// Resume ends a Pause.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused != nil {
		close(p.paused)
		p.paused = nil
	}
}

func (p *Proxy) wait(ctx context.Context) {
	p.mu.Lock()
	ch := p.paused
	p.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
}

type pausingBody struct {
	rc io.ReadCloser
	p  *Proxy
}

func (b *pausingBody) Read(buf []byte) (int, error) {
	b.p.wait(context.Background())
	return b.rc.Read(buf)
}

func (b *pausingBody) Close() error { return b.rc.Close() }
