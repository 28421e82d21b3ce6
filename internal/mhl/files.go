package mhl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/editkit/editkit/internal/hashing"
	"github.com/editkit/editkit/internal/place"
)

// genSeq parses a generation file name, NNNN_<anything>.mhl (or NNNN.mhl,
// which the reference tool also accepts), and returns NNNN.
func genSeq(name string) (int, bool) {
	stem, ok := strings.CutSuffix(name, ".mhl")
	if !ok {
		return 0, false
	}
	digits, rest, found := strings.Cut(stem, "_")
	if len(digits) < 4 || (found && rest == "") {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// genFiles lists the generation files in a history folder by number.
func genFiles(hdir string) (map[int]string, error) {
	ents, err := os.ReadDir(hdir)
	if err != nil {
		return nil, err
	}
	out := make(map[int]string)
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if n, ok := genSeq(e.Name()); ok {
			if prev, dup := out[n]; dup {
				// Two files claim the same number; keep both visible to the
				// caller by failing loudly rather than picking one.
				return nil, fmt.Errorf("mhl %s: generation %d is both %s and %s", hdir, n, prev, e.Name())
			}
			out[n] = e.Name()
		}
	}
	return out, nil
}

// readChainFile reads a history's chain; a missing chain is no entries.
func readChainFile(hdir string) ([]chainEntry, error) {
	p := filepath.Join(hdir, chainFileName)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := parseChain(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("mhl %s: %w", p, err)
	}
	return entries, nil
}

// writeChain replaces the chain file of the history in the folder hdir
// (a tree path under r) atomically.
func writeChain(r *place.Root, hdir string, entries []chainEntry) error {
	return writeAtomic(r, path.Join(hdir, chainFileName), func(w *bufio.Writer) error {
		w.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
		w.WriteString(`<ascmhldirectory xmlns="` + nsDirectory + `">` + "\n")
		for _, e := range entries {
			fmt.Fprintf(w, "  <hashlist sequencenr=\"%d\">\n", e.Seq)
			w.WriteString("    <path>")
			w.Write(appendEscaped(nil, e.File))
			w.WriteString("</path>\n    <c4>")
			w.WriteString(e.C4)
			w.WriteString("</c4>\n  </hashlist>\n")
		}
		w.WriteString("</ascmhldirectory>\n")
		return nil
	})
}

// writeAtomic writes the file rel under r through a temporary file: write,
// fsync, rename, fsync the folder. A crash leaves the old file or the new
// one, never half of one.
func writeAtomic(r *place.Root, rel string, fill func(*bufio.Writer) error) (err error) {
	// Through the placement path: never through a link, 0644 for every
	// user, fixed temporary name (a killed run's is reused).
	return r.WriteFile(rel, 0o644, func(out io.Writer) error {
		bw := bufio.NewWriter(out)
		if err := fill(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// fileC4 returns the C4 id of a file's bytes.
func fileC4(r io.Reader) (string, error) {
	h := hashing.NewMultiHasher(hashing.C4)
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return h.Digest(hashing.C4), nil
}
