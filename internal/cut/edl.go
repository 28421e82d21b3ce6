package cut

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// TC is a SMPTE timecode as written (hours, minutes, seconds, frames):
// an EDL does not say its frame rate, so a TC becomes a frame count only
// against the rate of the media it is compared with.
type TC struct {
	H, M, S, F int
	Drop       bool // drop-frame (written with ';' or under "FCM: DROP FRAME")
}

func (t TC) String() string {
	sep := ":"
	if t.Drop {
		sep = ";"
	}
	return fmt.Sprintf("%02d:%02d:%02d%s%02d", t.H, t.M, t.S, sep, t.F)
}

// Frames counts the frames from midnight at the nominal rate fps (30 for
// 29.97), skipping the frame numbers drop-frame timecode leaves out.
func (t TC) Frames(fps int) int64 {
	total := int64((t.H*3600+t.M*60+t.S)*fps + t.F)
	if t.Drop && fps%30 == 0 {
		drop := int64(2 * fps / 30) // frames dropped each minute but every tenth
		minutes := int64(t.H*60 + t.M)
		total -= drop * (minutes - minutes/10)
	}
	return total
}

// parseTC reads "HH:MM:SS:FF" (or with ';' or '.' before the frames for
// drop-frame).
func parseTC(s string) (TC, bool) {
	if len(s) != 11 {
		return TC{}, false
	}
	var t TC
	for i, p := range []*int{&t.H, &t.M, &t.S, &t.F} {
		n, err := strconv.Atoi(s[i*3 : i*3+2])
		if err != nil || n < 0 {
			return TC{}, false
		}
		*p = n
		if i < 3 {
			switch s[i*3+2] {
			case ':':
			case ';', '.', ',':
				t.Drop = true
			default:
				return TC{}, false
			}
		}
	}
	if t.M > 59 || t.S > 59 || t.F > 119 {
		return TC{}, false
	}
	return t, true
}

// maxEDLLine bounds one line of an EDL; real ones are under 200 bytes.
const maxEDLLine = 64 << 10

// readEDL reads a CMX 3600 EDL: each event's reel and track with its source
// in and out, the "* FROM CLIP NAME:" comment naming its clip, and
// "* SOURCE FILE:" naming its file. Black and the like are not media.
func readEDL(r io.Reader) (*Needs, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxEDLLine)
	nd := &Needs{Format: "edl"}
	dropDefault := false
	events := 0
	// group: the refs of the event just read, whose comments follow it (a
	// dissolve has two lines under one number: FROM names the first, TO the
	// second).
	var group []int
	event := ""
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		upper := strings.ToUpper(line)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(upper, "TITLE:"):
			nd.Sequences = append(nd.Sequences, strings.TrimSpace(line[len("TITLE:"):]))
			continue
		case strings.HasPrefix(upper, "FCM:"):
			dropDefault = strings.Contains(upper, "DROP") && !strings.Contains(upper, "NON")
			continue
		case strings.HasPrefix(line, "*"):
			body := strings.TrimSpace(line[1:])
			ub := strings.ToUpper(body)
			if len(group) == 0 {
				continue
			}
			first, last := &nd.Refs[group[0]], &nd.Refs[group[len(group)-1]]
			switch {
			case strings.HasPrefix(ub, "FROM CLIP NAME:"):
				first.Name = strings.TrimSpace(body[len("FROM CLIP NAME:"):])
			case strings.HasPrefix(ub, "TO CLIP NAME:"):
				last.Name = strings.TrimSpace(body[len("TO CLIP NAME:"):])
			case strings.HasPrefix(ub, "SOURCE FILE:"):
				last.URL = strings.TrimSpace(body[len("SOURCE FILE:"):])
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 8 || !isDigits(f[0]) {
			// M2 (motion), SPLIT, and other lines this reading needs
			// nothing from.
			continue
		}
		tcs := f[len(f)-4:]
		in, ok1 := parseTC(tcs[0])
		out, ok2 := parseTC(tcs[1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("line %d: event %s: source timecodes %q %q unreadable", lineNo, f[0], tcs[0], tcs[1])
		}
		if dropDefault {
			in.Drop, out.Drop = true, true
		}
		if f[0] != event {
			group, event = group[:0], f[0]
		}
		events++
		reel := f[1]
		switch strings.ToUpper(reel) {
		case "BL", "BLK", "BLACK", "BARS":
			group = append(group, len(nd.Refs)) // a placeholder: comments on black are dropped below
			nd.Refs = append(nd.Refs, Ref{})
			continue
		}
		ref := Ref{Tape: reel, Track: strings.ToUpper(f[2]), In: &in, Out: &out, Uses: 1}
		if strings.EqualFold(reel, "AX") {
			ref.Tape = "" // an auxiliary source: its clip name says what it is
		}
		group = append(group, len(nd.Refs))
		nd.Refs = append(nd.Refs, ref)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the EDL: %v", err)
	}
	if events == 0 {
		return nil, fmt.Errorf("no CMX 3600 events (lines like \"001  REEL  V  C  01:00:00:00 01:00:01:00 01:00:00:00 01:00:01:00\")")
	}
	media := nd.Refs[:0]
	for _, r := range nd.Refs {
		if r.Uses > 0 { // not black
			media = append(media, r)
		}
	}
	nd.Refs = mergeRefs(media)
	return nd, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// mergeRefs counts repeated identical references once, with their uses.
func mergeRefs(refs []Ref) []Ref {
	seen := map[string]int{}
	var out []Ref
	for _, r := range refs {
		k := fmt.Sprint(r.FilePackage, r.Packages, r.Name, r.Tape, r.URL, r.Track, r.In, r.Out)
		if r.In != nil {
			k = fmt.Sprint(r.FilePackage, r.Packages, r.Name, r.Tape, r.URL, r.Track, *r.In, *r.Out)
		}
		if i, ok := seen[k]; ok {
			out[i].Uses += r.Uses
			continue
		}
		seen[k] = len(out)
		out = append(out, r)
	}
	return out
}
