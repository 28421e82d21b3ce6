package samplemedia

import (
	"fmt"
	"path"
	"strings"
	"time"
)

const (
	day = 24 * time.Hour

	mediaFilesDir = "Avid MediaFiles/MXF"
	// NFC and NFD spellings live in different folders: a folder holding both
	// would be the unportable collision, which the default tree must not have.
	musicDir   = "Music"              // NFC names
	nfdDir     = "Archive/E\u0301lan" // NFD names
	nfdMovie   = "Cre\u0300me bru\u0302le\u0301e.mov"
	nfdNotes   = "Re\u0301sume\u0301 \u2013 Notes.txt"
	deepFolder = "Archive/Deliverables/2025/Season 1/Episode 103/Reel 2/Versions/v07/Picture/Exports/Stills/Frame Grabs"
)

// planRealistic plans an editor's drive: Avid media, project and Attic, a Pro
// Tools session, music, an archive and the junk macOS and Windows leave.
func (p *tree) planRealistic() {
	total := p.o.TotalBytes
	// Bins, session files and the like grow with the show but stay small:
	// a few MB at most, and a few percent of a small tree.
	small := min(max(total/512, 16<<10), 4<<20)

	show := pick(p, []string{"Northern Lights", "The Long Quiet", "Harbour Road", "Salt and Iron", "Midnight Ferry", "Paper Kingdoms"})
	var initials string
	for _, w := range strings.Fields(show) {
		initials += w[:1]
	}
	session := fmt.Sprintf("%s 1%02d Temp Mix v%02d", initials, p.between(1, 8), p.between(2, 9))

	p.planProject(show, small)
	p.planSession(session, small)
	p.planArchive(total)
	p.planJunk(show, session)

	var overhead int64
	for _, e := range p.files {
		overhead += e.size
	}
	media := max(total-overhead, 512<<10)
	audio := media * 15 / 100
	p.planWAVs(session, audio)
	largest := p.planMXF(media - audio)

	// Hit the total exactly: the Avid databases and the last clip and WAV
	// were sized after the budget was split, so absorb the difference in the
	// largest file, where it is a rounding error.
	var sum int64
	for _, e := range p.files {
		sum += e.size
	}
	if e := &p.files[largest]; e.size+(total-sum) >= e.size/2 {
		e.size += total - sum
	}
}

func (p *tree) planProject(show string, small int64) {
	proj := "Avid Projects/" + show
	p.add(entry{path: proj + "/" + show + ".avp", size: p.between(2<<10, 12<<10), head: []byte(avidDomainMagic), mtime: p.ago(time.Hour, 6*time.Hour)})
	p.add(entry{path: proj + "/" + show + " Settings.avs", size: p.logUniform(small/4, small), head: []byte(avidDomainMagic), mtime: p.ago(time.Hour, 6*time.Hour)})

	type bin struct {
		dir, name string
		empty     bool // a bin created and never filled
		readOnly  bool // a locked old cut
		attic     bool // has backups in the Attic
	}
	bins := []bin{
		{name: "01 Dailies", attic: true},
		{name: "02 Selects"},
		{name: "Reel 1 v03", attic: true},
		{name: "Reel 2 v01"},
		{name: "Assembly \u2013 Reel 2", attic: true}, // en dash
		{name: "Music & Effects"},
		{name: "VFX Pulls"},
		{name: "Titles"},
		{name: "Empty Bin", empty: true},
		{dir: "Cuts", name: "Director's Cut v02", attic: true},
		{dir: "Cuts", name: "Producer Notes v01"},
		{dir: "Cuts/Old", name: "Reel 1 v01", readOnly: true},
		{dir: "Cuts/Old", name: "Reel 1 v02"},
	}
	for d := range p.between(3, 7) {
		bins = append(bins, bin{dir: "Dailies", name: fmt.Sprintf("Day %02d", d+1), attic: d == 0})
	}
	for _, b := range bins {
		dir := proj
		if b.dir != "" {
			dir += "/" + b.dir
		}
		e := entry{
			path:  dir + "/" + b.name + ".avb",
			size:  p.logUniform(2<<10, small),
			head:  []byte(avidDomainMagic),
			mtime: p.ago(time.Hour, 10*day),
		}
		if b.empty {
			e.size = 0
		}
		if b.readOnly {
			e.mode = 0o444
		}
		p.add(e)
		if !b.attic {
			continue
		}
		// Avid keeps numbered copies of a bin each time it is saved; the
		// highest number is the most recent, and all predate the bin.
		n := p.between(2, 6)
		t := e.mtime
		for i := n; i >= 1; i-- {
			t = t.Add(-time.Duration(p.between(15*60, 3*3600)) * time.Second)
			p.add(entry{
				path:  fmt.Sprintf("Avid Attic/%s/%s/%s.avb.%d", show, b.name, b.name, i),
				size:  e.size * p.between(60, 100) / 100,
				head:  []byte(avidDomainMagic),
				mtime: t,
			})
		}
	}
}

// planSession plans a Pro Tools session's own files; its audio comes from
// planWAVs, with the media budget.
func (p *tree) planSession(session string, small int64) {
	dir := "Pro Tools/" + session
	ptx := entry{path: dir + "/" + session + ".ptx", size: p.logUniform(small/4, small), head: []byte(proToolsMagic), mtime: p.ago(2*time.Hour, 2*day)}
	p.add(ptx)
	t := ptx.mtime
	n := p.between(3, 8)
	for i := n; i >= 1; i-- {
		t = t.Add(-time.Duration(p.between(10*60, 2*3600)) * time.Second)
		p.add(entry{
			path:  fmt.Sprintf("%s/Session File Backups/%s.bak.%03d.ptx", dir, session, i),
			size:  ptx.size * p.between(80, 100) / 100,
			head:  []byte(proToolsMagic),
			mtime: t,
		})
	}
	p.add(entry{path: dir + "/WaveCache.wfm", size: p.logUniform(8<<10, small), head: []byte(waveCacheMagic), mtime: ptx.mtime})
	p.addDir(dir+"/Video Files", p.ago(3*day, 5*day)) // stays empty: a folder with nothing to copy
}

func (p *tree) planArchive(total int64) {
	t := p.ago(30*day, 40*day)
	movie := min(max(total/200, 16<<10), 8<<20)
	p.add(entry{path: nfdDir + "/" + nfdMovie, size: movie, header: movHeader, mtime: t})
	p.addText(nfdDir+"/"+nfdNotes, "Notes for the \u00e9lan sequence: see the director's cut.\n", t.Add(time.Hour), kindPlain)
	frame := min(max(total/1000, 8<<10), 12<<20)
	p.add(entry{path: deepFolder + "/frame_086400.dpx", size: frame, head: []byte(dpxMagic), mtime: p.ago(20*day, 30*day)})
}

// planJunk plans the files macOS and Windows leave on a drive, which a copy
// must skip. The ._ files next to media are planned with the media.
func (p *tree) planJunk(show, session string) {
	for _, dir := range []string{".", "Avid Projects/" + show, "Pro Tools/" + session, nfdDir} {
		p.addDSStore(dir)
	}
	p.add(entry{path: "Archive/Thumbs.db", size: 11776, head: []byte(oleMagic), mtime: p.ago(20*day, 30*day), kind: kindJunk})

	t := p.ago(time.Minute, time.Hour)
	junk := func(path string, size int64, head string) {
		p.add(entry{path: path, size: size, head: []byte(head), mtime: t, kind: kindJunk})
	}
	uuid := p.uuid()
	p.addText(".Spotlight-V100/VolumeConfiguration.plist", `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Stores</key>
	<dict>
		<key>`+uuid+`</key>
		<dict/>
	</dict>
</dict>
</plist>
`, t, kindJunk)
	for _, name := range []string{"store.db", ".store.db", "0.indexGroups", "0.indexHead", "journalAttr.1", "live.0.indexHead", "psid.db", "tmp.spotlight.state"} {
		junk(".Spotlight-V100/Store-V2/"+uuid+"/"+name, p.logUniform(1<<10, 64<<10), "")
	}
	p.addText(".fseventsd/fseventsd-uuid", p.uuid(), t, kindJunk)
	event := p.rng.Uint64() >> 24
	for i := range p.between(2, 4) {
		junk(fmt.Sprintf(".fseventsd/%016x", event+uint64(i)*0x1f3), p.logUniform(200, 8<<10), gzipMagic)
	}
	p.add(entry{path: ".Trashes/501/Old Export v01.mov", size: p.logUniform(32<<10, 256<<10), header: movHeader, mtime: t, kind: kindJunk})
	junk(".TemporaryItems/folders.501/TemporaryItems/(A Document Being Saved By Avid Media Composer)/Reel 1 v03.avb", p.logUniform(4<<10, 64<<10), avidDomainMagic)
}

func (p *tree) addDSStore(dir string) {
	size := pick(p, []int64{6148, 8196, 10244, 12292})
	p.add(entry{path: path.Join(dir, ".DS_Store"), size: size, head: []byte(dsStoreMagic), zero: true, mtime: p.ago(time.Minute, 2*day), kind: kindJunk})
}

func (p *tree) addAppleDouble(e entry) {
	dir, name := path.Split(e.path)
	p.add(entry{path: dir + "._" + name, size: 4096, head: appleDouble(), zero: true, mtime: e.mtime, kind: kindJunk})
}

// planWAVs plans about budget bytes of Broadcast WAV: a few music cues with
// accented (NFC) names, and the session's recordings.
func (p *tree) planWAVs(session string, budget int64) {
	music := []string{"Caf\u00e9 Score", "No\u00ebl Theme \u2013 Full Mix", "Se\u00f1or Blue 2M3 Stem"}
	tracks := []string{"Boom", "Lav Sarah", "Lav Tom", "Dialog 1", "Room Tone", "VO", "Foley Steps", "SFX Door", "Amb Harbour", "ADR Sarah"}
	takes := map[string]int{}
	hi := min(max(p.o.TotalBytes/40, 256<<10), 1<<30) // RIFF sizes are 32-bit
	for i := 0; budget >= 16<<10; i++ {
		var path, description string
		channels := 1
		var mtime time.Time
		if i < len(music) {
			path, description, channels = musicDir+"/"+music[i]+".wav", music[i], 2
			mtime = p.ago(5*day, 20*day)
		} else {
			track := pick(p, tracks)
			takes[track]++
			name := fmt.Sprintf("%s_%02d", track, takes[track])
			if p.rng.IntN(4) == 0 {
				name += "-01" // a region rendered to its own file
			}
			path = p.unique("Pro Tools/"+session+"/Audio Files", name+".wav")
			description = track
			if p.rng.IntN(5) == 0 {
				channels = 2
			}
			mtime = p.ago(3*time.Hour, 12*day)
		}
		size := wavSize(min(p.logUniform(16<<10, hi), budget), channels)
		e := entry{path: path, size: size, header: wavHeader(channels, description, mtime), mtime: mtime}
		p.add(e)
		if i == 0 || i == 2 {
			p.addAppleDouble(e)
		}
		budget -= size
	}
	p.addDSStore(musicDir)
}

// clip is one Avid master clip: a video track and its audio tracks, each in
// its own OP-Atom MXF file.
type clip struct {
	names []string // file names, video first when there is video
	video bool
	sizes []int64
	mtime time.Time
}

// planMXF plans about budget bytes of Avid media over a few MXF/N folders,
// with their databases, and returns the index of the largest file.
func (p *tree) planMXF(budget int64) (largest int) {
	total := p.o.TotalBytes
	// size sets a clip's file sizes from the size of its video track (real
	// or, for audio-only clips, notional): audio at 48 kHz 24-bit mono is
	// about 3% of DNxHD 36 for the same duration.
	size := func(c *clip, video int64) int64 {
		c.sizes = c.sizes[:0]
		var sum int64
		for i := range c.names {
			s := video
			if i > 0 || !c.video {
				s = max(int64(float64(video)*0.032*(0.9+0.2*p.rng.Float64())), 1<<10)
			}
			c.sizes = append(c.sizes, s)
			sum += s
		}
		return sum
	}
	next := p.clipNamer()
	var clips []*clip
	add := func(video int64, tracks int) {
		c := next(tracks)
		budget -= size(c, video)
		clips = append(clips, c)
	}
	// A couple of long takes (hundreds of MB in a tree of a few GB), a clip
	// of a few KB, and a 0-byte file as a failed transcode leaves.
	for range 2 {
		add(int64(float64(total)*(0.10+0.03*p.rng.Float64())), 2)
	}
	add(p.between(3<<10, 12<<10), 1)
	add(0, 0)
	for budget >= 64<<10 {
		c := next(pick(p, []int{0, 1, 2, 2, 2, 2, 2, 4, 4}))
		video := p.logUniform(16<<10, max(total/16, 64<<10))
		if t := size(c, video); t > budget {
			// The last clip takes what is left.
			size(c, int64(float64(video)*float64(budget)/float64(t)))
		}
		for _, s := range c.sizes {
			budget -= s
		}
		clips = append(clips, c)
	}
	p.rng.Shuffle(len(clips), func(i, j int) { clips[i], clips[j] = clips[j], clips[i] })

	folders := min(max(len(clips)/40+1, 2), 8)
	p.addDSStore("Avid MediaFiles")
	largestSize := int64(-1)
	for f := range folders {
		dir := fmt.Sprintf("%s/%d", mediaFilesDir, f+1)
		var files int
		var newest time.Time
		for _, c := range clips[f*len(clips)/folders : (f+1)*len(clips)/folders] {
			for i, name := range c.names {
				// Avid writes a clip's tracks one after the other.
				t := p.notAfterBase(c.mtime.Add(time.Duration(i) * time.Second))
				e := entry{path: dir + "/" + name, size: c.sizes[i], header: mxfHeader(c.video && i == 0), mtime: t}
				idx := p.add(e)
				if e.size > largestSize {
					largest, largestSize = idx, e.size
				}
				if f == 0 && files < 6 && files%2 == 0 {
					p.addAppleDouble(e)
				}
				files++
				if t.After(newest) {
					newest = t
				}
			}
		}
		// Avid updates its databases after the last file lands.
		t := p.notAfterBase(newest.Add(time.Duration(p.between(60, 1800)) * time.Second))
		p.add(entry{path: dir + "/msmMMOB.mdb", size: 4<<10 + int64(files)*480 + p.between(0, 1<<10), head: []byte(avidDomainMagic), mtime: t, kind: kindAvidDB})
		p.add(entry{path: dir + "/msmFMID.pmr", size: 64 + int64(files)*96, head: []byte(avidPMRMagic), mtime: t, kind: kindAvidDB})
		if f == 0 {
			p.addDSStore(dir)
		}
	}
	return largest
}

// clipNamer returns a function that names the next clip with the given
// number of audio tracks: mostly camera clips from a few shoot days
// (A001C003_2601150D.V1.mxf), the rest Avid-named (Clip Name.k3f9q1.mxf).
func (p *tree) clipNamer() func(tracks int) *clip {
	type reel struct {
		tag   byte
		clips int
	}
	days := int(p.between(3, 5))
	reels := map[string]*reel{}
	named := []string{"Interview Sarah", "GV Harbour Dawn", "Drone Bridge", "Sc 12A-3 Wide", "Sc 14-1 CU Tom", "Archive Newsreel 1952", "Title Card", "Temp VFX 040"}
	ids := map[string]bool{}
	return func(tracks int) *clip {
		c := &clip{video: tracks == 0 || p.rng.IntN(10) != 0}
		labels := make([]string, 0, tracks+1)
		if c.video {
			labels = append(labels, "V1")
		}
		for a := range tracks {
			labels = append(labels, fmt.Sprintf("A%d", a+1))
		}
		if p.rng.IntN(10) < 7 {
			// Shoot day d (1 = yesterday), transcoded overnight.
			d := int(p.between(1, int64(days)))
			date := p.o.BaseTime.Truncate(day).Add(-time.Duration(d) * day)
			c.mtime = p.notAfterBase(date.Add(time.Duration(p.between(17*3600, 30*3600)) * time.Second))
			camera := pick(p, []byte("AAAB"))
			key := fmt.Sprintf("%c%d", camera, d)
			r := reels[key]
			if r == nil {
				r = &reel{tag: byte(p.rng.Uint32())}
				reels[key] = r
			}
			r.clips++
			base := fmt.Sprintf("%c%03dC%03d_%s%02X", camera, days-d+1, r.clips, date.Format("060102"), r.tag)
			for _, l := range labels {
				c.names = append(c.names, base+"."+l+".mxf")
			}
			return c
		}
		c.mtime = p.ago(day, 20*day)
		base := pick(p, named)
		for range labels {
			id := p.id(6)
			for ids[id] {
				id = p.id(6)
			}
			ids[id] = true
			c.names = append(c.names, base+"."+id+".mxf")
		}
		return c
	}
}

// id returns n random lowercase letters and digits, like the ones Avid puts
// in media file names.
func (p *tree) id(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[p.rng.IntN(len(alphabet))]
	}
	return string(b)
}

func (p *tree) uuid() string {
	hi, lo := p.rng.Uint64(), p.rng.Uint64()
	s := fmt.Sprintf("%016X%016X", hi, lo)
	return strings.Join([]string{s[:8], s[8:12], s[12:16], s[16:20], s[20:]}, "-")
}
