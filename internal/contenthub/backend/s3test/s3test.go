// Package s3test runs a real S3-compatible server for tests: the Versity S3
// Gateway (versitygw) on a free loopback port, storing its buckets in a
// temporary folder. It builds nothing; the binary comes from
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// and is looked up in PATH, then in $(go env GOPATH)/bin. Tests that need it
// fail when it is missing and EDITKIT_REQUIRE_ALL=1, and skip otherwise.
//
// Servers can be stopped, killed and restarted on the same port with the
// same data, for tests of interrupted uploads; StartTLS serves https with a
// certificate from a CA made for the test. All traffic stays on 127.0.0.1.
package s3test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/editkit/editkit/internal/slowtest"
)

// Version is the versitygw release the tests are written against.
const Version = "v1.8.0"

// InstallHint says how to get the server binary.
const InstallHint = "go install github.com/versity/versitygw/cmd/versitygw@" + Version

// Server is a running (or stopped) versitygw.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT or https://…
	Bucket    string // created at start
	AccessKey string
	SecretKey string
	Region    string
	Dir       string // the gateway's root: the bucket is the folder Dir/Bucket
	CAFile    string // with StartTLS: PEM of the CA that signed the server certificate

	t        testing.TB
	bin      string
	addr     string
	certFile string
	keyFile  string
	logFile  string
	caPool   *x509.CertPool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// FindBinary returns the path of versitygw: from PATH, else from
// $(go env GOPATH)/bin.
func FindBinary() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var gopaths []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopaths = filepath.SplitList(strings.TrimSpace(string(out)))
	}
	if home, err := os.UserHomeDir(); err == nil {
		gopaths = append(gopaths, filepath.Join(home, "go"))
	}
	name := "versitygw"
	if os.PathSeparator == '\\' {
		name += ".exe"
	}
	for _, gp := range gopaths {
		p := filepath.Join(gp, "bin", name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("versitygw not found in PATH or $(go env GOPATH)/bin; install it with: %s", InstallHint)
}

// Start runs versitygw over http with an empty bucket and stops it when the
// test ends.
func Start(t testing.TB) *Server { return start(t, false) }

// StartTLS is Start over https, with a certificate for 127.0.0.1 signed by
// a CA made for this test (CAFile): set AWS_CA_BUNDLE to it to connect.
func StartTLS(t testing.TB) *Server { return start(t, true) }

func start(t testing.TB, useTLS bool) *Server {
	t.Helper()
	bin, err := FindBinary()
	if err != nil {
		slowtest.Missing(t, fmt.Sprintf("S3 test server: %v", err))
	}
	base := t.TempDir()
	s := &Server{
		Bucket:    "editkit-test",
		AccessKey: "EDITKITTESTACCESSKEY",
		SecretKey: "editkit-test-secret-" + randomHex(8),
		Region:    "us-east-1",
		Dir:       filepath.Join(base, "root"),
		t:         t,
		bin:       bin,
		logFile:   filepath.Join(base, "versitygw.log"),
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if useTLS {
		scheme = "https"
		s.CAFile, s.certFile, s.keyFile, s.caPool, err = makeCerts(base)
		if err != nil {
			t.Fatalf("S3 test server: make TLS certificates: %v", err)
		}
	}
	// A free port can be taken by someone else before the server binds it:
	// try a few.
	for try := 0; ; try++ {
		s.addr = freePort(t)
		s.Endpoint = scheme + "://" + s.addr
		err = s.run()
		if err == nil || try == 2 {
			break
		}
	}
	if err != nil {
		t.Fatalf("S3 test server: %v", err)
	}
	t.Cleanup(s.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.Bucket}); err != nil {
		t.Fatalf("S3 test server: create bucket: %v", err)
	}
	return s
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// run starts the process and waits until it answers.
func (s *Server) run() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	args := []string{"--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region, "--port", s.addr, "--quiet"}
	if s.certFile != "" {
		args = append(args, "--cert", s.certFile, "--key", s.keyFile)
	}
	args = append(args, "posix", s.Dir)
	log, err := os.OpenFile(s.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// The secret is passed as an argument only because versitygw has no
	// other way for the root account; it is a throwaway test secret.
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		log.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	hc := s.HTTPClient()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("versitygw exited at start: %s", s.logTail())
		default:
		}
		resp, err := hc.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil // any answer (403 without credentials) means it serves
		}
		if time.Now().After(deadline) {
			s.stopLocked(true)
			return fmt.Errorf("versitygw did not answer on %s within 30s: %v; log: %s", s.Endpoint, err, s.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logFile)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// Stop ends the server gracefully (SIGINT, then SIGKILL after 10s). The data
// stays; Restart brings it back.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(false)
}

// Kill ends the server with SIGKILL, as a crash or power cut would.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(true)
}

func (s *Server) stopLocked(kill bool) {
	if s.cmd == nil {
		return
	}
	if kill || s.cmd.Process.Signal(os.Interrupt) != nil {
		s.cmd.Process.Kill()
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Restart stops the server if it runs and starts it again on the same port
// with the same data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.Start(); err != nil {
		s.t.Fatalf("S3 test server: restart: %v", err)
	}
}

// Start starts a stopped or killed server again (same port and data). It
// returns an error rather than failing the test, so that it can be called
// from another goroutine.
func (s *Server) Start() error {
	var err error
	for try := 0; try < 50; try++ { // the old socket may linger a moment
		if err = s.run(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// URL is the hub URL of the bucket with the given prefix ("" for none).
func (s *Server) URL(prefix string) string {
	if prefix == "" {
		return "s3://" + s.Bucket
	}
	return "s3://" + s.Bucket + "/" + prefix
}

// Env is the environment under which the editkit binary reaches the
// server with its root key pair, whatever the machine's own AWS settings
// (files, instance metadata) say. With StartTLS, add AWS_CA_BUNDLE=CAFile.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
}

// Credentials returns the server's root key pair.
func (s *Server) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")
}

// HTTPClient returns a client that trusts the server (its test CA with TLS).
func (s *Server) HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if s.caPool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: s.caPool}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Client returns a plain SDK client for the server, independent of the
// environment's AWS settings: for tests that set up or inspect the bucket
// behind the backend's back.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  s.Credentials(),
		HTTPClient:   s.HTTPClient(),
	})
}

// PartFiles returns the files versitygw keeps the parts of pending
// multipart uploads of the bucket in, for tests that damage one.
func (s *Server) PartFiles() ([]string, error) {
	var files []string
	root := filepath.Join(s.Dir, s.Bucket, ".sgwtmp", "multipart")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}
