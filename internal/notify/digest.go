package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/editkit/editkit/internal/contenthub"
	"github.com/editkit/editkit/internal/event"
	"github.com/editkit/editkit/internal/fsx"
	"github.com/editkit/editkit/internal/outbox"
	"github.com/editkit/editkit/internal/units"
)

// EventLog is the hub's event log as the digest reads it.
type EventLog interface {
	EventKeys(ctx context.Context, since, now time.Time) ([]string, error)
	ReadBatch(ctx context.Context, key string) ([]event.Event, error)
}

// FirstDigestCovers is how far back the first digest looks.
const FirstDigestCovers = 24 * time.Hour

// digestCursor is the file that remembers the last event-log object a
// digest covered.
type digestCursor struct {
	After string `json:"after"`
}

// QueueDigest composes one message about what reached the hub's event log
// since the last digest (the first time: the last FirstDigestCovers) —
// media pushed, so editors pull, and who pulled what — and queues it. It
// returns whether there was anything to say.
//
// The caller holds the notify lock (snd), so the digest and the cursor in
// cursorFile agree: the cursor moves only once the digest is queued, and a
// digest that was queued by a run that died before moving it is found in
// the outbox (its LogUntil) instead of being composed again. So each part
// of the log is in one digest.
func QueueDigest(ctx context.Context, ob *outbox.Outbox, snd *outbox.Sender, log EventLog, cursorFile string, now time.Time) (Message, bool, error) {
	cur, err := readCursor(cursorFile)
	if err != nil {
		return Message{}, false, err
	}
	pending, _, err := snd.Pending()
	if err != nil {
		return Message{}, false, err
	}
	for _, p := range pending {
		if m, err := decode(p.Message); err == nil && m.Kind == Digest && m.LogUntil > cur.After {
			cur.After = m.LogUntil // queued, cursor not yet moved
		}
	}
	// The first digest: objects that reached the hub in the last day;
	// then those after the last one covered.
	since := now.Add(-FirstDigestCovers)
	first := contenthub.FirstEventKeyAt(since)
	covered := func(k string) bool { return k < first }
	if t, ok := contenthub.EventKeyTime(cur.After); ok && cur.After != "" {
		since = t
		covered = func(k string) bool { return k <= cur.After }
	}
	keys, err := log.EventKeys(ctx, since, now)
	if err != nil {
		return Message{}, false, err
	}
	var evs []event.Event
	last := cur.After
	for _, k := range keys {
		if covered(k) {
			continue
		}
		batch, err := log.ReadBatch(ctx, k)
		if err != nil {
			return Message{}, false, err
		}
		evs = append(evs, batch...)
		last = k
	}
	m, worth := composeDigest(evs, since, now)
	if worth {
		m.LogUntil = last
		if err := Queue(ob, m); err != nil {
			return Message{}, false, err
		}
	}
	if last != cur.After {
		data, _ := json.Marshal(digestCursor{After: last})
		if err := fsx.WriteFileAtomic(cursorFile, data, 0o600); err != nil {
			return m, worth, fmt.Errorf("the digest was queued but where it ends could not be saved in %s: %w (the next digest would repeat it; check the folder can be written)", cursorFile, err)
		}
	}
	return m, worth, nil
}

func readCursor(path string) (digestCursor, error) {
	var c digestCursor
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &c)
	}
	if err != nil {
		return c, fmt.Errorf("digest state %s: %w (remove it to start again from the last day)", path, err)
	}
	return c, nil
}

// composeDigest summarises pushes (by category) and pulls (by person and
// drive).
func composeDigest(evs []event.Event, since, now time.Time) (Message, bool) {
	type pushed struct {
		lines []string
		bytes int64
	}
	byCategory := map[string]*pushed{}
	type pulled struct {
		files int
		bytes int64
	}
	byPuller := map[string]*pulled{}
	var newFiles, pulls int
	var newBytes int64
	for _, e := range evs {
		switch e.Action {
		case event.Pushed:
			cat := e.Category
			if cat == "" {
				cat = "other"
			}
			p := byCategory[cat]
			if p == nil {
				p = &pushed{}
				byCategory[cat] = p
			}
			line := fmt.Sprintf("%s (%s", e.Path, units.FormatBytes(e.Size))
			if e.User != "" {
				line += ", from " + e.User
			}
			p.lines = append(p.lines, line+")")
			p.bytes += e.Size
			newFiles++
			newBytes += e.Size
		case event.Pulled:
			who := e.User
			if who == "" {
				who = "someone"
			}
			who += " → " + e.Drive
			p := byPuller[who]
			if p == nil {
				p = &pulled{}
				byPuller[who] = p
			}
			p.files++
			p.bytes += e.Size
			pulls++
		}
	}
	if newFiles == 0 && pulls == 0 {
		return Message{}, false
	}
	var b strings.Builder
	if newFiles > 0 {
		b.WriteString("New on the hub — run `editkit pull DRIVE` to get it:\n")
		for _, cat := range sortedKeys(byCategory) {
			p := byCategory[cat]
			fmt.Fprintf(&b, "%s: %s, %s\n", cat, units.Count(len(p.lines), "file"), units.FormatBytes(p.bytes))
			b.WriteString(firstLines(indent(p.lines), 5) + "\n")
		}
	}
	if pulls > 0 {
		b.WriteString("Pulled:\n")
		for _, who := range sortedKeys(byPuller) {
			p := byPuller[who]
			fmt.Fprintf(&b, "  %s: %s, %s\n", who, units.Count(p.files, "file"), units.FormatBytes(p.bytes))
		}
	}
	title := fmt.Sprintf("Media digest: %s new (%s), %s pulled", units.Count(newFiles, "file"), units.FormatBytes(newBytes), units.Count(pulls, "file"))
	return Message{Kind: Digest, Time: now, Title: title, Text: strings.TrimRight(b.String(), "\n"),
		Facts: []Fact{{"Since", since.Local().Format("Mon 2 Jan 15:04")}}}, true
}

func indent(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "  " + l
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
