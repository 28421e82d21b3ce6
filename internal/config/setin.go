package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// SetIn sets key to value in [table] of the settings file at path ("" for
// a top-level setting), keeping the rest of the file — comments included —
// as it is: an existing `key = …` line is replaced, else the line goes
// below the template's commented-out example of it, else at the end of the
// table (a missing table is added). A missing file starts from Template.
// The file is replaced atomically, never through a link, and stays
// private (0600) unless it was readable by others before.
func SetIn(path, table, key, value string) error {
	if path == "" {
		return errors.New("no settings file path: give --config FILE")
	}
	text, perm := Template, fs.FileMode(0o600)
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("settings file %s is a link, which editkit does not write through: set %s in the file it points to", path, settingName(table, key))
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("settings file %s: %w", path, err)
		}
		text, perm = string(data), fi.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("settings file %s: %w", path, err)
	}
	var enc bytes.Buffer
	if err := toml.NewEncoder(&enc).Encode(map[string]string{key: value}); err != nil {
		return err
	}
	text = setLineIn(text, table, key, strings.TrimRight(enc.String(), "\n"))
	var check Config
	if _, err := toml.Decode(text, &check); err != nil {
		return fmt.Errorf("settings file %s: could not set %s in it (%v): set it yourself", path, settingName(table, key), err)
	}
	return writeSettings(path, perm, text)
}

func settingName(table, key string) string {
	if table == "" {
		return key
	}
	return "[" + table + "] " + key
}

// setLineIn puts line in place of key in [table] of text.
func setLineIn(text, table, key, line string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	start, end := 0, len(lines) // the table's lines: [start, end)
	if table != "" {
		start = -1
		for i, l := range lines {
			if strings.TrimSpace(l) == "["+table+"]" {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return strings.Join(append(lines, "", "["+table+"]", line), "\n") + "\n"
		}
	}
	for i := start; i < len(lines); i++ {
		if strings.HasPrefix(strings.TrimSpace(lines[i]), "[") {
			end = i
			break
		}
	}
	at := -1
	for i := start; i < end; i++ {
		t := strings.TrimSpace(lines[i])
		if name, _, ok := strings.Cut(t, "="); ok && strings.TrimSpace(name) == key {
			lines[i] = line
			return strings.Join(lines, "\n") + "\n"
		}
		if name, _, ok := strings.Cut(strings.TrimPrefix(t, "#"), "="); ok && strings.HasPrefix(t, "#") && strings.TrimSpace(name) == key && at < 0 {
			at = i + 1
		}
	}
	if at < 0 {
		at = end
		for at > start && strings.TrimSpace(lines[at-1]) == "" {
			at--
		}
	}
	lines = append(lines[:at], append([]string{line}, lines[at:]...)...)
	return strings.Join(lines, "\n") + "\n"
}
