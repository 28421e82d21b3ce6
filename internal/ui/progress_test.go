package ui

import (
	"bytes"
	"strings"
	"testing"
)

// An engine announces its work with AddTotal only (run.Progress): the
// first announcement starts the display as Start would, later ones grow
// the work, and a late Start changes nothing.
func TestProgressStartsOnFirstAnnouncement(t *testing.T) {
	var errb bytes.Buffer
	term := &Terminal{Out: &errb, Err: &errb, Quiet: true}
	for _, tc := range []struct {
		name  string
		steps func(p *Progress)
		want  []string
	}{
		{"announced once", func(p *Progress) {
			p.AddTotal(1000, 4)
			p.Add(250)
			p.FileDone()
		}, []string{"copy:  25% ", "1 of 4 files"}},
		{"announced as found", func(p *Progress) {
			p.AddTotal(1000, 4)
			p.AddTotal(1000, 4)
			p.Add(500)
		}, []string{"copy:  25% ", "0 of 8 files"}},
		{"a late Start changes nothing", func(p *Progress) {
			p.AddTotal(1000, 4)
			p.Start(5, 5)
			p.Add(500)
		}, []string{"copy:  50% ", "0 of 4 files"}},
		{"started empty, then announced", func(p *Progress) {
			p.Start(0, 0)
			p.AddTotal(1000, 2)
			p.Add(1000)
			p.FileDone()
		}, []string{"copy: 100% ", "1 of 2 files"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := term.NewProgress("copy")
			defer p.Close()
			tc.steps(p)
			line := p.Line()
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("progress line %q lacks %q", line, w)
				}
			}
		})
	}
}
