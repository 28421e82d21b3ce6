package mhl

import (
	"fmt"
	"iter"
	"path"
	"slices"
	"strings"
)

// matcher applies gitignore-style patterns, the dialect the reference tool
// uses (Python pathspec's "gitwildmatch"). Paths are always relative to the
// history root: the reference tool matches absolute paths, so a tree that
// lives anywhere under a folder named "ascmhl" is ignored entirely there.
type matcher struct {
	pats []ignorePattern
}

type ignorePattern struct {
	neg      bool     // "!pattern": re-include
	dirOnly  bool     // "pattern/": folders only
	anchored bool     // had a '/' before its end: matched from the root
	segs     []string // path.Match patterns per component; "**" spans components
	// base says how an unanchored one-component pattern matches a name
	// without path.Match, when it can (see baseMatcher): every path of a
	// generation is matched against every pattern.
	base baseMatch
}

// baseMatch is how a one-component pattern matches a name.
type baseMatch struct {
	kind byte   // 0: path.Match; '=': the name is lit; '*': it ends with lit; '^': it starts with lit
	lit  string // the pattern without its '*'
}

// baseMatcher classifies a path.Match pattern that is a literal name,
// "*" then a literal ("*.tmp") or a literal then "*" ("._*"); any other
// is matched by path.Match.
func baseMatcher(pat string) baseMatch {
	meta := func(s string) bool { return strings.ContainsAny(s, `*?[\`) }
	switch {
	case !meta(pat):
		return baseMatch{kind: '=', lit: pat}
	case strings.HasPrefix(pat, "*") && !meta(pat[1:]):
		return baseMatch{kind: '*', lit: pat[1:]}
	case strings.HasSuffix(pat, "*") && !meta(pat[:len(pat)-1]):
		return baseMatch{kind: '^', lit: pat[:len(pat)-1]}
	}
	return baseMatch{}
}

// compilePatterns builds a matcher. Blank lines and "#" comments are
// skipped as in a .gitignore file.
func compilePatterns(lines []string) (*matcher, error) {
	m := &matcher{}
	for _, l := range lines {
		p, ok, err := compilePattern(l)
		if err != nil {
			return nil, err
		}
		if ok {
			m.pats = append(m.pats, p)
		}
	}
	return m, nil
}

func compilePattern(line string) (p ignorePattern, ok bool, err error) {
	s := line
	for strings.HasSuffix(s, " ") && !strings.HasSuffix(s, `\ `) {
		s = s[:len(s)-1]
	}
	if s == "" || s[0] == '#' {
		return p, false, nil
	}
	switch {
	case s[0] == '!':
		p.neg, s = true, s[1:]
	case strings.HasPrefix(s, `\!`), strings.HasPrefix(s, `\#`):
		s = s[1:]
	}
	if strings.HasSuffix(s, "/") {
		p.dirOnly, s = true, strings.TrimRight(s, "/")
	}
	if strings.Contains(s, "/") {
		p.anchored, s = true, strings.TrimLeft(s, "/")
	}
	if s == "" {
		return p, false, nil
	}
	for _, seg := range strings.Split(s, "/") {
		if seg == "" {
			continue // "a//b" means "a/b" to git
		}
		// gitignore negates a class with '!', path.Match with '^'.
		seg = strings.ReplaceAll(seg, "[!", "[^")
		if _, err := path.Match(seg, ""); err != nil {
			return p, false, fmt.Errorf("ignore pattern %q: %w", line, err)
		}
		p.segs = append(p.segs, seg)
	}
	if !p.anchored && len(p.segs) == 1 {
		p.base = baseMatcher(p.segs[0])
	}
	return p, true, nil
}

// excluded reports whether p itself is matched, last pattern winning, as
// if its parents were not excluded.
func (m *matcher) excluded(p string, isDir bool) bool {
	res := false
	for i := range m.pats {
		if m.pats[i].match(p, isDir) {
			res = !m.pats[i].neg
		}
	}
	return res
}

// match reports whether p is ignored, either itself or because one of its
// parent folders is. As in git, nothing inside an excluded folder can be
// re-included.
func (m *matcher) match(p string, isDir bool) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && m.excluded(p[:i], true) {
			return true
		}
	}
	return m.excluded(p, isDir)
}

func (ip *ignorePattern) match(p string, isDir bool) bool {
	if ip.dirOnly && !isDir {
		return false
	}
	if !ip.anchored && len(ip.segs) == 1 {
		base := p[strings.LastIndexByte(p, '/')+1:]
		switch ip.base.kind {
		case '=':
			return base == ip.base.lit
		case '*':
			return strings.HasSuffix(base, ip.base.lit)
		case '^':
			return strings.HasPrefix(base, ip.base.lit)
		}
		ok, _ := path.Match(ip.segs[0], base)
		return ok
	}
	return matchSegs(ip.segs, strings.Split(p, "/"))
}

// matchSegs matches path components against pattern segments, "**"
// spanning any number of components. Each ("**" segment, component) pair
// is tried at most once: a history is outside data, and without that a
// pattern like "**/a*/**/a*/**/a*/z" takes exponential time on a deep
// path, so a hostile history could hang verify.
func matchSegs(pat, name []string) bool {
	tried := make(map[[2]int]bool)
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for i < len(pat) {
			if pat[i] == "**" {
				if i == len(pat)-1 {
					return j < len(name) // "a/**" is everything inside a
				}
				if tried[[2]int{i, j}] {
					return false // tried before, and it did not match
				}
				tried[[2]int{i, j}] = true
				for k := j; k <= len(name); k++ {
					if match(i+1, k) {
						return true
					}
				}
				return false
			}
			if j == len(name) {
				return false
			}
			if ok, _ := path.Match(pat[i], name[j]); !ok {
				return false
			}
			i, j = i+1, j+1
		}
		return j == len(name)
	}
	return match(0, 0)
}

// mergePatterns appends the patterns of each list, each once: where the
// lists repeat one, it keeps its last place.
func mergePatterns(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, p := range l {
			// Given again, a pattern moves last: the last match wins, so a
			// file purged, placed again (re-included) and purged once more
			// is ignored again.
			if i := slices.Index(out, p); i >= 0 {
				out = slices.Delete(out, i, i+1)
			}
			out = append(out, p)
		}
	}
	return out
}

// Unhiding returns the patterns that match none of the paths given: the
// ignore patterns a generation can record without hiding a file it
// describes. A pattern that would hide a recorded file (a history that
// records a Thumbs.db, Avid databases copied on purpose) is left out, so
// the reference tool still verifies that file and directory hashes stay
// comparable with earlier generations. A pattern that does not compile is
// left out too. paths must hold the folders of the files too (true): each
// path is matched by itself, one pattern match per path and pattern, so a
// history of a million files is checked in seconds.
func Unhiding(patterns []string, paths iter.Seq2[string, bool]) []string {
	var ms []*matcher
	var keep []string
	for _, p := range patterns {
		if m, err := compilePatterns([]string{p}); err == nil && len(m.pats) > 0 {
			ms = append(ms, m)
			keep = append(keep, p)
		}
	}
	hides := make([]bool, len(ms))
	for p, isDir := range paths {
		for i, m := range ms {
			if !hides[i] && m.excluded(p, isDir) {
				hides[i] = true
			}
		}
	}
	var out []string
	for i, p := range keep {
		if !hides[i] {
			out = append(out, p)
		}
	}
	return out
}
