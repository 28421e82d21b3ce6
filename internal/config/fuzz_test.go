package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzLoad reads arbitrary bytes as the settings file: an error naming the
// file, or settings that, written out again, read back the same. Never a
// panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(Template))
	f.Add([]byte(strings.ReplaceAll(Template, "\n# ", "\n")))
	f.Add([]byte("hub = \"s3://show-hub/editorial\"\n[backup]\npaths = [\"/a\", \"/b\"]\nexclude = []\n[tracker]\nsheet = \"x\"\n"))
	f.Add([]byte("hub = 1\n"))
	f.Add([]byte("nope = \"x\"\n"))
	f.Add([]byte("[backup]\npaths = \"/a\"\n"))
	f.Add([]byte("hub = \"\\u0000\"\nuser = '''\nmulti\nline'''\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, true)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the settings file: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(c); err != nil {
			t.Fatalf("settings read cannot be written: %v", err)
		}
		again := filepath.Join(t.TempDir(), "again.toml")
		if err := os.WriteFile(again, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		c2, err := Load(again, true)
		if err != nil {
			t.Fatalf("settings written out do not read back: %v\n%s", err, buf.Bytes())
		}
		if !reflect.DeepEqual(normal(c), normal(c2)) {
			t.Fatalf("read %+v\nwrote and read %+v", c, c2)
		}
	})
}

// normal treats an empty list like none: TOML cannot tell them apart once
// written out.
func normal(c Config) Config {
	if len(c.Backup.Paths) == 0 {
		c.Backup.Paths = nil
	}
	if len(c.Backup.Excludes) == 0 {
		c.Backup.Excludes = nil
	}
	return c
}
