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

// SetTopLevel sets the top-level setting key (hub, identity…) to value in
// the settings file at path, keeping the rest of the file as it is: an
// existing `key = …` line is replaced, else the line goes where the
// template has it commented out, else before the first [table]. A missing
// file starts from Template. A link at path is refused (the file it
// points to is the user's to edit).
func SetTopLevel(path, key, value string) error {
	if path == "" {
		return errors.New("no settings file path: give --config FILE")
	}
	text := Template
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("settings file %s is a link, which editkit does not write through: set %s = %q in the file it points to", path, key, value)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("settings file %s: %w", path, err)
		}
		text = string(data)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("settings file %s: %w", path, err)
	}
	var line bytes.Buffer
	if err := toml.NewEncoder(&line).Encode(map[string]string{key: value}); err != nil {
		return err
	}
	text = setLine(text, key, strings.TrimRight(line.String(), "\n"))
	var check map[string]any
	if _, err := toml.Decode(text, &check); err != nil || check[key] != value {
		return fmt.Errorf("settings file %s: could not set %s in it (%v): set %s = %q yourself", path, key, err, key, value)
	}
	return writeAside(path, text)
}

// setLine puts line in place of the top-level setting key in text.
func setLine(text, key, line string) string {
	lines := strings.Split(text, "\n")
	commented, table := -1, len(lines)
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			table = i
			break
		}
		if name, _, ok := strings.Cut(t, "="); ok && strings.TrimSpace(name) == key {
			lines[i] = line
			return strings.Join(lines, "\n")
		}
		if name, _, ok := strings.Cut(strings.TrimPrefix(t, "#"), "="); ok && strings.HasPrefix(t, "#") && strings.TrimSpace(name) == key && commented < 0 {
			commented = i
		}
	}
	at := table
	if commented >= 0 {
		at = commented + 1
	}
	lines = append(lines[:at], append([]string{line}, lines[at:]...)...)
	return strings.Join(lines, "\n")
}
