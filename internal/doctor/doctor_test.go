package doctor

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/editkit/editkit/internal/contenthub/backend"
	"github.com/editkit/editkit/internal/contenthub/backend/s3test"
	"github.com/editkit/editkit/internal/contenthub/backend/s3test/s3open"
	"github.com/editkit/editkit/internal/notify"
	"github.com/editkit/editkit/internal/slowtest"
	"github.com/editkit/editkit/internal/testmount"
)

func s3Store(t *testing.T, srv *s3test.Server, secret string) backend.Backend {
	t.Helper()
	if secret == "" {
		return s3open.Backend(t, srv, "show")
	}
	return s3open.Backend(t, srv, "show", func(c *backend.S3Config) {
		c.Credentials = credentials.NewStaticCredentialsProvider(srv.AccessKey, secret, "")
	})
}

func statuses(rs []Result) string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.Status)+" "+r.Check)
	}
	return strings.Join(out, ", ")
}

func lines(rs []Result) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return strings.Join(out, "\n")
}

// Against the real S3 server: a good setup passes and leaves nothing
// behind; a wrong secret, a stopped server and a skewed clock (a fake one
// in the check) each fail with what to do.
func TestHubAgainstS3(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	good := s3Store(t, srv, "")

	rs := Hub(ctx, good, "s3://hub/show", time.Now)
	if statuses(rs) != "ok hub, ok clock" || !Healthy(rs) {
		t.Fatalf("good setup:\n%s", lines(rs))
	}
	for oi, err := range good.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("left on the hub: %s", oi.Key)
	}

	rs = Hub(ctx, s3Store(t, srv, "not-the-secret"), "s3://hub/show", time.Now)
	if statuses(rs) != "fail hub" || !strings.Contains(rs[0].Message, "the credentials were refused") || !strings.Contains(rs[0].Message, "AWS_SECRET_ACCESS_KEY") ||
		strings.Contains(rs[0].Message, "not-the-secret") {
		t.Fatalf("wrong secret:\n%s", lines(rs))
	}

	for _, c := range []struct {
		ahead time.Duration
		want  string
		words string
	}{
		{20 * time.Minute, "fail clock", "about 20 minutes ahead of the hub's: S3 refuses requests signed more than 15 minutes off"},
		{-16 * time.Minute, "fail clock", "about 16 minutes behind the hub's"},
		{3 * time.Minute, "warn clock", "about 3 minutes ahead of the hub's"},
	} {
		fake := func() time.Time { return time.Now().Add(c.ahead) }
		rs := Hub(ctx, good, "s3://hub/show", fake)
		if statuses(rs) != "ok hub, "+c.want || !strings.Contains(rs[1].Message, c.words) {
			t.Errorf("clock %v ahead:\n%s", c.ahead, lines(rs))
		}
		if Healthy(rs) != strings.HasPrefix(c.want, "warn") {
			t.Errorf("clock %v ahead: healthy %v", c.ahead, Healthy(rs))
		}
	}

	srv.Stop()
	rs = Hub(ctx, good, "s3://hub/show", time.Now)
	if statuses(rs) != "fail hub" || !strings.Contains(rs[0].Message, "cannot reach it") {
		t.Fatalf("stopped server:\n%s", lines(rs))
	}
}

// mountDrive formats a loop device as FAT32 (as a drive formatted on an
// old camera or Windows PC comes) or exFAT (as editors' drives are) and
// mounts it: the kernel's vfat where the machine has it, else through
// FUSE (fusefat, exfat-fuse), as containers without the modules do.
func mountDrive(t *testing.T, fat32 bool) string {
	t.Helper()
	if os.Geteuid() != 0 {
		slowtest.Missing(t, "root (to mount a loop device)")
	}
	mkfs, fuse := "mkfs.exfat", "mount.exfat-fuse"
	if fat32 {
		mkfs, fuse = "mkfs.vfat", "fusefat"
	}
	for _, tool := range []string{mkfs, fuse, "losetup", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			slowtest.Missing(t, tool+" (Debian: dosfstools, fusefat, exfatprogs, exfat-fuse, util-linux; .ci/install-deps installs them)")
		}
	}
	work := t.TempDir()
	img, mnt := filepath.Join(work, "drive.img"), filepath.Join(work, "CARD")
	os.Mkdir(mnt, 0o755)
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			slowtest.Missing(t, fmt.Sprintf("%s %v: %v: %s", name, args, err, out))
		}
		return strings.TrimSpace(string(out))
	}
	run("truncate", "-s", "64M", img)
	if fat32 {
		run(mkfs, "-F", "32", "-n", "CARD", img)
	} else {
		run(mkfs, "-L", "CARD", img)
	}
	loop := run("losetup", "-f", "--show", img)
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	switch {
	case fat32 && exec.Command("mount", "-t", "vfat", loop, mnt).Run() == nil:
	case fat32:
		run(fuse, "-o", "rw+", loop, mnt)
	default:
		run(fuse, loop, mnt)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	return mnt
}

// A FAT32 drive is named and warned about (4 GiB limit), is seen not to
// tell names apart by case, and its free space is reported low.
func TestDriveFAT32(t *testing.T) {
	mnt := mountDrive(t, true)
	rs := Drive(mnt)
	if statuses(rs) != "warn drive, ok drive, warn space" || !strings.Contains(rs[0].Message, "FAT32: no file over 4 GiB fits") ||
		!strings.Contains(rs[1].Message, "does not tell names apart by case") || !Healthy(rs) {
		t.Fatalf("FAT32 drive:\n%s", lines(rs))
	}
	left, _ := os.ReadDir(mnt)
	for _, de := range left {
		if strings.HasPrefix(strings.ToLower(de.Name()), ".editkit-doctor") {
			t.Errorf("left on the drive: %s", de.Name())
		}
	}
}

// An exFAT drive mounted through FUSE is named exFAT (from its boot
// sector: the mount says only "fuseblk").
func TestDriveExFAT(t *testing.T) {
	rs := Drive(mountDrive(t, false))
	if statuses(rs) != "ok drive, ok drive, warn space" || !strings.HasSuffix(rs[0].Message, "is exFAT") {
		t.Fatalf("exFAT drive:\n%s", lines(rs))
	}
}

// A case-sensitive volume (ext4, tmpfs: this test's temporary folder) is a
// warning; a missing drive is a failure.
func TestDriveCaseSensitiveAndMissing(t *testing.T) {
	dir := t.TempDir()
	rs := Drive(dir)
	if len(rs) != 3 || rs[1].Status != Warn || !strings.Contains(rs[1].Message, "is case-sensitive") {
		t.Fatalf("case-sensitive folder:\n%s", lines(rs))
	}
	rs = Drive(filepath.Join(dir, "EDITOR9"))
	if statuses(rs) != "fail drive" || !strings.Contains(rs[0].Message, "plug the drive in") {
		t.Fatalf("missing drive:\n%s", lines(rs))
	}
}

// A state folder on a read-only file system fails, saying what to do.
// (Root ignores permission bits, so a read-only mount is the honest test.)
func TestStateDirUnwritable(t *testing.T) {
	if r := StateDir(filepath.Join(t.TempDir(), "state")); r.Status != OK {
		t.Fatalf("writable state folder: %s", r)
	}
	r := StateDir(testmount.Tmpfs(t, "ro,size=1m"))
	if r.Status != Fail || !strings.Contains(r.Message, "cannot be written") || !strings.Contains(r.Message, "EDITKIT_STATE_DIR") {
		t.Fatalf("read-only state folder: %s", r)
	}
}

// A bad settings file is a failure line, not a refusal to answer.
func TestSettings(t *testing.T) {
	if r := Settings("/x/config.toml", true, fmt.Errorf("settings file /x/config.toml: unknown setting hubb")); r.Status != Fail || !strings.Contains(r.Message, "unknown setting hubb") {
		t.Errorf("bad settings: %s", r)
	}
	if r := Settings("/x/config.toml", false, nil); r.Status != Warn {
		t.Errorf("no settings file: %s", r)
	}
}

// Notification targets: configured ones are listed without sending; with
// send, each gets a test message and one that refuses it fails, without
// its URL's token; none at all is a warning.
func TestNotifyTargets(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path)
		if strings.HasPrefix(r.URL.Path, "/gone") {
			http.Error(w, "no such hook", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	s := notify.Settings{Slack: srv.URL + "/hook/slack-token-9", Webhook: srv.URL + "/gone/webhook-token-9"}
	rs := Notify(context.Background(), s, false)
	if statuses(rs) != "ok notify, ok notify" || len(got) != 0 {
		t.Fatalf("without sending (%d requests):\n%s", len(got), lines(rs))
	}
	rs = Notify(context.Background(), s, true)
	if statuses(rs) != "ok notify, fail notify" || !strings.Contains(rs[1].Message, "webhook: the webhook answered 404") || len(got) != 2 {
		t.Fatalf("with --send-test:\n%s", lines(rs))
	}
	if strings.Contains(lines(rs), "token-9") {
		t.Errorf("a token is shown:\n%s", lines(rs))
	}
	if rs := Notify(context.Background(), notify.Settings{}, false); statuses(rs) != "warn notify" {
		t.Errorf("no target:\n%s", lines(rs))
	}
	if rs := Notify(context.Background(), notify.Settings{Teams: "http://teams.example.com/x?sig=s"}, false); rs[0].Status != Fail || !strings.Contains(rs[0].Message, "plain http") {
		t.Errorf("a token over plain http:\n%s", lines(rs))
	}
}
