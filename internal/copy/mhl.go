package copy

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/treepath"
)

const (
	historyPattern = "ascmhl/"
	historyReason  = "ASC MHL history (carried over and continued, not copied as media)"
)

// sourceRecord is what the source's ASC MHL histories (a camera card's,
// an offload tool's) record for one file.
type sourceRecord struct {
	history string     // folder of the history that records it, "" for the source's root
	hashes  []mhl.Hash // the newest hash in each format
	failed  bool       // the newest record is a failed verification
}

// loadSourceHistories reads what the source's histories record, so each
// file they know is checked against its own history as it is copied: a
// file that no longer matches is damaged at the source.
func (c *copier) loadSourceHistories() error {
	c.recorded = map[string]sourceRecord{}
	load := func(h string) error {
		dir := filepath.Join(c.srcRoot, filepath.FromSlash(h))
		hist, err := mhl.Open(dir)
		if err != nil {
			return fmt.Errorf("reading the ASC MHL history of the source (%s): %w; repair or remove it, or copy the folder without it", filepath.Join(dir, "ascmhl"), err)
		}
		for f := range hist.Files() {
			p := f.Path
			if h != "" {
				p = h + "/" + p
			}
			if treepath.Validate(p) != nil {
				continue
			}
			r := sourceRecord{history: h, failed: f.Failed}
			for _, rh := range f.Hashes {
				r.hashes = append(r.hashes, rh.Hash)
			}
			c.recorded[p] = r
		}
		return nil
	}
	// The root's history takes in the nested ones, as on the drive.
	if slices.Contains(c.histories, "") {
		return load("")
	}
	for _, h := range c.histories {
		if err := load(h); err != nil {
			return err
		}
	}
	return nil
}

// extraFormats returns the formats other than xxh128 (which every copy
// computes) that a source history records for a file.
func (r sourceRecord) extraFormats() []mhl.Format {
	var out []mhl.Format
	for _, h := range r.hashes {
		if h.Format != mhl.XXH128 {
			out = append(out, h.Format)
		}
	}
	return out
}

// check compares what was read from the source with what its history
// records. It returns the hashes the drive's next generation records for
// the file — each recorded format "verified" when it matches, "failed" when
// it does not, and xxh128 added with the same verdict when the history had
// another format, as the reference tool does — and, when the file does not
// match, why it is damaged at the source.
func (r sourceRecord) check(srcRoot, path, xxh128 string, extra map[mhl.Format]string, at time.Time) ([]mhl.Hash, error) {
	got := func(f mhl.Format) string {
		if f == mhl.XXH128 {
			return xxh128
		}
		return extra[f]
	}
	var mismatches []string
	for _, h := range r.hashes {
		if g := got(h.Format); !sameDigest(h.Format, g, h.Digest) {
			mismatches = append(mismatches, fmt.Sprintf("%s is %s, the history recorded %s", h.Format, g, h.Digest))
		}
	}
	var damage error
	srcPath := filepath.Join(srcRoot, filepath.FromSlash(path))
	hist := filepath.Join(srcRoot, filepath.FromSlash(r.history), "ascmhl")
	switch {
	case len(mismatches) > 0:
		damage = fmt.Errorf("damaged at the source: %s does not match its ASC MHL history (%s): %s; "+
			"the copy on this drive holds the damaged bytes and is recorded as failed — copy this file again from another copy of the card",
			srcPath, hist, strings.Join(mismatches, "; "))
	case r.failed:
		damage = fmt.Errorf("damaged at the source: the ASC MHL history of %s (%s) records a failed verification for it; "+
			"the copy on this drive is recorded as failed — copy this file again from another copy of the card", srcPath, hist)
	}
	action := mhl.Verified
	if damage != nil {
		action = mhl.Failed
	}
	var out []mhl.Hash
	haveXXH := false
	for _, h := range r.hashes {
		haveXXH = haveXXH || h.Format == mhl.XXH128
		out = append(out, mhl.Hash{Format: h.Format, Digest: got(h.Format), Action: action, HashDate: at})
	}
	if !haveXXH {
		out = append(out, mhl.Hash{Format: mhl.XXH128, Digest: xxh128, Action: action, HashDate: at})
	}
	return out, damage
}

func sameDigest(f mhl.Format, a, b string) bool {
	if f == mhl.C4Format {
		return a == b
	}
	return strings.EqualFold(a, b)
}

// writeMHL adds an ASC MHL transfer generation at the drive's root listing
// every file written since the last generation.
func (c *copier) writeMHL(d *dest) (string, error) {
	return d.drive.AddMHLGeneration(mhl.Generation{
		Process:     mhl.ProcessTransfer,
		Created:     c.opts.Now(),
		Host:        c.opts.Host,
		Tool:        c.opts.Tool,
		ToolVersion: c.opts.Version,
		Author:      c.opts.User,
		Comment:     "editkit copy from " + c.srcRoot,
	}, c.histories, d.mhlFiles)
}
