package cut

import (
	"math"
	"strings"

	"github.com/editkit/editkit/internal/mxf"
)

// Media is one indexed media file a reference may match: a catalog item or
// a file on a drive, with its MXF header metadata if it was read.
type Media struct {
	Path string
	Size int64
	MXF  *mxf.Info
}

// Index finds media by what cuts name them by.
type Index struct {
	media      []Media
	byFile     map[mxf.UMID][]int
	byMaterial map[mxf.UMID][]int
	byName     map[string][]int // clip or tape name in the MXF header, lower case
	byBase     map[string][]int // file name without extension, lower case
}

// NewIndex indexes media. Zero UMIDs (files written without them) are not
// indexed as UMIDs: they would match every other such file.
func NewIndex(media []Media) *Index {
	n := len(media)
	ix := &Index{media: media, byFile: make(map[mxf.UMID][]int, n), byMaterial: make(map[mxf.UMID][]int, n),
		byName: make(map[string][]int, n), byBase: make(map[string][]int, n)}
	for i, m := range media {
		b := baseName(m.Path)
		ix.byBase[b] = append(ix.byBase[b], i)
		if m.MXF == nil {
			continue
		}
		if !m.MXF.FilePackage.IsZero() {
			ix.byFile[m.MXF.FilePackage] = append(ix.byFile[m.MXF.FilePackage], i)
		}
		if !m.MXF.MaterialPackage.IsZero() {
			ix.byMaterial[m.MXF.MaterialPackage] = append(ix.byMaterial[m.MXF.MaterialPackage], i)
		}
		for _, n := range []string{m.MXF.ClipName, m.MXF.TapeName} {
			if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
				if l := ix.byName[n]; len(l) == 0 || l[len(l)-1] != i {
					ix.byName[n] = append(l, i)
				}
			}
		}
	}
	return ix
}

// Media returns the indexed media i.
func (ix *Index) Media(i int) Media { return ix.media[i] }

// Match is what one reference matched: nothing (unknown), the media files
// it names, or, Ambiguous, every file of several different clips that fit.
type Match struct {
	Ref       Ref
	Media     []int  // indexes into the Index
	By        string // how: "file package", "package", "file name", "name and timecode"
	Ambiguous bool
}

// Match matches each reference.
func (ix *Index) Match(refs []Ref) []Match {
	out := make([]Match, 0, len(refs))
	for _, r := range refs {
		out = append(out, ix.match(r))
	}
	return out
}

func (ix *Index) match(r Ref) Match {
	m := Match{Ref: r}
	if !r.FilePackage.IsZero() {
		if got := ix.byFile[r.FilePackage]; len(got) > 0 {
			m.Media, m.By = got, "file package"
			return m
		}
	}
	for _, u := range r.Packages {
		if got := ix.byFile[u]; len(got) > 0 {
			m.Media, m.By = got, "file package"
			return m
		}
		if got := ix.byMaterial[u]; len(got) > 0 {
			m.Media, m.By = got, "material package"
			return m
		}
	}
	if r.URL != "" {
		if got := ix.byBase[baseName(r.URL)]; len(got) > 0 {
			m.Media, m.By = got, "file name"
			m.Ambiguous = len(groups(ix, got)) > 1
			return m
		}
	}
	if r.In != nil && r.Out != nil && (r.Tape != "" || r.Name != "") {
		return ix.matchSource(r)
	}
	return m
}

// matchSource matches an EDL-style reference: media of the track's kind
// whose timecode range overlaps the reference's source range and whose clip
// name (or file name) is the reference's clip name — or, when no clip
// fits by name, whose tape or clip name (or file name) is the reel.
func (ix *Index) matchSource(r Ref) Match {
	m := Match{Ref: r, By: "name and timecode"}
	for _, n := range []string{r.Name, r.Tape} {
		if n = strings.ToLower(strings.TrimSpace(n)); n == "" {
			continue
		}
		var cands []int
		for _, i := range append(append([]int(nil), ix.byName[n]...), ix.byBase[n]...) {
			md := ix.media[i]
			if kindFits(r.Track, md.MXF) && overlaps(r, md.MXF) {
				cands = appendOnce(cands, i)
			}
		}
		if len(cands) > 0 {
			m.Media = cands
			break
		}
	}
	m.Ambiguous = len(groups(ix, m.Media)) > 1
	return m
}

func kindFits(track string, info *mxf.Info) bool {
	if info == nil || info.Kind == "" || track == "" || track == "B" {
		return true
	}
	switch track[0] {
	case 'V':
		return info.Kind == "video"
	case 'A':
		return info.Kind == "audio"
	}
	return true
}

// overlaps reports whether the reference's source range meets the media's
// timecode range. Without a timecode in the media, it cannot be ruled out.
func overlaps(r Ref, info *mxf.Info) bool {
	if info == nil || info.EditRate.Num <= 0 || info.EditRate.Den <= 0 || info.Duration <= 0 {
		return true
	}
	edit := float64(info.EditRate.Num) / float64(info.EditRate.Den)
	fps := info.TimecodeRate
	if fps <= 0 {
		fps = int(math.Round(edit))
	}
	scale := float64(fps) / edit
	start := int64(math.Round(float64(info.StartTimecode) * scale))
	end := start + int64(math.Round(float64(info.Duration)*scale))
	in, out := r.In.Frames(fps), r.Out.Frames(fps)
	return in < end && out > start
}

// groups counts the distinct clips among media: files of one clip (its
// picture and sound tracks) share a material package, or a clip and tape
// name.
func groups(ix *Index, media []int) map[string]bool {
	g := map[string]bool{}
	for _, i := range media {
		md := ix.media[i]
		switch {
		case md.MXF != nil && !md.MXF.MaterialPackage.IsZero():
			g["m:"+md.MXF.MaterialPackage.String()] = true
		case md.MXF != nil && md.MXF.ClipName != "":
			g["n:"+strings.ToLower(md.MXF.ClipName+"\x00"+md.MXF.TapeName)] = true
		default:
			g["p:"+md.Path] = true
		}
	}
	return g
}

func appendOnce(s []int, v int) []int {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
