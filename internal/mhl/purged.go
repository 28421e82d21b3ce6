package mhl

import "strings"

// PurgedPattern is the ignore pattern by which a generation records that
// the file at path (a tree path) was removed from the tree on purpose.
// ASC MHL v2.0 has no way to record a deletion: a file an earlier
// generation lists and the tree lacks is "missing" to every reader, the
// reference tool's verify included (exit 10). Ignoring it from the
// generation that follows the removal on is what the format offers; the
// reference tool matches ignore patterns against absolute paths, so the
// pattern starts with "**/" (a relative pattern anchored at the root would
// never match there). Glob characters in the name are escaped.
func PurgedPattern(path string) string {
	var b strings.Builder
	b.WriteString("**/")
	for i, r := range path {
		switch {
		case strings.ContainsRune(`\*?[]`, r):
			b.WriteByte('\\')
		case r == ' ' && i == len(path)-1:
			b.WriteByte('\\') // a trailing space would be trimmed
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Unignore returns the pattern that re-includes what pattern ignores: a
// file purged and later placed again at the same path.
func Unignore(pattern string) string { return "!" + pattern }
