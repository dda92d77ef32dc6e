// Package vodfc holds the domain of the video site that every function shares: the records the
// product talks about and the one error type that crosses package boundaries. Packages named
// after outside systems (tablestore, oss, redis, ffmpeg, mail) and after features (videos,
// engagement, ...) live beneath it; this package depends on none of them.
package vodfc

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the class of a failure. It decides the HTTP status a handler answers with, so callers
// switch on Kind while clients switch on the finer, stable Code.
type Kind int

const (
	KindInternal     Kind = iota // 500: a bug or an outage; details are logged, never shown
	KindInvalid                  // 400: the request itself is wrong
	KindUnauthorized             // 401: no or bad credentials
	KindForbidden                // 403: authenticated but not allowed
	KindNotFound                 // 404
	KindMethod                   // 405
	KindConflict                 // 409: state does not allow it (already exists, wrong status)
	KindGone                     // 410
	KindPrecondition             // 412
	KindTooLarge                 // 413
	KindUnsupported              // 415
	KindRateLimited              // 429: RetryAfter says when to come back
	KindUnavailable              // 503: a dependency is down or busy; retrying may help
)

// Error is the domain error. Code is a stable snake_case identifier clients may switch on
// ("invalid_credentials", "video_not_found"); Message is safe to show to a user; Cause is the
// internal reason, logged by the HTTP layer and never sent to a client.
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	RetryAfter time.Duration
	// Fields names the offending request fields (field → reason) for validation errors.
	Fields map[string]string
	Cause  error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// E builds an Error of the given kind.
func E(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Invalid reports a request that cannot be served as sent.
func Invalid(code, message string) *Error { return E(KindInvalid, code, message) }

// InvalidField reports one bad request field.
func InvalidField(field, reason string) *Error {
	return &Error{Kind: KindInvalid, Code: "invalid_field", Message: field + ": " + reason,
		Fields: map[string]string{field: reason}}
}

// NotFound reports a missing resource; code names it ("video_not_found").
func NotFound(code, message string) *Error { return E(KindNotFound, code, message) }

// Conflict reports a request the current state does not allow.
func Conflict(code, message string) *Error { return E(KindConflict, code, message) }

// Forbidden reports an authenticated caller who may not do this.
func Forbidden(code, message string) *Error { return E(KindForbidden, code, message) }

// Unauthorized reports missing or bad credentials.
func Unauthorized(code, message string) *Error { return E(KindUnauthorized, code, message) }

// RateLimited reports a limit hit; retryAfter tells the client when to try again.
func RateLimited(code string, retryAfter time.Duration) *Error {
	return &Error{Kind: KindRateLimited, Code: code, Message: "too many requests, slow down", RetryAfter: retryAfter}
}

// Internal wraps an unexpected failure. The cause is for logs only.
func Internal(cause error) *Error {
	return &Error{Kind: KindInternal, Code: "internal", Message: "internal error", Cause: cause}
}

// Unavailable wraps a dependency failure that a retry may cure.
func Unavailable(cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: "unavailable", Message: "service temporarily unavailable", Cause: cause}
}

// As returns err as an *Error, wrapping anything else as internal.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// IsKind reports whether err is a domain error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// IsCode reports whether err is a domain error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
