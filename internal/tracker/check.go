package tracker

import (
	"context"
	"fmt"

	sheets "google.golang.org/api/sheets/v4"
)

// CheckAccess reads the tracker without writing to it — the Google
// Sheet's title, so the credentials and the sharing are checked — and says
// what it reached: the Sheet and the account it is reached as, or the CSV
// tracker's folder. The error says what to do (whom to share the Sheet
// with). It does not retry for long: someone is reading its answer.
func CheckAccess(ctx context.Context, cfg Config) (string, error) {
	cfg.setDefaults()
	if cfg.Spreadsheet == "" {
		return "the CSV tracker in " + cfg.CSVDir, nil
	}
	id, err := ParseSpreadsheetID(cfg.Spreadsheet)
	if err != nil {
		return "", err
	}
	s, err := newSheetsSink(ctx, cfg, id)
	if err != nil {
		return "", err
	}
	var ss *sheets.Spreadsheet
	err = s.read(ctx, func(ctx context.Context) (err error) {
		ss, err = s.svc.Spreadsheets.Get(s.id).Fields("properties(title)").Context(ctx).Do()
		return err
	})
	if err != nil {
		return "", s.notSent(err).asError()
	}
	title := id
	if ss.Properties != nil && ss.Properties.Title != "" {
		title = ss.Properties.Title
	}
	return fmt.Sprintf("the Google Sheet %q, reached as %s", title, s.creds.shareWith()), nil
}
