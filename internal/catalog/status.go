package catalog

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/treepath"
)

// ItemStatus is one catalog item and who has it.
type ItemStatus struct {
	Item
	Drives []DriveCopy `json:"drives"` // drives that have this version
	// OnDrive says, when a drive was named, whether it has the item:
	// "yes", "missing", or "different" (another file at that path).
	OnDrive string `json:"on_drive,omitempty"`
}

// DriveCopy is a drive's copy of an item.
type DriveCopy struct {
	Label string    `json:"label"`
	ID    string    `json:"id"`
	Since time.Time `json:"since"`
}

// Status is what `editkit status` shows.
type Status struct {
	Items     []ItemStatus `json:"items"`
	Drives    []*Drive     `json:"drives"`
	Backups   []Backup     `json:"backups"`
	Conflicts []Conflict   `json:"conflicts,omitempty"`
	Rejected  []Rejected   `json:"rejected,omitempty"`
	Drive     *DriveStatus `json:"drive,omitempty"`
	Catalog   Stats        `json:"catalog"`
	// Expiring is, per drive, the review media it holds (ExpiringByDrive).
	Expiring []DriveExpiry `json:"expiring,omitempty"`
}

// DriveStatus is what a named drive lacks.
type DriveStatus struct {
	Path    string   `json:"path"`
	Label   string   `json:"label,omitempty"`
	ID      string   `json:"id,omitempty"`
	Missing []string `json:"missing"`
	Differs []string `json:"differs,omitempty"`
	Bytes   int64    `json:"missing_bytes"`
}

// GetStatus reads the catalog (now is the command's clock), and the named
// drive's manifest if any.
func GetStatus(ctx context.Context, h *contenthub.Hub, now time.Time, drive string) (*Status, error) {
	state, stats, err := Load(ctx, h, now, true)
	if err != nil {
		return nil, err
	}
	st := &Status{Catalog: stats, Conflicts: state.Conflicts, Rejected: state.Rejected}
	var onDrive map[string]manifest.Record
	if drive != "" {
		root, err := filepath.Abs(drive)
		if err != nil {
			return nil, err
		}
		ds := &DriveStatus{Path: drive}
		onDrive = map[string]manifest.Record{}
		if manifest.IsDrive(root) {
			d, err := manifest.Open(root)
			if err != nil {
				return nil, err
			}
			ds.Label, ds.ID = d.Info.Label, d.Info.ID
			for r, err := range d.Records() {
				if err != nil {
					return nil, err
				}
				if _, ok := state.Items[r.Path]; ok {
					onDrive[r.Path] = r
				}
			}
		} else if _, err := os.Stat(root); err != nil {
			return nil, err
		}
		st.Drive = ds
	}
	for _, it := range state.Sorted() {
		is := ItemStatus{Item: *it}
		for _, d := range state.Drives {
			if c, ok := d.Has[it.Path]; ok && c.B3 == it.B3 {
				is.Drives = append(is.Drives, DriveCopy{Label: d.Label, ID: d.ID, Since: c.Time})
			}
		}
		sort.Slice(is.Drives, func(i, j int) bool { return is.Drives[i].Label < is.Drives[j].Label })
		if st.Drive != nil {
			r, ok := onDrive[it.Path]
			switch {
			case ok && r.BLAKE3 == it.B3:
				is.OnDrive = "yes"
			case ok:
				is.OnDrive = "different"
				st.Drive.Differs = append(st.Drive.Differs, it.Path)
			default:
				is.OnDrive = "missing"
				st.Drive.Missing = append(st.Drive.Missing, it.Path)
				st.Drive.Bytes += it.Size
			}
		}
		st.Items = append(st.Items, is)
	}
	for _, d := range state.Drives {
		st.Drives = append(st.Drives, d)
	}
	sort.Slice(st.Drives, func(i, j int) bool { return st.Drives[i].Label < st.Drives[j].Label })
	for _, b := range state.Backups {
		st.Backups = append(st.Backups, b)
	}
	sort.Slice(st.Backups, func(i, j int) bool { return st.Backups[i].Set < st.Backups[j].Set })
	sort.Slice(st.Conflicts, func(i, j int) bool { return treepath.Less(st.Conflicts[i].Path, st.Conflicts[j].Path) })
	return st, nil
}
