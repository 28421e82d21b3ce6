//go:build unix

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/notify"
)

// teamHook is the team's webhooks: a generic JSON one and a Slack one,
// whose URLs carry tokens that must never be printed.
type teamHook struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []notify.WebhookBody
	down bool
}

const (
	genericToken = "generic-secret-token"
	slackToken   = "slack-secret-token"
)

func newTeamHook(t *testing.T) *teamHook {
	h := &teamHook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.down {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/hook" {
			var b notify.WebhookBody
			if err := json.Unmarshal(body, &b); err != nil || b.ID != r.Header.Get("Idempotency-Key") {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			h.got = append(h.got, b)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *teamHook) env() []string {
	return []string{
		"EDITKIT_NOTIFY_WEBHOOK=" + h.srv.URL + "/hook?token=" + genericToken,
		"EDITKIT_NOTIFY_SLACK=" + h.srv.URL + "/services/T0/B0/" + slackToken,
	}
}

func (h *teamHook) setDown(down bool) {
	h.mu.Lock()
	h.down = down
	h.mu.Unlock()
}

func (h *teamHook) messages() []notify.WebhookBody {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.WebhookBody(nil), h.got...)
}

func noSecrets(t *testing.T, r result) {
	t.Helper()
	for _, s := range []string{genericToken, slackToken} {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("the output shows a webhook token:\n%s", r)
		}
	}
}

func fact(b notify.WebhookBody, name string) string {
	for _, f := range b.Facts {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// The team hears that a drive is ready, that a verify failed (what,
// where) and that a backup failed; a webhook that is down never fails the
// command (one warning line, no token in it) and gets its message later,
// once.
func TestNotifyDriveReadyVerifyAndBackupFailed(t *testing.T) {
	long(t)
	hook := newTeamHook(t)
	env := append(append(stateEnv(t), hook.env()...), "EDITKIT_HUB="+filepath.Join(t.TempDir(), "no-such-hub"))
	run := func(args ...string) result {
		t.Helper()
		r := editkitEnv(t, env, args...)
		noSecrets(t, r)
		return r
	}
	src := projectTree(t, 3, 1<<20)
	drive := filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(drive, 0o755)
	if r := run("copy", src, drive, "--label", "EDITOR1"); r.code != 0 {
		t.Fatalf("copy: %s", r)
	}
	got := hook.messages()
	if len(got) != 1 || got[0].Kind != notify.DriveReady || got[0].Title != "Drive EDITOR1 is ready" ||
		!strings.HasPrefix(fact(got[0], "Drive"), "EDITOR1 (") || !strings.Contains(fact(got[0], "Hashes"), "read back from the drive") {
		t.Fatalf("after copy: %+v", got)
	}

	// Damage a file: verify fails, and says so to the team.
	rel := largestMXF(t, drive)
	f, err := os.OpenFile(filepath.Join(drive, rel), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("damaged"), 100)
	f.Close()
	if r := run("verify", drive); r.code != 1 {
		t.Fatalf("verify of a damaged drive: %s", r)
	}
	got = hook.messages()
	if len(got) != 2 || got[1].Kind != notify.VerifyFailed || !strings.Contains(got[1].Title, "Verify of EDITOR1 failed: 1 problem") ||
		!strings.Contains(got[1].Text, rel) || fact(got[1], "Where") != drive {
		t.Fatalf("after a failed verify: %+v", got)
	}

	// The nightly backup, its hub gone, with the webhook down: the backup
	// fails as it would, the notification waits.
	hook.setDown(true)
	r := run("backup", src)
	if r.code == 0 || !strings.Contains(r.stderr, "notification not sent: webhook: the webhook answered 503") {
		t.Fatalf("backup with no hub and the webhook down: %s", r)
	}
	if len(hook.messages()) != 2 {
		t.Fatal("a message arrived while the webhook was down")
	}
	hook.setDown(false)
	if r := run("notify", "flush"); r.code != 0 || !strings.Contains(r.stdout, "1 message sent, 0 messages waiting") {
		t.Fatalf("notify flush: %s", r)
	}
	if r := run("notify", "flush"); r.code != 0 || !strings.Contains(r.stdout, "0 messages sent") {
		t.Fatalf("a second notify flush: %s", r)
	}
	got = hook.messages()
	if len(got) != 3 || got[2].Kind != notify.BackupFailed || !strings.Contains(got[2].Text, "does not exist") {
		t.Fatalf("after the backup: %+v", got)
	}
	if r := run("doctor"); !strings.Contains(r.stdout, "ok:   notify: webhook is configured") {
		t.Errorf("doctor: %s", r)
	}
}

// kill -9 at each step of sending a notification: every message arrives;
// one whose sender died after the webhook took it but before the receipt
// was saved arrives again with the same dedup key (at least once: no
// sender can know whether an answer it never read was a yes), and nothing
// else arrives twice.
func TestNotifyKilledMidSend(t *testing.T) {
	long(t)
	hook := newTeamHook(t)
	state := t.TempDir()
	env := append([]string{"EDITKIT_STATE_DIR=" + state, "XDG_CONFIG_HOME=" + t.TempDir()}, hook.env()[0]) // the generic webhook only
	src := projectTree(t, 5, 256<<10)
	var drives []string
	for _, label := range []string{"A", "B", "C"} {
		d := filepath.Join(t.TempDir(), label)
		os.Mkdir(d, 0o755)
		drives = append(drives, d)
	}
	hook.setDown(true)
	if r := editkitEnv(t, env, append([]string{"copy", src}, drives...)...); r.code != 0 || !strings.Contains(r.stderr, "notification not sent") {
		t.Fatalf("copy with the webhook down: %s", r)
	}
	hook.setDown(false)
	for _, step := range []string{"sending", "sent", "receipt"} {
		r := editkitEnv(t, append(env, "EDITKIT_TEST_KILL_AT=outbox:notify:"+step), "notify", "flush")
		if r.code != -1 {
			t.Fatalf("notify flush killed at %s: %s", step, r)
		}
	}
	if r := editkitEnv(t, env, "notify", "flush"); r.code != 0 {
		t.Fatalf("notify flush: %s", r)
	}
	if left := outboxLeft(t, state); len(left) != 0 {
		t.Errorf("left in the outbox: %v", left)
	}
	copies := map[string]int{}
	titles := map[string]string{}
	for _, b := range hook.messages() {
		copies[b.ID]++
		if titles[b.ID] != "" && titles[b.ID] != b.Title {
			t.Errorf("two messages share the key %s", b.ID)
		}
		titles[b.ID] = b.Title
	}
	if len(copies) != 3 {
		t.Fatalf("%d distinct messages arrived, want the 3 drives': %v", len(copies), titles)
	}
	twice := 0
	for id, n := range copies {
		switch n {
		case 1:
		case 2:
			twice++
		default:
			t.Errorf("message %s (%s) arrived %d times", id, titles[id], n)
		}
	}
	// Killed after "sent" once, after "receipt" once (receipt saved):
	// the first message went twice, the others once.
	if twice != 1 {
		t.Errorf("%d messages arrived twice, want the one whose sender was killed before its receipt: %v", twice, copies)
	}
}

// The morning digest from cron: what was pushed and who pulled it, from
// the hub's event log; run again with nothing new, no message.
func TestNotifyDigest(t *testing.T) {
	long(t)
	hook, run := pushedForDigest(t)
	drive := filepath.Join(t.TempDir(), "EDITOR1")
	os.Mkdir(drive, 0o755)
	if r := run("pull", "--label", "EDITOR1", drive); r.code != 0 {
		t.Fatalf("pull: %s", r)
	}
	if r := run("notify", "digest"); r.code != 0 || !strings.Contains(r.stdout, "Digest queued: Media digest: 2 files new") {
		t.Fatalf("notify digest: %s", r)
	}
	got := hook.messages()
	if len(got) != 1 || got[0].Kind != notify.Digest || !strings.Contains(got[0].Text, "VFX/SH010_comp_v003.mov") ||
		!strings.Contains(got[0].Text, "→ EDITOR1: 2 files") {
		t.Fatalf("digest: %+v", got)
	}
	if r := run("notify", "digest"); r.code != 0 || !strings.Contains(r.stdout, "Nothing pushed or pulled since the last digest") {
		t.Fatalf("a second digest: %s", r)
	}
	if n := len(hook.messages()); n != 1 {
		t.Fatalf("%d messages after the second digest, want 1", n)
	}
}

// pushedForDigest pushes two VFX shots to a new folder hub whose team has
// webhooks; run runs editkit (with extra environment first) on that hub.
func pushedForDigest(t *testing.T) (*teamHook, func(args ...string) result) {
	t.Helper()
	hook := newTeamHook(t)
	env := append(append(stateEnv(t), hook.env()...), "EDITKIT_HUB="+t.TempDir())
	run := func(args ...string) result {
		t.Helper()
		var extra []string
		for len(args) > 0 && strings.Contains(args[0], "=") {
			extra, args = append(extra, args[0]), args[1:]
		}
		r := editkitEnv(t, append(append([]string(nil), env...), extra...), args...)
		noSecrets(t, r)
		return r
	}
	inbox := t.TempDir()
	var files []string
	for i, name := range []string{"SH010_comp_v003.mov", "SH020_comp_v001.mov"} {
		p := filepath.Join(inbox, name)
		writeMedia(t, p, 64<<10, byte(i))
		files = append(files, p)
	}
	if r := run(append([]string{"push", "--category", "vfx", "--dest-path", "VFX"}, files...)...); r.code != 0 {
		t.Fatalf("push: %s", r)
	}
	return hook, run
}

// The digest runs on the command's clock (here a test clock ahead of the
// real one), not the computer's: a first digest two days later does not
// reach back to a push made "two days ago", and one half a day later
// covers it and is dated by the run's clock.
func TestNotifyDigestOnTheRunsClock(t *testing.T) {
	pushed := time.Now()
	hook, run := pushedForDigest(t)
	if r := run("EDITKIT_TEST_CLOCK_AHEAD=48h", "notify", "digest"); r.code != 0 || !strings.Contains(r.stdout, "Nothing pushed or pulled since the last digest") {
		t.Fatalf("first digest two days after the push: %s", r)
	}
	if r := run("EDITKIT_TEST_CLOCK_AHEAD=12h", "notify", "digest"); r.code != 0 || !strings.Contains(r.stdout, "Digest queued: Media digest: 2 files new") {
		t.Fatalf("first digest half a day after the push: %s", r)
	}
	got := hook.messages()
	if len(got) != 1 || got[0].Time.Before(pushed.Add(12*time.Hour)) {
		t.Fatalf("digest %+v: want one, dated by the run's clock (after %s)", got, pushed.Add(12*time.Hour))
	}
}
