package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/editkit/editkit/internal/place"
)

func TestTemplateParsesToNothing(t *testing.T) {
	var c Config
	md, err := toml.Decode(Template, &c)
	if err != nil || len(md.Undecoded()) != 0 || c.Hub != "" {
		t.Fatalf("template: %v %v %+v", err, md.Undecoded(), c)
	}
	// Every commented setting is a real one: uncommenting all of them parses.
	var lines []string
	for _, l := range strings.Split(Template, "\n") {
		if strings.HasPrefix(l, "# ") && strings.Contains(l, " = ") {
			l = strings.TrimPrefix(l, "# ")
		}
		lines = append(lines, l)
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644)
	c, err = Load(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hub == "" || c.Tracker.Sheet == "" || len(c.Backup.Paths) != 2 || c.BWLimit != "12Mbit" {
		t.Fatalf("uncommented template: %+v", c)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if c, err := Load(filepath.Join(dir, "none.toml"), false); err != nil || c.Hub != "" {
		t.Fatalf("missing optional file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "none.toml"), true); err == nil {
		t.Fatal("missing required file accepted")
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("hub = \"x\"\nhbu = \"typo\"\n"), 0o644)
	if _, err := Load(bad, true); err == nil || !strings.Contains(err.Error(), "hbu") {
		t.Fatalf("unknown key: %v", err)
	}
	os.WriteFile(bad, []byte("hub = \n"), 0o644)
	if _, err := Load(bad, true); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("syntax error: %v", err)
	}
}

func TestStateDir(t *testing.T) {
	t.Setenv("EDITKIT_STATE_DIR", "/x/y")
	if StateDir() != "/x/y" {
		t.Fatal(StateDir())
	}
}

// `config show` prints Redacted: no secret in clear, whatever the setting
// is called, now or when one is added (a field named like a secret must be
// tagged secret).
func TestRedactedHidesEverySecret(t *testing.T) {
	var c Config
	c.Hub = "s3://show-hub/editorial"
	c.S3Endpoint = "https://anna:s3pass-7431@minio.example:9000/?X-Amz-Security-Token=tok-5512"
	c.Tracker.OAuthClientSecret = "GOCSPX-client-secret-0042"
	c.Tracker.OAuthClientID = "1234-abc.apps.googleusercontent.com"
	c.Tracker.GoogleCredentials = "/home/anna/sa.json"
	c.Notify.Slack, c.Notify.SMTPPassword = "https://hooks.example.com/services/T0/B0/slack-tok-77", "smtp-pw-31"
	r := c.Redacted()
	body, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"GOCSPX-client-secret-0042", "s3pass-7431", "tok-5512", "slack-tok-77", "smtp-pw-31"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("shown: %s in %s", secret, body)
		}
	}
	if r.Tracker.OAuthClientSecret != Hidden || r.Hub != c.Hub || r.Tracker.OAuthClientID != c.Tracker.OAuthClientID ||
		r.Tracker.GoogleCredentials != c.Tracker.GoogleCredentials || !strings.Contains(r.S3Endpoint, "minio.example:9000") {
		t.Errorf("redacted: %+v", r)
	}
	if c.Tracker.OAuthClientSecret != "GOCSPX-client-secret-0042" {
		t.Error("Redacted changed the original")
	}
	if (Config{}).Redacted().Tracker.OAuthClientSecret != "" {
		t.Error("an unset secret reads as set")
	}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		for i := range ty.NumField() {
			f := ty.Field(i)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			name := strings.ToLower(f.Name)
			if (strings.Contains(name, "secret") || strings.Contains(name, "token") && !strings.Contains(name, "url") ||
				strings.Contains(name, "password") || strings.Contains(name, "privatekey")) && f.Tag.Get("secret") != "true" {
				t.Errorf("%s.%s looks like a secret but is not tagged secret:\"true\"", ty.Name(), f.Name)
			}
		}
	}
	walk(reflect.TypeOf(Config{}))
}

// `editkit --config NEW.toml config init`: the file and its missing
// folders are made, 0600 and 0700; an existing file is kept unless force,
// which also makes it 0600; a link at the path is refused, not written
// through.
func TestWriteTemplate(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "new", "show", "editkit.toml")
	if err := WriteTemplate(path, false); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700, filepath.Join(root, "new"): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", p, fi.Mode(), err, want)
		}
	}
	if c, err := Load(path, true); err != nil || c.Hub != "" {
		t.Fatalf("written template: %+v %v", c, err)
	}
	os.WriteFile(path, []byte("hub = \"/mine\"\n"), 0o644)
	os.Chmod(path, 0o644)
	var ee *ExistsError
	if err := WriteTemplate(path, false); !errors.As(err, &ee) {
		t.Fatalf("existing file: %v", err)
	}
	if c, _ := Load(path, true); c.Hub != "/mine" {
		t.Fatal("existing file replaced without force")
	}
	if err := WriteTemplate(path, true); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("--force left %v", fi.Mode())
	}

	outside := filepath.Join(root, "outside.toml")
	os.WriteFile(outside, []byte("hub = \"/kept\"\n"), 0o644)
	link := filepath.Join(root, "link.toml")
	os.Symlink(outside, link)
	var le *place.LinkError
	if err := WriteTemplate(link, true); !errors.As(err, &le) {
		t.Fatalf("--force on a link: %v, want the link refused", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "hub = \"/kept\"\n" {
		t.Errorf("written through the link: %q", b)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != "editkit.toml" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
