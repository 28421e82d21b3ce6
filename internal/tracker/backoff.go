package tracker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
)

// backoff is truncated exponential back-off with jitter, as Google asks of
// API clients: wait about base·2ⁿ (never more than max), randomised so that
// several editkits that failed together do not retry together, and never
// less than the server's Retry-After.
type backoff struct {
	base, max time.Duration
	attempt   int
}

func newBackoff() *backoff { return &backoff{base: time.Second, max: 64 * time.Second} }

func (b *backoff) next(retryAfter time.Duration) time.Duration {
	d := b.base << min(b.attempt, 16)
	if d > b.max || d <= 0 {
		d = b.max
	}
	b.attempt++
	// "Equal jitter": half fixed, half random, so the wait grows for sure
	// but two clients drift apart.
	d = d/2 + rand.N(d/2+1)
	return max(d, retryAfter)
}

func (b *backoff) reset() { b.attempt = 0 }

// class sorts an error from a Sheets or token call by what to do about it.
type class int

const (
	classOK        class = iota
	classTransient       // 429, 5xx, timeouts, dropped connections: retry after a pause
	classOffline         // cannot connect at all: queue without waiting long
	classAuth            // credentials missing, expired or revoked
	classAccess          // 403: the account cannot use the sheet
	classNotFound        // 404: no such spreadsheet
	classLayout          // 400: a tab or range went away (edited by hand): re-read the layout
	classFatal           // anything else
)

// classify sorts err and extracts Retry-After when the server sent one.
func classify(err error) (class, time.Duration) {
	if err == nil {
		return classOK, 0
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		ra := retryAfter(gerr.Header)
		switch {
		case gerr.Code == http.StatusTooManyRequests:
			return classTransient, ra
		case gerr.Code >= 500 || gerr.Code == http.StatusRequestTimeout || gerr.Code == http.StatusConflict:
			return classTransient, ra
		case gerr.Code == http.StatusUnauthorized:
			return classAuth, 0
		case gerr.Code == http.StatusForbidden:
			return classAccess, 0
		case gerr.Code == http.StatusNotFound:
			return classNotFound, 0
		case gerr.Code == http.StatusBadRequest:
			return classLayout, 0
		}
		return classFatal, 0
	}
	var rerr *oauth2.RetrieveError
	if errors.As(err, &rerr) {
		if rerr.Response != nil && (rerr.Response.StatusCode >= 500 || rerr.Response.StatusCode == 429) {
			return classTransient, 0
		}
		return classAuth, 0
	}
	var credErr *credentialsError
	if errors.As(err, &credErr) {
		return classAuth, 0
	}
	if errors.Is(err, context.Canceled) {
		return classFatal, 0
	}
	if isDialError(err) {
		return classOffline, 0
	}
	// Timeouts, resets, EOF after the request went out: the server may
	// have applied it. Transient, and the caller re-reads before writing.
	var uerr *url.Error
	if errors.As(err, &uerr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNRESET) {
		return classTransient, 0
	}
	if strings.Contains(err.Error(), "oauth2: cannot fetch token") {
		// x/oauth2 flattens transport errors of the token endpoint into text.
		if strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "no such host") ||
			strings.Contains(err.Error(), "network is unreachable") {
			return classOffline, 0
		}
		return classTransient, 0
	}
	return classFatal, 0
}

// isDialError reports an error of connecting: nothing reached the server.
func isDialError(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH)
}

func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// describe turns an error into words for the user (never credentials).
func describe(err error) string {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		if gerr.Message != "" {
			return fmt.Sprintf("Google Sheets answered %d: %s", gerr.Code, gerr.Message)
		}
		return fmt.Sprintf("Google Sheets answered %d %s", gerr.Code, http.StatusText(gerr.Code))
	}
	if d := authDetail(err); d != "" {
		return "Google's sign-in refused the credentials (" + d + ")"
	}
	return err.Error()
}

// authDetail is the token endpoint's own word on a refusal, e.g.
// "invalid_grant: Invalid JWT Signature." (never the request, which holds
// the signed assertion or the refresh token).
func authDetail(err error) string {
	var rerr *oauth2.RetrieveError
	if !errors.As(err, &rerr) {
		return ""
	}
	code, desc := rerr.ErrorCode, rerr.ErrorDescription
	if code == "" {
		// The JWT flow does not parse the body; do it here.
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(rerr.Body, &body) == nil {
			code, desc = body.Error, body.Description
		}
	}
	msg := code
	if desc != "" {
		msg += ": " + desc
	}
	if msg == "" && rerr.Response != nil {
		msg = rerr.Response.Status
	}
	return msg
}
