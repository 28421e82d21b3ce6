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
	c := newCandidates(state, drives)
	c.addCatalog(state)
	c.addDrives(drives)
	c.match(rep, nd.Refs)
	sort.Slice(rep.Media, func(i, j int) bool { return treepath.Less(rep.Media[i].Path, rep.Media[j].Path) })
	for i, d := range drives {
		rep.Drives = append(rep.Drives, driveGap(d, c.driveHas[i], rep.Media, bytesPerSecond))
	}
	return rep
}

// candidates is the media a cut's references can match: one per distinct
// content (BLAKE3), the catalog's at its first path in name order, else a
// drive's; with who holds each and what each drive asked about has.
type candidates struct {
	media    []Media
	keys     []string                   // per media: its content key
	at       map[string]int             // content key → index in media
	inHub    map[string]bool            // content keys the catalog has
	holders  map[string]map[string]bool // content key → drive labels
	driveHas []map[string]bool          // per drive asked about: content keys on it
}

func newCandidates(state *catalog.State, drives []Drive) *candidates {
	size := len(drives) * 1000
	if state != nil {
		size += len(state.Items)
	}
	return &candidates{
		media: make([]Media, 0, size), keys: make([]string, 0, size),
		at: make(map[string]int, size), inHub: make(map[string]bool, size),
		holders: map[string]map[string]bool{}, driveHas: make([]map[string]bool, len(drives)),
	}
}

// contentKey names a file's content: its BLAKE3, else (no hash known) its
// path.
func contentKey(b3, path string) string {
	if b3 == "" {
		return "path:" + path
	}
	return b3
}

// add makes m a candidate unless its content is one already; the
// catalog's copy at the first path in name order stands for it.
func (c *candidates) add(b3 string, m Media) {
	key := contentKey(b3, m.Path)
	if i, ok := c.at[key]; ok {
		if c.inHub[key] && m.Path < c.media[i].Path {
			c.media[i] = m
		}
		return
	}
	c.at[key] = len(c.media)
	c.media = append(c.media, m)
	c.keys = append(c.keys, key)
}

func (c *candidates) hold(key, label string) {
	if c.holders[key] == nil {
		c.holders[key] = map[string]bool{}
	}
	c.holders[key][label] = true
}

// addCatalog adds the hub's media and the drives the catalog says hold
// them.
func (c *candidates) addCatalog(state *catalog.State) {
	if state == nil {
		return
	}
	for _, it := range state.Items { // not Sorted: 50 000 items sort in most of a second
		c.inHub[it.B3] = true
		c.add(it.B3, Media{Path: it.Path, Size: it.Size, MXF: it.MXF})
	}
	for _, d := range state.Drives {
		for p, rec := range d.Has {
			if it := state.Items[p]; it != nil && it.B3 == rec.B3 {
				c.hold(it.B3, d.Label)
			}
		}
	}
}

// addDrives adds what the drives asked about record, and notes what each
// has.
func (c *candidates) addDrives(drives []Drive) {
	for i, d := range drives {
		c.driveHas[i] = map[string]bool{}
		for _, r := range d.Records {
			if r.Dir || r.Deleted {
				continue
			}
			c.add(r.BLAKE3, Media{Path: r.Path, Size: r.Size, MXF: r.MXF})
			key := contentKey(r.BLAKE3, r.Path)
			c.driveHas[i][key] = true
			c.hold(key, d.Label)
		}
	}
}

// match matches refs against the candidates into rep: each matched
// candidate once in Media, references nothing fits in Unknown, those
// several clips fit in Ambiguous.
func (c *candidates) match(rep *Report, refs []Ref) {
	needed := map[int]bool{}
	for _, m := range NewIndex(c.media).Match(refs) {
		if len(m.Media) == 0 {
			rep.Unknown = append(rep.Unknown, m.Ref)
			continue
		}
		if m.Ambiguous {
			a := Ambiguity{Ref: m.Ref}
			for _, i := range m.Media {
				a.Paths = append(a.Paths, c.media[i].Path)
			}
			rep.Ambiguous = append(rep.Ambiguous, a)
		}
		for _, i := range m.Media {
			if !needed[i] {
				needed[i] = true
				rep.Media = append(rep.Media, c.needed(i, m.By))
			}
		}
	}
}

// needed is candidate i as the cut needs it, matched by by.
func (c *candidates) needed(i int, by string) Needed {
	md, key := c.media[i], c.keys[i]
	n := Needed{Path: md.Path, Size: md.Size, InHub: c.inHub[key], By: by, key: key, Drives: []string{}}
	if md.MXF != nil {
		n.Clip = md.MXF.ClipName
	}
	for l := range c.holders[key] {
		n.Drives = append(n.Drives, l)
	}
	sort.Strings(n.Drives)
	return n
}

// driveGap is what of media drive d (holding the content keys has) lacks,
// and how long pulling it takes at bytesPerSecond.
func driveGap(d Drive, has map[string]bool, media []Needed, bytesPerSecond int64) DriveGap {
	gap := DriveGap{Drive: d.Root, Label: d.Label, Missing: []Needed{}}
	for _, n := range media {
		if has[n.key] {
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
	return gap
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
