package doctor

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/units"
)

// LowSpace is the free space under which a drive gets a warning.
const LowSpace = 10 << 30

// fsFamilies names file systems as people know them, by the name the
// operating system gives (Linux mountinfo, macOS statfs).
var fsFamilies = map[string]string{
	"vfat": "FAT32", "msdos": "FAT32", "fat": "FAT32", "fuse.fusefat": "FAT32",
	"exfat": "exFAT", "fuseblk.exfat": "exFAT", "fuse.exfat": "exFAT",
	"apfs": "APFS", "hfs": "HFS+", "hfsplus": "HFS+",
	"ntfs": "NTFS", "ntfs3": "NTFS", "fuseblk.ntfs": "NTFS",
	"ext4": "ext4", "ext3": "ext3", "xfs": "XFS", "btrfs": "Btrfs", "zfs": "ZFS", "tmpfs": "tmpfs",
	"smbfs": "SMB share", "cifs": "SMB share", "nfs": "NFS share", "nfs4": "NFS share",
}

// Drive checks a drive (or any folder editkit writes to): its file system,
// whether it tells names apart by case, and its free space. It writes one
// empty probe file in root and removes it.
func Drive(root string) []Result {
	fi, err := os.Stat(root)
	if err != nil || !fi.IsDir() {
		return []Result{fail("drive", "%s is not a mounted folder (%v); plug the drive in, or check the path", root, err)}
	}
	var rs []Result
	kind := fsx.FSType(root)
	family := fsFamilies[strings.ToLower(kind)]
	switch {
	case family == "FAT32":
		rs = append(rs, warn("drive", "%s is FAT32: no file over 4 GiB fits (long ProRes/DNxHR media will fail); reformat it as exFAT", root))
	case family != "":
		rs = append(rs, ok("drive", "%s is %s", root, family))
	case kind == "fuseblk":
		rs = append(rs, ok("drive", "%s is a FUSE volume (exFAT or NTFS)", root))
	case kind != "":
		rs = append(rs, warn("drive", "%s is %s, a file system editkit does not know; exFAT, APFS, HFS+, NTFS and ext4 are", root, kind))
	default:
		rs = append(rs, warn("drive", "%s: its file system could not be told", root))
	}
	rs = append(rs, caseCheck(root))
	if sp, err := fsx.FreeSpace(root); err != nil {
		rs = append(rs, warn("space", "%s: free space unknown (%v)", root, err))
	} else if sp.Free < LowSpace {
		rs = append(rs, warn("space", "%s: only %s free of %s; make room before the next copy or pull", root, units.FormatBytes(sp.Free), units.FormatBytes(sp.Total)))
	} else {
		rs = append(rs, ok("space", "%s: %s free of %s", root, units.FormatBytes(sp.Free), units.FormatBytes(sp.Total)))
	}
	return rs
}

// caseCheck creates a probe file and looks it up under its name in
// capitals.
func caseCheck(root string) Result {
	name := ".editkit-doctor-" + fsx.RandomID(6)
	path := filepath.Join(root, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fail("drive", "%s cannot be written (%v); check that it is not mounted read-only (macOS mounts NTFS read-only) and that you may write to it", root, err)
	}
	f.Close()
	defer os.Remove(path)
	_, err = os.Lstat(filepath.Join(root, strings.ToUpper(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return warn("drive", "%s is case-sensitive: Shot.mov and shot.mov can both be on it but not on editors' exFAT/APFS drives (copy refuses such names unless --allow-unportable)", root)
	}
	return ok("drive", "%s does not tell names apart by case, like editors' drives", root)
}

// StateDir checks that editkit's state folder (outbox, locks, caches) can
// be written: a file is created, flushed and removed there.
func StateDir(dir string) Result {
	const what = "; it holds the outbox of changes on their way to the hub and the tracker: fix its permissions, or set EDITKIT_STATE_DIR to a folder you can write"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail("state", "state folder %s cannot be created (%v)%s", dir, err, what)
	}
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		return fail("state", "state folder %s cannot be written (%v)%s", dir, err, what)
	}
	name := f.Name()
	_, err = f.WriteString("probe")
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return fail("state", "state folder %s cannot be written (%v)%s", dir, err, what)
	}
	return ok("state", "state folder %s can be written", dir)
}
