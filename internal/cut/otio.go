package cut

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/editkit/editkit/internal/mxf"
)

// maxOTIO bounds the size of an .otio file read whole; a feature's
// timeline is a few megabytes.
const maxOTIO = 256 << 20

// readOTIO reads an OpenTimelineIO JSON file: each clip's media reference
// (target_url), any UMIDs in its or its reference's metadata (the AAF
// adapter keeps MobIDs there), and its reel and source range when an EDL
// adapter left them.
func readOTIO(r io.Reader, size int64, sequence string) (*Needs, error) {
	if size > maxOTIO {
		return nil, fmt.Errorf("%d bytes: larger than an OTIO timeline this reads (%d)", size, maxOTIO)
	}
	var doc map[string]any
	if err := json.NewDecoder(io.LimitReader(r, maxOTIO)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("not OTIO JSON: %v", err)
	}
	if _, ok := doc["OTIO_SCHEMA"].(string); !ok {
		return nil, fmt.Errorf("not OTIO JSON: no OTIO_SCHEMA at the top")
	}
	nd := &Needs{Format: "otio"}
	var names []string
	w := otioWalker{nd: nd, sequence: sequence, names: &names}
	w.walk(doc, sequence == "", "")
	if sequence != "" && len(nd.Sequences) == 0 {
		return nil, fmt.Errorf("%w %q; the file has %q", errNoSequence, sequence, names)
	}
	nd.Refs = mergeRefs(nd.Refs)
	return nd, nil
}

type otioWalker struct {
	nd       *Needs
	sequence string
	names    *[]string
}

// walk visits v; on is whether v is inside a timeline being read, track the
// kind of the track it is in.
func (w otioWalker) walk(v any, on bool, track string) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			w.walk(e, on, track)
		}
	case map[string]any:
		schema, _ := x["OTIO_SCHEMA"].(string)
		name, _ := x["name"].(string)
		switch {
		case strings.HasPrefix(schema, "Timeline."):
			*w.names = append(*w.names, name)
			on = w.sequence == "" || w.sequence == name
			if on {
				w.nd.Sequences = append(w.nd.Sequences, name)
			}
		case strings.HasPrefix(schema, "Track."):
			if k, _ := x["kind"].(string); k != "" {
				track = strings.ToUpper(k[:1])
			}
		case strings.HasPrefix(schema, "Clip."):
			if on {
				w.nd.Refs = append(w.nd.Refs, otioClip(x, track))
			}
			return
		}
		for _, k := range sortedKeys(x) {
			if k != "metadata" {
				w.walk(x[k], on, track)
			}
		}
	}
}

func otioClip(c map[string]any, track string) Ref {
	r := Ref{Track: track, Uses: 1}
	r.Name, _ = c["name"].(string)
	ref, _ := c["media_reference"].(map[string]any)
	if refs, ok := c["media_references"].(map[string]any); ok {
		key, _ := c["active_media_reference_key"].(string)
		ref, _ = refs[key].(map[string]any)
	}
	if ref != nil {
		if u, ok := ref["target_url"].(string); ok {
			r.URL = u
		} else if u, ok := ref["target_url_base"].(string); ok {
			r.URL = u
		}
		collectUMIDs(ref["metadata"], &r.Packages, 0)
	}
	collectUMIDs(c["metadata"], &r.Packages, 0)
	if md, ok := c["metadata"].(map[string]any); ok {
		if cmx, ok := md["cmx_3600"].(map[string]any); ok {
			r.Tape, _ = cmx["reel"].(string)
		}
	}
	if sr, ok := c["source_range"].(map[string]any); ok {
		start, rate, ok1 := rationalTime(sr["start_time"])
		dur, _, ok2 := rationalTime(sr["duration"])
		if ok1 && ok2 && rate > 0 && rate < 1000 {
			fps := int(math.Round(rate))
			in, out := tcOf(int64(math.Round(start)), fps), tcOf(int64(math.Round(start+dur)), fps)
			r.In, r.Out = &in, &out
		}
	}
	return r
}

func rationalTime(v any) (value, rate float64, ok bool) {
	m, _ := v.(map[string]any)
	value, ok1 := m["value"].(float64)
	rate, ok2 := m["rate"].(float64)
	return value, rate, ok1 && ok2 && value >= 0 && value < 1e12
}

func tcOf(frames int64, fps int) TC {
	f := int(frames % int64(fps))
	s := frames / int64(fps)
	return TC{H: int(s / 3600), M: int(s / 60 % 60), S: int(s % 60), F: f}
}

// collectUMIDs finds strings that are UMIDs ("urn:smpte:umid:…") anywhere
// in metadata.
func collectUMIDs(v any, out *[]mxf.UMID, depth int) {
	if depth > 32 {
		return
	}
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(strings.ToLower(x), "urn:smpte:umid:") {
			if u, err := mxf.ParseUMID(x); err == nil && !u.IsZero() {
				for _, have := range *out {
					if have == u {
						return
					}
				}
				*out = append(*out, u)
			}
		}
	case []any:
		for _, e := range x {
			collectUMIDs(e, out, depth+1)
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			collectUMIDs(x[k], out, depth+1)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
