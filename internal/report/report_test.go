package report_test

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/report"
	"github.com/editkit/editkit/internal/report/browsertest"
)

// hostile is a file name that is markup: a page must show it as text.
const hostile = `<script>alert("x") & <img src=x onerror=alert(1)>.mov`

func sampleFiles() []report.File {
	return []report.File{
		{Path: "Proxies/Day01/A001.mov", Size: 3 << 20, Hashes: []report.Hash{{Format: "BLAKE3", Digest: strings.Repeat("ab", 32)}}},
		{Path: "Proxies/Day01/A002.mov", Size: 1 << 20},
		{Path: "Proxies/Day02/B001.mov", Size: 2 << 20},
		{Path: "Audio/" + hostile, Size: 512},
		{Path: "README.txt", Size: 10},
	}
}

func sampleDrive() *report.DriveReport {
	var files report.Tally
	for _, f := range sampleFiles() {
		files.Add(f)
	}
	return &report.DriveReport{
		Title:    "editkit verify report",
		State:    report.Problems,
		Verdict:  report.Verdict("Verified", 5, 6, 6<<20+522, 1),
		Drive:    report.Drive{Label: "EDITOR1", ID: "d-1234", Path: "/Volumes/EDITOR1"},
		Facts:    []report.Fact{{Name: "Against", Value: "manifest"}},
		Files:    files,
		Problems: []string{"missing       Proxies/Day03/C001.mov"},
	}
}

// A drive report says its verdict first, lists the folders with counts
// and sizes and every problem, and shows a hostile file name as text.
func TestDriveReportEscapesAndSummarises(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteDrive(&b, sampleDrive()); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if strings.Contains(html, "<script") || strings.Contains(html, "<img") {
		t.Fatalf("a file name became markup:\n%s", html)
	}
	for _, want := range []string{"&lt;script&gt;", "Proxies/Day01", "Proxies/Day02", "EDITOR1", "d-1234",
		"Verified: 5 of 6 files", "1 problem", "<details>"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, f := range []string{"http://", "https://", "@import", "url("} {
		if strings.Contains(html, f) {
			t.Errorf("page refers to the network (%q); it must be self-contained", f)
		}
	}
}

func TestFoldersTwoLevelsDeep(t *testing.T) {
	got := sampleDrive().Files.Folders()
	want := []report.Folder{{"/", 1, 10}, {"Audio", 1, 512}, {"Proxies/Day01", 2, 4 << 20}, {"Proxies/Day02", 1, 2 << 20}}
	if len(got) != len(want) {
		t.Fatalf("folders %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("folder %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// A run of more files than a page lists keeps every file in the folder
// counts, lists the first MaxHashes with their hashes, and says where the
// others' hashes are.
func TestTallyListsAtMostMaxHashes(t *testing.T) {
	r := sampleDrive()
	r.Files = report.Tally{}
	r.HashesElsewhere = "in .editkit/checksums.b3sum"
	for i := range report.MaxHashes + 7 {
		r.Files.Add(report.File{Path: fmt.Sprintf("Proxies/Day01/%06d.mov", i), Size: 1, Hashes: []report.Hash{{Format: "BLAKE3", Digest: "ab"}}})
	}
	if got := r.Files.Folders(); len(got) != 1 || got[0].Files != report.MaxHashes+7 {
		t.Fatalf("folders %+v", got)
	}
	var b bytes.Buffer
	if err := report.WriteDrive(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, "BLAKE3 ab"); n != report.MaxHashes {
		t.Errorf("%d hashes listed, want %d", n, report.MaxHashes)
	}
	if !strings.Contains(page, "The other 7: in .editkit/checksums.b3sum.") {
		t.Errorf("the page does not say where the other hashes are")
	}
}

func TestCountSetsThousandsApart(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1204: "1\u00a0204", 1234567: "1\u00a0234\u00a0567"} {
		if got := report.Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

func writePage(t *testing.T, name string, write func(*bytes.Buffer) error) string {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Chromium renders the drive report: the verdict, the problem and the
// hostile name as text; on a phone the page does not scroll sideways.
func TestDriveReportInChromium(t *testing.T) {
	p := writePage(t, "verify.html", func(b *bytes.Buffer) error { return report.WriteDrive(b, sampleDrive()) })
	browsertest.Check(t, p, "Verified: 5 of 6 files, 6.0 MiB, 1 problem", "missing Proxies/Day03/C001.mov", hostile, "EDITOR1")
}

func sampleTeam() *report.Team {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	return &report.Team{
		Generated: now,
		Drives:    []report.TeamDrive{{Label: "EDITOR1", ID: "d-1", LastPull: now.Add(-time.Hour)}, {Label: "EDITOR2", ID: "d-2"}},
		Items: []report.TeamItem{
			{Path: "VFX/shot010_v003.mov", Category: "vfx", Size: 5 << 20, Pushed: now, User: "ae", On: []bool{true, false}},
			{Path: "Review/" + hostile, Category: "review", Size: 1 << 10, Pushed: now, On: []bool{true, true}, Expires: now.Add(48 * time.Hour)},
		},
		Backups:  []report.TeamBackup{{Set: "avid", Time: now.Add(-12 * time.Hour), Who: "ae@mac", Note: "3 files"}},
		Problems: []string{"conflict: ed pushed a different file to VFX/shot010_v003.mov"},
	}
}

// The team page shows who has what and what each drive lacks, the last
// backups and the review media about to expire.
func TestTeamPageInChromium(t *testing.T) {
	p := writePage(t, "team.html", func(b *bytes.Buffer) error { return report.WriteTeam(b, sampleTeam()) })
	browsertest.Check(t, p, "2 media items, 2 drives: 1 lacks media, 1 problem", "EDITOR2 : has 1, lacks 1 (5.0 MiB)",
		"avid : 2026-12-06 21:00 UTC by ae@mac", hostile+": expires 2026-12-09 09:00 UTC", "conflict: ed pushed")
}

// The rows rendered ahead of the page are what the page's template would
// have escaped: a file name may hold any of <>&"' and a NUL.
func TestListedRowsEscapeAsTheTemplate(t *testing.T) {
	var tally report.Tally
	for i, p := range []string{"Day01/a.mxf", `Bins/<script>alert("x")</script>.avb`, "O'Brien & Sons/\x00.wav"} {
		tally.Add(report.File{Path: p, Size: int64(1536 * i),
			Hashes: []report.Hash{{Format: "BLAKE3", Digest: "af13<49"}, {Format: "xxh128", Digest: "99aa"}}})
	}
	want := template.Must(template.New("rows").Parse(`{{range .}}<tr><td>{{.Path}}{{range .Hashes}}<span class="hash">{{.Format}} {{.Digest}}</span>{{end}}</td><td class="n">{{.Size}}</td></tr>
{{end}}`))
	var b strings.Builder
	if err := want.Execute(&b, tally.Listed); err != nil {
		t.Fatal(err)
	}
	if got := string(tally.ListedRows()); got != b.String() {
		t.Errorf("rows\n%s\nwant\n%s", got, b.String())
	}
	tally.Add(report.File{Path: "late.wav"})
	if !strings.Contains(string(tally.ListedRows()), "late.wav") {
		t.Error("a file added after the rows were rendered is missing from them")
	}
}
