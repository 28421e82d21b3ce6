package mhl

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Recheck compares digests computed now (got, by format) with what the
// history recorded for a file. It returns the hashes a new generation
// records for it, as the reference tool writes them: each format the
// history has, "verified" when it matches and "failed" when it does not;
// and each format in also that the history lacks, with the same verdict
// (the reference's "new" hash in a verified file). mismatches describes
// every digest that differs; a file whose newest record is already failed
// gets "failed" whatever it hashes to, and no mismatch.
func (r FileRecord) Recheck(got map[Format]string, at time.Time, also ...Format) (hashes []Hash, mismatches []string) {
	for _, h := range r.Hashes {
		if g := got[h.Format]; !SameDigest(h.Format, g, h.Digest) {
			mismatches = append(mismatches, fmt.Sprintf("%s is %s, the history recorded %s", h.Format, g, h.Digest))
		}
	}
	action := Verified
	if len(mismatches) > 0 || r.Failed {
		action = Failed
	}
	have := map[Format]bool{}
	for _, h := range r.Hashes {
		have[h.Format] = true
		hashes = append(hashes, Hash{Format: h.Format, Digest: got[h.Format], Action: action, HashDate: at})
	}
	for _, f := range also {
		if !have[f] && got[f] != "" {
			have[f] = true
			hashes = append(hashes, Hash{Format: f, Digest: got[f], Action: action, HashDate: at})
		}
	}
	return hashes, mismatches
}

// SameDigest reports whether two digests in format f are the same: hex
// digests in any case, C4 ids exactly.
func SameDigest(f Format, a, b string) bool {
	if f == C4Format {
		return a == b
	}
	return strings.EqualFold(a, b)
}

// Recordable reports why a path cannot be written into a generation (a
// name XML cannot carry), or nil. A file under such a name could be placed
// but never recorded.
func Recordable(path string) error {
	if err := xmlSafe(path); err != nil {
		return fmt.Errorf("an ASC MHL history cannot record this name: %w", err)
	}
	return nil
}

// Lineage is how one history relates to another.
type Lineage int

const (
	// Unrelated histories start with different generations.
	Unrelated Lineage = iota
	// Diverged histories start with the same generations, then each went
	// on alone (a copy's history and its source's, both added to since).
	Diverged
	// Continued: the second history's chain begins with every generation
	// of the first (a copy of it, perhaps added to since).
	Continued
)

// CompareChains says how the history in dst/ascmhl relates to the one in
// src/ascmhl, by their chains (sequence number, file name and C4 of each
// generation). A history without a chain file relates to nothing.
func CompareChains(src, dst string) (Lineage, error) {
	from, err := readChainFile(filepath.Join(src, folderName))
	if err != nil {
		return Unrelated, err
	}
	to, err := readChainFile(filepath.Join(dst, folderName))
	if err != nil {
		return Unrelated, err
	}
	common := 0
	for common < len(from) && common < len(to) && from[common] == to[common] {
		common++
	}
	switch {
	case common == 0:
		return Unrelated, nil
	case common == len(from):
		return Continued, nil
	}
	return Diverged, nil
}
