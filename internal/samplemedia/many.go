package samplemedia

import (
	"fmt"
	"strings"
	"time"
)

// manyPerDir is the number of entries per folder in a ManyFiles tree: enough
// that listing a folder is real work, few enough to look like a real drive.
const manyPerDir = 200

// planMany plans o.ManyFiles small files in folders of manyPerDir entries,
// nested as deep as it takes for no folder to hold more than that.
func (p *tree) planMany() {
	n := p.o.ManyFiles
	leaves := (n + manyPerDir - 1) / manyPerDir
	depth := 1
	for c := leaves; c > manyPerDir; c = (c + manyPerDir - 1) / manyPerDir {
		depth++
	}
	exts := []string{".mxf", ".mxf", ".mxf", ".wav", ".wav", ".avb", ".xml", ".ale", ".txt"}
	levels := []string{"Roll", "Volume", "Set", "Shelf"} // leaf folders first
	comps := make([]string, depth)
	for i := range n {
		leaf := i / manyPerDir
		for l := depth - 1; l >= 0; l-- {
			name := "Level"
			if up := depth - 1 - l; up < len(levels) {
				name = levels[up]
			}
			comps[l] = fmt.Sprintf("%s %03d", name, leaf%manyPerDir)
			leaf /= manyPerDir
		}
		// Mostly tiny (sidecars, logs, small bins), one in twenty up to
		// 64 KiB: about 1.6 KB on average, 150 MB for 100 000 files.
		size := p.logUniform(1, 4<<10)
		if p.rng.IntN(20) == 0 {
			size = p.logUniform(4<<10, 64<<10)
		}
		p.add(entry{
			path:  fmt.Sprintf("%s/F%06d%s", strings.Join(comps, "/"), i, pick(p, exts)),
			size:  size,
			mtime: p.ago(time.Hour, 90*day),
		})
	}
}
