//go:build linux || darwin

package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/editkit/editkit/internal/mhl"
	"github.com/editkit/editkit/internal/place"
)

// driveWithJournal makes root an editkit drive whose journal holds
// records not yet compacted, and leaves it open for writing.
func driveWithJournal(t *testing.T, root string) *Drive {
	t.Helper()
	d, err := Create(root, "EDITOR 1", t0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Append(Record{Path: "A001C003.mxf", Size: 1, BLAKE3: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", XXH128: "99aa06d3014798d86001c324468d497f"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	return d
}

// afterOpen is what a command does to a drive it opened for writing.
var afterOpen = map[string]func(d *Drive) error{
	"journal append": func(d *Drive) error {
		if err := d.Append(Record{Path: "A001C004.mxf", Size: 2}); err != nil {
			return err
		}
		return d.Sync()
	},
	"compaction": (*Drive).Compact,
	"info write": (*Drive).SaveInfo,
	"checksums":  (*Drive).WriteChecksums,
	"ASC MHL": func(d *Drive) error {
		_, _, err := d.WriteMHLGeneration(mhl.Generation{Process: mhl.ProcessInPlace, Tool: "editkit"}, nil, nil)
		return err
	},
	"report": func(d *Drive) error {
		return d.Place().WriteFiles(DirName+"/reports", place.NewFile{Name: "copy.txt", Perm: 0o644, Fill: place.Bytes([]byte("report"))})
	},
	"purge log": func(d *Drive) error {
		l, err := d.OpenPurgeLog()
		if err == nil {
			l.Close()
		}
		return err
	},
}

// A drive's folder replaced by another at the same path between opening the
// drive and writing to it (an unplugged drive leaves its empty mount point)
// is refused with ErrGone, whatever the write, and nothing is written in
// the new folder.
func TestNothingWrittenInAFolderThatReplacedTheDrive(t *testing.T) {
	for name, write := range afterOpen {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "EDITOR1")
			os.Mkdir(root, 0o755)
			d := driveWithJournal(t, root)
			if err := os.Rename(root, filepath.Join(base, "unplugged")); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := write(d); !errors.Is(err, place.ErrGone) {
				t.Errorf("%s on a drive whose folder was replaced: %v, want ErrGone", name, err)
			}
			assertEmpty(t, root)
		})
	}
}

// assertEmpty fails the test if anything was written in dir.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	var got []string
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if p != dir {
			got = append(got, p)
		}
		return nil
	})
	if len(got) > 0 {
		t.Errorf("written where the drive was: %v", got)
	}
}

// snapshot lists every entry under dir with its size and mode.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %v %v %d", p, fi.Mode(), fi.ModTime(), fi.Size()))
		return nil
	})
	return out
}

// A link at .editkit (or at a file in it) is refused by every way of
// opening a drive for writing, with a LinkError, and nothing is written
// where it points: not the lock, the journal, drive.json or a manifest
// (a rebuild sets a link at the journal aside, as it does the file). Open,
// which only reads, refuses a link at .editkit or drive.json.
func TestDriveStateThroughALinkIsRefused(t *testing.T) {
	opens := map[string]func(root string) (*Drive, error){
		"Open":         Open,
		"OpenForWrite": OpenForWrite,
		"Create":       func(root string) (*Drive, error) { return Create(root, "", t0) },
		"OpenForRebuild": func(root string) (*Drive, error) {
			rb, err := OpenForRebuild(placeRoot(t, root), "", t0)
			if err != nil {
				return nil, err
			}
			_, err = rb.Replace(nil, t0)
			return rb.Drive, err
		},
	}
	for _, link := range []string{DirName, DirName + "/" + journalFile, DirName + "/" + lockFile, DirName + "/" + infoFile} {
		for name, open := range opens {
			t.Run(link+"/"+name, func(t *testing.T) {
				// Another drive's state, which the link points at.
				elsewhere := t.TempDir()
				other := driveWithJournal(t, elsewhere)
				other.Close()
				before := snapshot(t, elsewhere)

				root := t.TempDir()
				driveWithJournal(t, root).Close()
				target := filepath.Join(elsewhere, filepath.FromSlash(link))
				if err := os.RemoveAll(filepath.Join(root, filepath.FromSlash(link))); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(link))); err != nil {
					t.Fatal(err)
				}
				d, err := open(root)
				if err == nil {
					d.Close()
				}
				var le *place.LinkError
				readsOnly := name == "Open" || name == "OpenForRebuild" && link == DirName+"/"+journalFile
				if wantRefused := !readsOnly || link == DirName || link == DirName+"/"+infoFile; wantRefused && !errors.As(err, &le) {
					t.Errorf("%s with a link at %s: %v, want a LinkError", name, link, err)
				}
				if after := snapshot(t, elsewhere); !slices.Equal(after, before) {
					t.Errorf("written where the link points:\nbefore %q\nafter  %q", before, after)
				}
			})
		}
	}
}
