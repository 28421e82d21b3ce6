// Package tracker owns the tracker: the shared record, kept for the
// assistant editor and the team, of every change editkit makes — media
// copied, verified, pushed, pulled, backed up, restored, pruned — and of who
// has which media. It writes a Google Sheet through the sheets/v4 API, or,
// without Google configured, a folder of CSV files with the same rows.
//
// The tracker is a view. The hub's event log is the truth; this package
// makes sure that every event it accepts appears in the view exactly once,
// whatever the network does:
//
//   - Events wait in this computer's one outbox (internal/outbox, shared
//     with the hub's event log; crash-safe: a batch file appears whole or
//     not at all). Record stores them there, Sync sends what waits for the
//     tracker under the outbox's tracker lock. When the Sheet cannot be
//     reached — offline, quota, expired login, no access — the command
//     still succeeds: Result.NotSent says why the events wait and what to
//     do, and the next Record or Sync sends them.
//   - Sending reads the Log's Event ID column before writing and appends
//     only absent events, then reads again to confirm; only confirmed events
//     are noted in the batch's tracker receipt, and a batch is never sent
//     again once its receipt says done. A write whose outcome is unknown
//     (timeout, dropped connection, a kill before the receipt) is thus never
//     repeated blindly. See sheetsSink for the full argument, including two
//     machines syncing at once.
//   - Requests are batched (many rows per append, one values.batchUpdate for
//     all changed cells) and paced below Google's per-minute quotas by a
//     sliding-window limiter; 429 and 5xx answers are retried with
//     truncated exponential back-off and jitter, honouring Retry-After.
//
// The Sheet has four tabs, found by name and adopted if they exist:
//
//	Log      one row per event: time, event id, who, host, action, drive,
//	         path, category, size, hash, note (and drive id, backup set,
//	         snapshot, free space)
//	Media    one row per media item, a column per drive with when the item
//	         arrived there (or "pruned …" / "FAILED verify …")
//	Drives   one row per drive: label, id, owner, last copy / verify / pull,
//	         verify result, free space
//	Backups  one row per backup snapshot: time, set, who, size, restores,
//	         pruning
//
// Columns are found by header name: people may reorder them, add their own
// columns and rows, sort and filter; editkit writes only the cells under its
// own headers, adds missing headers at the end, and never deletes anything
// but exact duplicate rows. Media, Drives and Backups are derived from the
// events and can be rewritten from the hub's log with Rebuild.
//
// Authentication: a service-account JSON key, Google application default
// credentials, or a person's own account through Login (browser redirect to
// a loopback port with PKCE, or the device flow), whose token is stored
// readable by its owner only. Credentials never appear in errors or logs.
package tracker
