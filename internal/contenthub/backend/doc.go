// Package backend owns the storage beneath the hub: a store of immutable
// objects under keys, kept either in a local or NAS folder or in any
// S3-compatible service. It knows nothing of what the keys mean; the hub's
// layout (which key holds what) is package contenthub's alone.
//
// The design follows restic's backends: one small Backend interface with two
// implementations (OpenLocal, OpenS3), and everything that is not storage —
// retrying transient failures, bandwidth limiting, logging — as independent
// wrappers around a Backend (WithRetry, WithBandwidthLimit, WithLogging) that
// the caller composes in the order it wants.
//
// Uploads are written for home uplinks and cron: a Put that is interrupted
// (Ctrl-C, kill -9, a dropped connection, a server restart) leaves its
// progress behind — a partial file in the folder backend, a pending multipart
// upload on S3 — and the next Put of the same key, from the same or a new
// process, checks what is already there against the local data and sends only
// the rest. AbortUploads removes what was left behind for good.
//
// Every byte that reaches the store is checked: the folder backend fsyncs and
// publishes atomically (a final name never holds partial data), and the S3
// backend sends a Content-MD5 and a signed SHA-256 of every request body, so a
// body corrupted in transit is refused by the server.
package backend
