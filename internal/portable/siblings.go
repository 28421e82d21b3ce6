package portable

import (
	"cmp"
	"slices"
	"strconv"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Siblings reports the names of one folder that would collide with another
// of its names on a case-insensitive or normalization-insensitive drive. dir
// is the folder's tree path ("" or "." for the root) and names are its
// entries' names, in any order. Each Problem's Path is the colliding name
// joined to dir and its Other the name it collides with (the first of its
// group in byte order); problems are sorted by Path. Call it once per folder:
// collisions can only happen between siblings.
func Siblings(dir string, names []string) []Problem {
	if len(names) < 2 {
		return nil
	}
	type entry struct{ key, name string }
	entries := make([]entry, 0, len(names))
	fold := cases.Fold() // cheap; a package variable would be shared state
	for _, n := range names {
		entries = append(entries, entry{matchKey(n, fold), n})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.name, b.name))
	})

	var ps []Problem
	for i := 0; i < len(entries); {
		j := i + 1
		for j < len(entries) && entries[j].key == entries[i].key {
			j++
		}
		first := entries[i].name
		for k := i + 1; k < j; k++ {
			n := entries[k].name
			if n == entries[k-1].name {
				continue // listed twice: one entry, not a collision
			}
			ps = append(ps, collision(dir, first, n))
		}
		i = j
	}
	slices.SortFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Other, b.Other))
	})
	return ps
}

// matchKey returns the form under which two names are the same name on some
// drive: Unicode's canonical caseless match, NFD(fold(NFD(name))). An ASCII
// name's key is its lower-case form, which is what folding gives, so the
// common case skips the Unicode tables. Invalid UTF-8 is its own key: such a
// name is reported by CheckPath and cannot reach the drive anyway.
func matchKey(name string, fold cases.Caser) string {
	upper := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= utf8.RuneSelf {
			if !utf8.ValidString(name) {
				return name
			}
			k := fold.String(norm.NFD.String(name))
			if !norm.NFD.IsNormalString(k) { // rare: folding can unsort marks
				k = norm.NFD.String(k)
			}
			return k
		}
		upper = upper || ('A' <= c && c <= 'Z')
	}
	if !upper {
		return name
	}
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// collision describes other colliding with first, both names in dir.
func collision(dir, first, other string) Problem {
	p := Problem{Path: join(dir, other), Other: join(dir, first)}
	// Prefer the narrower explanation: if the names are the same once
	// normalized, case has nothing to do with it.
	if norm.NFC.String(first) == norm.NFC.String(other) {
		p.Kind = NormalizationCollision
		// The two names look identical, so spell out their code points.
		p.Detail = "same name as " + strconv.QuoteToASCII(first) + " (" + form(first) + ") on macOS, which ignores Unicode normalization; this one is " +
			strconv.QuoteToASCII(other) + " (" + form(other) + ")"
		return p
	}
	p.Kind = CaseCollision
	p.Detail = "same name as " + strconv.Quote(first) + " on a case-insensitive drive"
	return p
}

// form names the Unicode normalization form s is in.
func form(s string) string {
	switch {
	case norm.NFC.IsNormalString(s):
		return "NFC"
	case norm.NFD.IsNormalString(s):
		return "NFD"
	}
	return "neither NFC nor NFD"
}

func join(dir, name string) string {
	if dir == "" || dir == "." {
		return name
	}
	return dir + "/" + name
}
