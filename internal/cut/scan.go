package cut

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/editkit/editkit/internal/mxf"
)

// ScanFolder lists the regular files under root (never following a link)
// with the MXF header metadata of each .mxf file — its header only, never
// its essence. A file whose header cannot be read is listed without it:
// it can still be matched by name.
func ScanFolder(ctx context.Context, root string) ([]Media, error) {
	var out []Media
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		m := Media{Path: filepath.ToSlash(rel), Size: fi.Size()}
		if strings.EqualFold(filepath.Ext(p), ".mxf") {
			m.MXF = readHeader(p, fi.Size())
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", root, err)
	}
	return out, nil
}

func readHeader(p string, size int64) *mxf.Info {
	f, err := os.Open(p) // WalkDir saw a regular file, not a link: read only
	if err != nil {
		return nil
	}
	defer f.Close()
	info, err := mxf.ReadHeader(f, size)
	if err != nil && !errors.Is(err, mxf.ErrNotMXF) {
		return nil
	}
	return info
}

// Select matches the cut's references against media and returns the paths
// of the media they name, with every match (unknown ones have no media).
func Select(nd *Needs, media []Media) (map[string]bool, []Match) {
	ix := NewIndex(media)
	matches := ix.Match(nd.Refs)
	paths := map[string]bool{}
	for _, m := range matches {
		for _, i := range m.Media {
			paths[media[i].Path] = true
		}
	}
	return paths, matches
}
