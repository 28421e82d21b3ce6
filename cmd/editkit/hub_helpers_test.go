package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/editkit/editkit/internal/contenthub/backend/s3test"
)

// testHub is a hub a test talks to through the binary: a folder, or a
// bucket on a real S3 server (versitygw) on 127.0.0.1.
type testHub struct {
	name string
	url  string
	env  []string
	srv  *s3test.Server
	dir  string // the folder holding the objects
}

// hubs runs f against both kinds of hub.
func hubs(t *testing.T, f func(t *testing.T, h *testHub)) {
	t.Run("folder", func(t *testing.T) { f(t, folderHub(t)) })
	t.Run("s3", func(t *testing.T) {
		if _, err := s3test.FindBinary(); err != nil {
			need(t, false, "versitygw ("+s3test.InstallHint+")")
		}
		srv := s3test.Start(t)
		f(t, s3Hub(t, srv, "editorial"))
	})
}

func s3Hub(t *testing.T, srv *s3test.Server, prefix string) *testHub {
	env := append(stateEnv(t), srv.Env()...)
	return &testHub{name: "s3", url: srv.URL(prefix), env: env, srv: srv, dir: filepath.Join(srv.Dir, srv.Bucket, prefix)}
}

// stateEnv gives the test its own editkit state folder (outboxes, locks).
func stateEnv(t *testing.T) []string {
	return []string{"EDITKIT_STATE_DIR=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}
}

// run runs editkit with the hub's environment and --hub.
func (h *testHub) run(t *testing.T, args ...string) result {
	t.Helper()
	return editkitEnv(t, h.env, append(args, "--hub", h.url)...)
}

// runJSON runs editkit --json and decodes its output into v.
func (h *testHub) runJSON(t *testing.T, v any, args ...string) result {
	t.Helper()
	r := h.run(t, append([]string{"--json"}, args...)...)
	if r.code != 2 && r.stdout != "" {
		if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
			t.Fatalf("editkit %v --json: %v\n%s", args, err, r)
		}
	}
	return r
}

// objects lists the hub's object files under prefix.
func (h *testHub) objects(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(h.dir, prefix), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(h.dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}
