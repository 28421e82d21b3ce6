package notify

import (
	"fmt"
	"strings"

	"github.com/editkit/editkit/internal/offload"
	"github.com/editkit/editkit/internal/units"
	"github.com/editkit/editkit/internal/verify"
)

// ForCopy returns a message per destination of a finished copy: ready
// (every file copied and read back, or already there and verified before)
// or failed (what failed). An interrupted copy says nothing: it is
// resumed, not finished.
func ForCopy(r *offload.Result) []Message {
	if r.Interrupted {
		return nil
	}
	var out []Message
	for _, d := range r.Destinations {
		facts := []Fact{
			{"Drive", driveName(d.Label, d.DriveID)},
			{"Source", r.Source},
			{"Files", fmt.Sprintf("%d (%d copied, %d already there)", d.Copied+d.AlreadyThere, d.Copied, d.AlreadyThere)},
			{"Copied", units.FormatBytes(d.CopiedBytes)},
		}
		problems := len(d.Failed) + len(r.SourceErrors)
		if d.Error == "" && problems == 0 {
			facts = append(facts, Fact{"Hashes", hashSummary(r.Verify, d.Checksums)})
			out = append(out, Message{Kind: DriveReady, Time: r.Finished,
				Title: fmt.Sprintf("Drive %s is ready", d.Label), Facts: facts})
			continue
		}
		var lines []string
		if d.Error != "" {
			lines = append(lines, d.Error)
		}
		for _, f := range r.SourceErrors {
			lines = append(lines, "source: "+f.Path+": "+f.Err)
		}
		for _, f := range d.Failed {
			lines = append(lines, f.Path+": "+f.Err)
		}
		facts = append(facts, Fact{"Failed", fmt.Sprint(problems)})
		out = append(out, Message{Kind: CopyFailed, Time: r.Finished,
			Title: fmt.Sprintf("Copy to %s failed: the drive is not ready", d.Label),
			Text:  firstLines(lines, 5) + "\nRun the same copy again to finish it.", Facts: facts})
	}
	return out
}

func hashSummary(mode, checksums string) string {
	s := "BLAKE3 and xxh128 of every file"
	switch mode {
	case "dest":
		s += ", read back from the drive"
	case "full":
		s += ", read back from the drive and the source"
	default:
		s += " (not read back: verify " + mode + ")"
	}
	if checksums != "" {
		s += "; list: " + checksums
	}
	return s
}

// ForVerify returns the message for a verify that found problems (none for
// a clean or interrupted one).
func ForVerify(r *verify.Result) []Message {
	if r.OK() || r.Interrupted {
		return nil
	}
	var lines []string
	for _, p := range r.Problems {
		lines = append(lines, strings.Join(strings.Fields(p.String()), " "))
	}
	name := r.Label
	if name == "" {
		name = r.Drive
	}
	return []Message{{Kind: VerifyFailed, Time: r.Finished,
		Title: fmt.Sprintf("Verify of %s failed: %s", name, units.Count(len(r.Problems), "problem")),
		Text:  firstLines(lines, 8),
		Facts: []Fact{
			{"Drive", driveName(r.Label, r.DriveID)},
			{"Where", r.Drive},
			{"Intact", fmt.Sprintf("%d of %d files", r.Verified, r.Files)},
			{"Report", r.Report},
		}}}
}

// ForBackup returns the message for a backup that failed (err from the
// command: no snapshot, or one with files missing).
func ForBackup(set string, paths []string, err error) Message {
	return Message{Kind: BackupFailed, Title: fmt.Sprintf("Backup %q failed", set),
		Text: err.Error(),
		Facts: []Fact{
			{"Set", set},
			{"Folders", strings.Join(paths, ", ")},
		}}
}

func driveName(label, id string) string {
	if id == "" {
		return label
	}
	return label + " (" + id + ")"
}

// firstLines joins up to n lines, then says how many more there are.
func firstLines(lines []string, n int) string {
	if len(lines) <= n {
		return strings.Join(lines, "\n")
	}
	return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n… and %d more", len(lines)-n)
}
