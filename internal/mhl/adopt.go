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

// Continues reports whether the history in dst/ascmhl continues the one
// in src/ascmhl: its chain begins with every generation src's lists (same
// sequence number, file name and C4). A copy of src's history continued
// by later generations does; an unrelated history, or one whose source
// has gained generations since, does not.
func Continues(src, dst string) (bool, error) {
	from, err := readChainFile(filepath.Join(src, folderName))
	if err != nil {
		return false, err
	}
	to, err := readChainFile(filepath.Join(dst, folderName))
	if err != nil {
		return false, err
	}
	if len(from) == 0 || len(to) < len(from) {
		return false, nil // without a chain, nothing shows the two are one history
	}
	for i, e := range from {
		if to[i] != e {
			return false, nil
		}
	}
	return true, nil
}
