package cut

import (
	"sort"
	"time"

	"github.com/editkit/editkit/internal/catalog"
	"github.com/editkit/editkit/internal/manifest"
	"github.com/editkit/editkit/internal/treepath"
)

// Drive is a drive to check the cut against: its identity and what its
// manifest records.
type Drive struct {
	Root    string
	Label   string
	ID      string
	Records []manifest.Record
}

// Report says, for each media file a cut needs, where it is, and for each
// drive asked about what it lacks.
type Report struct {
	Cut       string      `json:"cut"`
	Format    string      `json:"format"`
	Sequences []string    `json:"sequences"`
	Media     []Needed    `json:"media"`
	Drives    []DriveGap  `json:"drives,omitempty"`
	Unknown   []Ref       `json:"unknown"`
	Ambiguous []Ambiguity `json:"ambiguous,omitempty"`
	// BytesPerSecond is the rate the pull times assume (0: none known).
	BytesPerSecond int64 `json:"bytes_per_second"`
}

// Needed is one media file the cut needs.
type Needed struct {
	Path   string   `json:"path"`
	Size   int64    `json:"size"`
	Clip   string   `json:"clip,omitempty"`
	InHub  bool     `json:"in_hub"`
	Drives []string `json:"drives"` // labels of drives that hold it (catalog's record, and the drives asked about)
	By     string   `json:"matched_by"`
	key    string
}

// DriveGap is what one drive lacks of the cut.
type DriveGap struct {
	Drive        string        `json:"drive"`
	Label        string        `json:"label"`
	Missing      []Needed      `json:"missing"`
	MissingBytes int64         `json:"missing_bytes"`
	Pullable     int           `json:"pullable"` // of Missing, in the hub
	PullBytes    int64         `json:"pullable_bytes"`
	PullTime     time.Duration `json:"pull_time_ns,omitempty"` // at BytesPerSecond
}

// Ambiguity is a reference several different clips fit; all are needed
// until the cut is made precise.
type Ambiguity struct {
	Ref   Ref      `json:"ref"`
	Paths []string `json:"paths"`
}

// OK reports whether every drive asked about has everything and every
// reference was matched.
func (r *Report) OK() bool {
	for _, d := range r.Drives {
		if len(d.Missing) > 0 {
			return false
		}
	}
	return len(r.Unknown) == 0
}

// Complete reports whether every reference was matched to media in the
// hub: whether a pull can bring all the cut needs.
func (r *Report) Complete() bool {
	for _, n := range r.Media {
		if !n.InHub {
			return false
		}
	}
	return len(r.Unknown) == 0
}

// Plan matches the cut's references against the catalog (nil: no hub) and
// the drives' manifests, and works out what each drive lacks. A pull time
// is given at bytesPerSecond when it is above zero.
func Plan(nd *Needs, state *catalog.State, drives []Drive, bytesPerSecond int64) *Report {
	rep := &Report{Cut: nd.File, Format: nd.Format, Sequences: nd.Sequences, BytesPerSecond: bytesPerSecond,
		Unknown: []Ref{}, Media: []Needed{}}
	// One candidate per distinct content (BLAKE3): the catalog's, at its
	// first path in name order; else a drive's.
	size := len(drives) * 1000
	if state != nil {
		size += len(state.Items)
	}
	media, keys := make([]Media, 0, size), make([]string, 0, size)
	inHub, at := make(map[string]bool, size), make(map[string]int, size)
	add := func(b3 string, m Media) {
		key := b3
		if key == "" {
			key = "path:" + m.Path
		}
		if i, ok := at[key]; ok {
			if inHub[key] && m.Path < media[i].Path {
				media[i] = m
			}
			return
		}
		at[key] = len(media)
		media = append(media, m)
		keys = append(keys, key)
	}
	holders := map[string]map[string]bool{} // key → drive labels
	hold := func(key, label string) {
		if holders[key] == nil {
			holders[key] = map[string]bool{}
		}
		holders[key][label] = true
	}
	if state != nil {
		for _, it := range state.Items { // not Sorted: 50 000 items sort in most of a second
			inHub[it.B3] = true
			add(it.B3, Media{Path: it.Path, Size: it.Size, MXF: it.MXF})
		}
		for _, d := range state.Drives {
			for p, c := range d.Has {
				if it := state.Items[p]; it != nil && it.B3 == c.B3 {
					hold(it.B3, d.Label)
				}
			}
		}
	}
	driveHas := make([]map[string]bool, len(drives))
	for i, d := range drives {
		driveHas[i] = map[string]bool{}
		for _, r := range d.Records {
			if r.Dir || r.Deleted {
				continue
			}
			add(r.BLAKE3, Media{Path: r.Path, Size: r.Size, MXF: r.MXF})
			key := r.BLAKE3
			if key == "" {
				key = "path:" + r.Path
			}
			driveHas[i][key] = true
			hold(key, d.Label)
		}
	}

	ix := NewIndex(media)
	needed := map[int]bool{}
	for _, m := range ix.Match(nd.Refs) {
		if len(m.Media) == 0 {
			rep.Unknown = append(rep.Unknown, m.Ref)
			continue
		}
		if m.Ambiguous {
			a := Ambiguity{Ref: m.Ref}
			for _, i := range m.Media {
				a.Paths = append(a.Paths, media[i].Path)
			}
			rep.Ambiguous = append(rep.Ambiguous, a)
		}
		for _, i := range m.Media {
			if !needed[i] {
				needed[i] = true
				md := media[i]
				n := Needed{Path: md.Path, Size: md.Size, InHub: inHub[keys[i]], By: m.By, key: keys[i], Drives: []string{}}
				if md.MXF != nil {
					n.Clip = md.MXF.ClipName
				}
				for l := range holders[keys[i]] {
					n.Drives = append(n.Drives, l)
				}
				sort.Strings(n.Drives)
				rep.Media = append(rep.Media, n)
			}
		}
	}
	sort.Slice(rep.Media, func(i, j int) bool { return treepath.Less(rep.Media[i].Path, rep.Media[j].Path) })
	for i, d := range drives {
		gap := DriveGap{Drive: d.Root, Label: d.Label, Missing: []Needed{}}
		for _, n := range rep.Media {
			if driveHas[i][n.key] {
				continue
			}
			gap.Missing = append(gap.Missing, n)
			gap.MissingBytes += n.Size
			if n.InHub {
				gap.Pullable++
				gap.PullBytes += n.Size
			}
		}
		if bytesPerSecond > 0 {
			gap.PullTime = time.Duration(float64(gap.PullBytes) / float64(bytesPerSecond) * float64(time.Second))
		}
		rep.Drives = append(rep.Drives, gap)
	}
	return rep
}

// HubPaths returns the catalog paths of the needed media that are in the
// hub: what `pull --for` brings.
func (r *Report) HubPaths() map[string]bool {
	out := map[string]bool{}
	for _, n := range r.Media {
		if n.InHub {
			out[n.Path] = true
		}
	}
	return out
}
