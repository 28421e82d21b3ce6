package main

// End-to-end tests of what every command shares: waiting on a hub that
// cannot be reached, --json on usage errors, the settings file, and no
// secret in any output.

import (
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/editkit/editkit/internal/contenthub/backend/s3test"
	"github.com/editkit/editkit/internal/ui"
	"github.com/spf13/cobra"
)

// closedPort returns http://127.0.0.1:PORT where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	return url
}

// unreachableS3Env is an S3 hub environment whose endpoint is given.
func unreachableS3Env(t *testing.T, endpoint string) []string {
	return append(stateEnv(t),
		"AWS_ACCESS_KEY_ID=AKIAEDITKITTEST0001",
		"AWS_SECRET_ACCESS_KEY=editkit-e2e-secret-d9f3c2",
		"AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_S3="+endpoint,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	)
}

var retryLine = regexp.MustCompile(`(?m)^retrying \(attempt (\d+), next in \d+s\): .+$`)

// With the S3 endpoint unreachable (nothing listening, or the server
// stopped), snapshots and status say from the first retry what they are
// waiting for, then give up after --retry-for with exit 1, naming the
// endpoint and what to check; --json gets the error as JSON. The short
// --retry-for keeps the test quick; what is asserted is the messages and
// the exit code, not the timing.
func TestE2EUnreachableHubRetriesThenGivesUp(t *testing.T) {
	long(t)
	check := func(t *testing.T, env []string, endpoint string, args ...string) {
		t.Helper()
		r := editkitEnv(t, env, append(args, "--hub", "s3://show-hub/editorial", "--retry-for", "3s")...)
		if r.code != ui.ExitFailed {
			t.Fatalf("want exit 1:\n%s", r)
		}
		lines := retryLine.FindAllStringSubmatch(r.stderr, -1)
		if len(lines) == 0 || lines[0][1] != "2" {
			t.Errorf("no 'retrying (attempt 2, next in Ns): …' from the first retry:\n%s", r)
		}
		if !strings.Contains(r.stderr, "connection refused") {
			t.Errorf("the reason is not given:\n%s", r)
		}
		for _, want := range []string{"cannot reach the hub", endpoint, "gave up after", "check the network"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r)
			}
		}
		if strings.Contains(r.stdout+r.stderr, "editkit-e2e-secret-d9f3c2") {
			t.Errorf("the secret key is shown:\n%s", r)
		}
	}
	t.Run("closed port", func(t *testing.T) {
		endpoint := closedPort(t)
		env := unreachableS3Env(t, endpoint)
		for _, cmd := range []string{"snapshots", "status"} {
			t.Run(cmd, func(t *testing.T) { check(t, env, endpoint, cmd) })
		}
		t.Run("json", func(t *testing.T) {
			r := editkitEnv(t, env, "snapshots", "--json", "--hub", "s3://show-hub/editorial", "--retry-for", "2s")
			var got struct {
				OK       bool   `json:"ok"`
				Error    string `json:"error"`
				ExitCode int    `json:"exit_code"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.OK || got.ExitCode != 1 || r.code != 1 ||
				!strings.Contains(got.Error, "cannot reach the hub") || !strings.Contains(got.Error, endpoint) {
				t.Errorf("--json: %+v %v\n%s", got, err, r)
			}
		})
	})
	t.Run("server stopped", func(t *testing.T) {
		if _, err := s3test.FindBinary(); err != nil {
			need(t, false, "versitygw ("+s3test.InstallHint+")")
		}
		srv := s3test.Start(t)
		h := s3Hub(t, srv, "editorial")
		if r := h.run(t, "snapshots"); r.code != 0 {
			t.Fatalf("while up:\n%s", r)
		}
		srv.Stop()
		r := h.run(t, "snapshots", "--retry-for", "3s")
		if r.code != ui.ExitFailed || !retryLine.MatchString(r.stderr) || !strings.Contains(r.stderr, "cannot reach the hub") ||
			!strings.Contains(r.stderr, srv.Endpoint) {
			t.Errorf("stopped server:\n%s", r)
		}
	})
	t.Run("bad --retry-for", func(t *testing.T) {
		r := editkitEnv(t, stateEnv(t), "snapshots", "--hub", t.TempDir(), "--retry-for", "soon")
		if r.code != ui.ExitUsage || !strings.Contains(r.stderr, "--retry-for") {
			t.Errorf("%s", r)
		}
	})
}

// jsonError is the object --json prints for an error.
type jsonErrorOut struct {
	OK       *bool  `json:"ok"`
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
	Usage    bool   `json:"usage_error"`
}

// decodeOne decodes stdout as exactly one JSON object.
func decodeOne(t *testing.T, r result, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, r)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value on stdout:\n%s", r)
	}
}

// Every command, asked for --json, answers a usage error (unknown flag,
// missing argument, bad value, unknown command) with one JSON error
// object on stdout and exit 2 — also when the unknown flag comes before
// --json, where flag parsing stops.
func TestE2EJSONUsageErrors(t *testing.T) {
	long(t)
	env := append(stateEnv(t), "EDITKIT_HUB="+t.TempDir())
	expect := func(t *testing.T, want string, args ...string) {
		t.Helper()
		r := editkitEnv(t, env, args...)
		if r.code != ui.ExitUsage {
			t.Fatalf("editkit %v: want exit 2:\n%s", args, r)
		}
		var got jsonErrorOut
		decodeOne(t, r, &got)
		if got.OK == nil || *got.OK || got.ExitCode != ui.ExitUsage || !got.Usage || !strings.Contains(got.Error, want) {
			t.Errorf("editkit %v: %+v, want an error with %q", args, got, want)
		}
	}
	var leaves []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if sub.Runnable() {
				leaves = append(leaves, sub)
			}
			walk(sub)
		}
	}
	walk(newRootCmd(&ui.Terminal{}))
	if len(leaves) < 15 {
		t.Fatalf("only %d commands found", len(leaves))
	}
	for _, c := range leaves {
		path := strings.Fields(strings.TrimPrefix(c.CommandPath(), "editkit "))
		t.Run(strings.Join(path, "_"), func(t *testing.T) {
			expect(t, "unknown flag", append(append([]string{}, path...), "--json", "--no-such-flag")...)
			expect(t, "unknown flag", append(append([]string{}, path...), "--no-such-flag", "--json")...)
			if c.Args != nil && c.Args(c, nil) != nil {
				expect(t, c.CommandPath(), append(append([]string{}, path...), "--json")...)
			}
		})
	}
	t.Run("bad values", func(t *testing.T) {
		expect(t, "--retry-for", "snapshots", "--json", "--retry-for", "soon")
		expect(t, "--jobs", "copy", "--json", "--jobs", "many", t.TempDir(), t.TempDir())
		expect(t, "unknown command", "bogus", "--json")
		expect(t, "unknown command", "config", "bogus", "--json")
	})
}

// `editkit --config NEW.toml config init` makes the file and its missing
// folders (0600, 0700); `config show` never prints a secret.
func TestE2EConfigInitAndShow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "Show", "settings", "editkit.toml")
	env := stateEnv(t)
	r := editkitEnv(t, env, "--config", path, "config", "init")
	if r.code != 0 || !strings.Contains(r.stdout, path) {
		t.Fatalf("config init:\n%s", r)
	}
	for p, want := range map[string]fs.FileMode{path: 0o600, filepath.Dir(path): 0o700, filepath.Join(dir, "Show"): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", p, fi, err, want)
		}
	}
	if r := editkitEnv(t, env, "--config", path, "config", "init"); r.code != ui.ExitUsage || !strings.Contains(r.stderr, "--force") {
		t.Errorf("second init:\n%s", r)
	}
	os.WriteFile(path, []byte(`hub = "s3://show-hub/editorial"
s3_endpoint = "https://anna:endpoint-pass-3317@minio.example:9000"
[tracker]
oauth_client_id = "1234-abc.apps.googleusercontent.com"
oauth_client_secret = "GOCSPX-e2e-client-secret-8812"
`), 0o600)
	r = editkitEnv(t, env, "--config", path, "config", "show")
	if r.code != 0 || !strings.Contains(r.stdout, "set (hidden)") || !strings.Contains(r.stdout, "1234-abc.apps") {
		t.Fatalf("config show:\n%s", r)
	}
	for _, secret := range []string{"GOCSPX-e2e-client-secret-8812", "endpoint-pass-3317"} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("config show prints %s:\n%s", secret, r)
		}
	}
}

// No command prints a secret — the AWS secret key, the OAuth client
// secret, a service-account key — in its output, its errors or its debug
// log; whatever of them editkit keeps in its state folder is in 0600
// files.
func TestE2ENoSecretInOutput(t *testing.T) {
	long(t)
	te := newTrackerEnv(t)
	var keyFile string
	for _, kv := range te.env {
		if v, ok := strings.CutPrefix(kv, "GOOGLE_APPLICATION_CREDENTIALS="); ok {
			keyFile = v
		}
	}
	var key struct {
		PrivateKey   string `json:"private_key"`
		PrivateKeyID string `json:"private_key_id"`
	}
	raw, _ := os.ReadFile(keyFile)
	if err := json.Unmarshal(raw, &key); err != nil || key.PrivateKey == "" {
		t.Fatalf("service-account key: %v", err)
	}
	pemLines := strings.Split(strings.TrimSpace(key.PrivateKey), "\n")
	secrets := []string{"editkit-e2e-secret-d9f3c2", "GOCSPX-e2e-client-secret-8812", pemLines[len(pemLines)/2]}
	if key.PrivateKeyID != "" {
		secrets = append(secrets, key.PrivateKeyID)
	}
	cfg := filepath.Join(t.TempDir(), "editkit.toml")
	os.WriteFile(cfg, []byte("[tracker]\noauth_client_id = \"1234-abc.apps.googleusercontent.com\"\noauth_client_secret = \"GOCSPX-e2e-client-secret-8812\"\noauth_device_url = \""+closedPort(t)+"/device/code\"\n"), 0o600)
	state := t.TempDir()
	common := []string{"EDITKIT_DEBUG=1", "EDITKIT_STATE_DIR=" + state, "EDITKIT_CONFIG=" + cfg}
	var runs []result
	run := func(env []string, args ...string) {
		runs = append(runs, editkitEnv(t, append(append(append([]string{}, env...), common...), "EDITKIT_OAUTH_TOKEN_URL="+closedPort(t)), args...))
	}
	s3env := unreachableS3Env(t, closedPort(t))
	run(s3env, "config", "show")
	run(s3env, "snapshots", "--hub", "s3://show-hub/editorial", "--retry-for", "2s")
	run(s3env, "--json", "status", "--hub", "s3://show-hub/editorial", "--retry-for", "2s")
	if _, err := s3test.FindBinary(); err == nil {
		srv := s3test.Start(t)
		h := s3Hub(t, srv, "editorial")
		wrong := append(append([]string{}, h.env...), "AWS_SECRET_ACCESS_KEY=editkit-e2e-secret-d9f3c2")
		run(wrong, "snapshots", "--hub", h.url)
		run(wrong, "backup", "--set", "media", "--hub", h.url, t.TempDir())
	} else {
		need(t, false, "versitygw ("+s3test.InstallHint+")")
	}
	run(te.env, "tracker", "init")
	te.fake.RevokeTokens()
	run(te.env, "tracker", "sync")
	run(append(append([]string{}, te.env...), "EDITKIT_SHEETS_ENDPOINT="+closedPort(t)), "tracker", "sync")
	run(te.env, "tracker", "login", "--device")
	for _, r := range runs {
		first, _, _ := strings.Cut(strings.TrimSpace(r.stderr), "\n")
		t.Logf("exit %d: %.160s", r.code, first)
		for _, s := range secrets {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("a secret (%.12s…) is shown:\n%s", s, r)
			}
		}
	}
	filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				if fi, _ := d.Info(); fi.Mode().Perm() != 0o600 {
					t.Errorf("%s holds a secret and is %v", p, fi.Mode())
				}
			}
		}
		return nil
	})
}
