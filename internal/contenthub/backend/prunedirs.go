package backend

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// PruneEmptyFolders removes the empty folders under prefix (a folder key
// such as "snapshots/") in a store that has folders (the folder backend;
// others have none), innermost first, so that a folder's name that was
// part of a removed object's key does not outlive it. A folder that is not
// empty is left alone.
func PruneEmptyFolders(ctx context.Context, b Backend, prefix string) error {
	for b != nil {
		if l, ok := b.(*Local); ok {
			return l.pruneEmptyFolders(ctx, prefix)
		}
		u, ok := b.(interface{ Unwrap() Backend })
		if !ok {
			return nil
		}
		b = u.Unwrap()
	}
	return nil
}

func (l *Local) pruneEmptyFolders(ctx context.Context, prefix string) error {
	if err := ValidateKey(prefix[:len(prefix)-1]); err != nil || prefix[len(prefix)-1] != '/' {
		return errors.Join(ErrInvalidKey, err)
	}
	root := l.path(prefix)
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() && p != root {
			dirs = append(dirs, p)
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	slices.Reverse(dirs)
	for _, d := range dirs {
		// Fails harmlessly on a folder that is not empty.
		os.Remove(d)
	}
	return nil
}
