package tracker

import (
	"fmt"
	"sort"

	"github.com/editkit/editkit/internal/tracker/sheetsfake"
)

type sheetsfakeFault = sheetsfake.Fault

// sameRowsAnyOrder compares tabs by content: header equal, data rows equal
// as multisets (order of appends may differ between runs), empty cells
// and trailing empties ignored.
func sameRowsAnyOrder(a, b [][]any) bool {
	norm := func(rows [][]any) []string {
		var out []string
		for i, r := range rows {
			for len(r) > 0 && cellString(r[len(r)-1]) == "" {
				r = r[:len(r)-1]
			}
			s := ""
			for _, c := range r {
				s += fmt.Sprintf("%s\x00", cellString(c))
			}
			if i == 0 {
				s = "\x01" + s
			}
			if s != "" {
				out = append(out, s)
			}
		}
		sort.Strings(out)
		return out
	}
	x, y := norm(a), norm(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
