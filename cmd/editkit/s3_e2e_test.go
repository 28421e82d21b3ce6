package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/backup"
	"github.com/editkit/editkit/internal/contenthub/backend/s3test"
)

func needS3(t *testing.T) {
	if _, err := s3test.FindBinary(); err != nil {
		need(t, false, "versitygw ("+s3test.InstallHint+")")
	}
}

// kill -9 in the middle of uploading a large file; the rerun resumes the
// multipart upload from the parts already stored (fewer bytes go over the
// wire than the file holds) and the blob verifies.
func TestBackupResumesLargeUploadAfterKill(t *testing.T) {
	backupResumesAfterKill(t, func(*testHub) {})
}

// backupResumesAfterKill is TestBackupResumesLargeUploadAfterKill on a
// hub prepare has set up.
func backupResumesAfterKill(t *testing.T, prepare func(*testHub)) {
	needS3(t)
	long(t)
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.Endpoint)
	h := s3Hub(t, srv, "hub")
	prepare(h)
	h.env = append(h.env, "AWS_ENDPOINT_URL_S3="+proxy.URL)
	src := t.TempDir()
	const size = 160 << 20
	big := make([]byte, size)
	for i := range big {
		big[i] = byte(i*131 + i>>13)
	}
	os.WriteFile(filepath.Join(src, "reel1.mov"), big, 0o644)
	cmd, out := startEditkitEnv(t, h.env, "backup", "--hub", h.url, "--set", "big", "--bwlimit", "40MB/s", src)
	waitFor(t, 60*time.Second, "half the file to be uploaded", func() bool { return proxy.BodyBytes() > size/2 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	first := proxy.BodyBytes()
	var b backupOut
	if r := h.runJSON(t, &b, "backup", "--set", "big", src); r.code != 0 {
		t.Fatalf("rerun after kill -9: %s\nfirst run:\n%s", r, out.String())
	}
	second := proxy.BodyBytes() - first
	if second >= size-32<<20 {
		t.Errorf("the rerun sent %d MiB of a %d MiB file: the upload did not resume", second>>20, size>>20)
	}
	var cr backup.CheckResult
	if r := h.runJSON(t, &cr, "hub", "check", "--read-data"); r.code != 0 || cr.Checked != 1 {
		t.Fatalf("check: %s", r)
	}
}

// The S3 server stops in the middle of a backup and comes back: the backup
// rides it out and completes.
func TestBackupSurvivesServerRestart(t *testing.T) {
	needS3(t)
	long(t)
	srv := s3test.Start(t)
	h := s3Hub(t, srv, "hub")
	src := projectTree(t, 35, 96<<20)
	cmd, out := startEditkitEnv(t, h.env, "backup", "--hub", h.url, "--set", "s", "--bwlimit", "24MB/s", src)
	// Stopped once uploads are under way (not after a guessed sleep); the
	// bandwidth cap keeps the backup going for seconds after that.
	waitFor(t, 2*time.Minute, "the backup to upload", func() bool {
		parts, _ := srv.PartFiles()
		return len(parts) > 0 || len(h.objects(t, "blobs")) > 0
	})
	srv.Stop()
	time.Sleep(3 * time.Second) // how long the outage lasts, not an ordering
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("backup across a server restart: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "retrying (attempt 2, next in ") {
		t.Errorf("the outage was ridden out in silence:\n%s", out.String())
	}
	to := t.TempDir()
	if r := h.run(t, "restore", "latest", "--to", to); r.code != 0 {
		t.Fatalf("restore: %s", r)
	}
	assertCopied(t, src, filepath.Join(to, "Show"))
}

// Wrong credentials: a clear error saying which one to fix, no secret in
// it, exit 2.
func TestHubWrongCredentials(t *testing.T) {
	long(t)
	needS3(t)
	srv := s3test.Start(t)
	h := s3Hub(t, srv, "hub")
	src := projectTree(t, 36, 1<<20)
	for _, c := range []struct{ env, want string }{
		{"AWS_SECRET_ACCESS_KEY=not-the-secret", "AWS_SECRET_ACCESS_KEY"},
		{"AWS_ACCESS_KEY_ID=NOSUCHKEY", "AWS_ACCESS_KEY_ID"},
	} {
		r := editkitEnv(t, append(append([]string(nil), h.env...), c.env), "backup", "--hub", h.url, "--set", "s", src)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, srv.SecretKey) || strings.Contains(r.stderr, "not-the-secret") {
			t.Errorf("%s: %s", c.env, r)
		}
	}
	r := editkitEnv(t, h.env, "backup", "--hub", "s3://no-such-bucket/x", "--set", "s", src)
	if r.code != 2 || !strings.Contains(r.stderr, "no-such-bucket") {
		t.Errorf("missing bucket: %s", r)
	}
}

// A hub behind TLS with a private CA, trusted through AWS_CA_BUNDLE.
func TestHubTLSWithCustomCA(t *testing.T) {
	long(t)
	needS3(t)
	srv := s3test.StartTLS(t)
	h := s3Hub(t, srv, "hub")
	h.env = append(h.env, "AWS_CA_BUNDLE="+srv.CAFile)
	src := projectTree(t, 37, 2<<20)
	if r := h.run(t, "backup", "--set", "tls", src); r.code != 0 {
		t.Fatalf("backup over TLS with AWS_CA_BUNDLE: %s", r)
	}
	bad := append(append([]string(nil), h.env...), "AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt")
	if r := editkitEnv(t, bad, "snapshots", "--hub", h.url); r.code == 0 {
		t.Errorf("an untrusted certificate was accepted: %s", r)
	}
}

// The S3 server restarts in the middle of a pull: the pull rides it out.
func TestPullSurvivesServerRestart(t *testing.T) {
	needS3(t)
	long(t)
	srv := s3test.Start(t)
	h := s3Hub(t, srv, "hub")
	inbox := t.TempDir()
	data := writeMedia(t, filepath.Join(inbox, "A002C003.mov"), 64<<20, 4)
	if r := h.run(t, "push", "--category", "footage", "--dest-path", "Footage/Day 2", filepath.Join(inbox, "A002C003.mov")); r.code != 0 {
		t.Fatalf("push: %s", r)
	}
	drive := t.TempDir()
	cmd, out := startEditkitEnv(t, h.env, "pull", "--hub", h.url, "--bwlimit", "16MB/s", drive)
	// Stopped once the download is under way (a megabyte of it on the
	// drive), not after a guessed sleep.
	waitFor(t, 2*time.Minute, "the pull to download", func() bool {
		found := false
		filepath.WalkDir(drive, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if fi, err := d.Info(); err == nil && fi.Size() >= 1<<20 {
				found = true
			}
			return nil
		})
		return found
	})
	srv.Stop()
	time.Sleep(3 * time.Second) // how long the outage lasts, not an ordering
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pull across a server restart: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "retrying (attempt 2, next in ") {
		t.Errorf("the outage was ridden out in silence:\n%s", out.String())
	}
	got, _ := os.ReadFile(filepath.Join(drive, "Footage", "Day 2", "A002C003.mov"))
	if !bytes.Equal(got, data) {
		t.Fatal("pulled file differs")
	}
}

// An upload abandoned by a killed backup is cleaned up by prune.
func TestPruneAbortsAbandonedUploads(t *testing.T) {
	needS3(t)
	long(t)
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.Endpoint)
	h := s3Hub(t, srv, "hub")
	h.env = append(h.env, "AWS_ENDPOINT_URL_S3="+proxy.URL)
	src := t.TempDir()
	writeMedia(t, filepath.Join(src, "reel2.mov"), 96<<20, 8)
	cmd, _ := startEditkitEnv(t, h.env, "backup", "--hub", h.url, "--set", "s", "--bwlimit", "20MB/s", src)
	waitFor(t, 60*time.Second, "the upload to be under way", func() bool { return proxy.BodyBytes() > 40<<20 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	var pr backup.PruneResult
	if r := h.runJSON(t, &pr, "prune", "--keep-last", "1", "--grace", "0s"); r.code != 0 || pr.UploadsAborted < 1 {
		t.Fatalf("prune after an abandoned upload: %s", r)
	}
	if r := h.run(t, "backup", "--set", "s", src); r.code != 0 {
		t.Fatalf("backup after prune: %s", r)
	}
}
