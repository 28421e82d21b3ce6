//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/contenthub/backend/s3test"
	"github.com/editkit/editkit/internal/doctor"
	"github.com/editkit/editkit/internal/tracker/sheetsfake"
)

// doctor, run as a cron job would need it: a good setup (S3 hub, shared
// Sheet) exits 0; a Sheet not shared names the account to share it with;
// a wrong S3 secret, a clock 20 minutes off and a stopped S3 server each
// fail with what to do; a bad settings file is a line of the answer; no
// secret is printed.
func TestDoctor(t *testing.T) {
	long(t)
	if _, err := s3test.FindBinary(); err != nil {
		need(t, false, "versitygw ("+s3test.InstallHint+")")
	}
	srv := s3test.Start(t)
	hub := s3Hub(t, srv, "editorial")
	te := newTrackerEnvWith(t, sheetsfake.Options{})
	cfg := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(cfg, []byte("[notify]\nslack = \"http://127.0.0.1:9/services/T0/B0/"+slackToken+"\"\n"), 0o600)
	env := append(append([]string{}, hub.env...), "GOOGLE_APPLICATION_CREDENTIALS="+envValue(te.env, "GOOGLE_APPLICATION_CREDENTIALS"),
		"EDITKIT_SHEETS_ENDPOINT="+te.fake.URL, "EDITKIT_SHEET="+te.sheet, "EDITKIT_HUB="+hub.url, "EDITKIT_CONFIG="+cfg)
	drive := t.TempDir()
	run := func(extra []string, args ...string) (result, map[string]doctor.Result) {
		t.Helper()
		r := editkitEnv(t, append(append([]string{}, env...), extra...), append([]string{"doctor", "--json"}, args...)...)
		noSecrets(t, r)
		var out struct {
			OK     bool
			Checks []doctor.Result
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, r)
		}
		if out.OK != (r.code == 0) {
			t.Errorf("ok %v with exit %d", out.OK, r.code)
		}
		byCheck := map[string]doctor.Result{}
		for _, c := range out.Checks {
			if prev, seen := byCheck[c.Check]; !seen || prev.Status == doctor.OK {
				byCheck[c.Check] = c // the worst line of each check
			}
		}
		return r, byCheck
	}

	r, got := run(nil, drive)
	if r.code != 0 {
		t.Fatalf("a good setup: %s", r)
	}
	for _, c := range []string{"settings", "state", "hub", "clock", "tracker", "notify"} {
		if got[c].Status != doctor.OK {
			t.Errorf("good setup, %s: %+v", c, got[c])
		}
	}
	if !strings.Contains(got["tracker"].Message, `"Show media tracker", reached as editkit-tracker@show.iam.gserviceaccount.com`) {
		t.Errorf("tracker line: %+v", got["tracker"])
	}
	if got["drive"].Status != doctor.Warn || !strings.Contains(got["drive"].Message, "case-sensitive") {
		t.Errorf("an ext4/tmpfs folder as a drive: %+v", got["drive"])
	}
	if objs := hub.objects(t, "doctor/"); len(objs) != 0 {
		t.Errorf("probe objects left: %v", objs)
	}
	// The human form: one line per check.
	if r := editkitEnv(t, env, "doctor"); r.code != 0 || !strings.Contains(r.stdout, "ok:   hub: s3://") || !strings.Contains(r.stdout, "ok:   clock: ") {
		t.Errorf("doctor: %s", r)
	}

	te.fake.Unshare(te.sheet, "editkit-tracker@show.iam.gserviceaccount.com")
	r, got = run(nil)
	if r.code != 1 || got["tracker"].Status != doctor.Fail ||
		!strings.Contains(got["tracker"].Message, "share the sheet with editkit-tracker@show.iam.gserviceaccount.com as Editor") {
		t.Errorf("Sheet not shared: %s", r)
	}
	te.fake.Share(te.sheet, "editkit-tracker@show.iam.gserviceaccount.com", true)

	r, got = run([]string{"AWS_SECRET_ACCESS_KEY=wrong-s3-secret"})
	if r.code != 1 || got["hub"].Status != doctor.Fail || !strings.Contains(got["hub"].Message, "credentials were refused") || strings.Contains(r.stdout+r.stderr, "wrong-s3-secret") {
		t.Errorf("wrong S3 secret: %s", r)
	}

	r, got = run([]string{"EDITKIT_TEST_CLOCK_AHEAD=20m"})
	if r.code != 1 || got["hub"].Status != doctor.OK || got["clock"].Status != doctor.Fail || !strings.Contains(got["clock"].Message, "about 20 minutes ahead") {
		t.Errorf("clock 20 minutes ahead: %s", r)
	}

	os.WriteFile(cfg, []byte("hubb = \"s3://typo\"\n"), 0o600)
	r, got = run(nil)
	if r.code != 1 || got["settings"].Status != doctor.Fail || !strings.Contains(got["settings"].Message, "unknown setting hubb") {
		t.Errorf("bad settings file: %s", r)
	}
	os.WriteFile(cfg, nil, 0o600)

	srv.Stop()
	r, got = run([]string{"EDITKIT_RETRY_FOR=1s"}, "--retry-for", "1s")
	if r.code != 1 || got["hub"].Status != doctor.Fail || !strings.Contains(got["hub"].Message, "cannot reach it") {
		t.Errorf("S3 server stopped: %s", r)
	}
}
