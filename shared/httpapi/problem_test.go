package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vodfc.dev/vodfc"
)

func errorResponse(err error) *httptest.ResponseRecorder {
	return get(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { WriteError(w, r, err) }), "/x")
}

func TestWriteErrorStatuses(t *testing.T) {
	for kind, status := range map[vodfc.Kind]int{
		vodfc.KindInternal: 500, vodfc.KindInvalid: 400, vodfc.KindUnauthorized: 401, vodfc.KindForbidden: 403,
		vodfc.KindNotFound: 404, vodfc.KindMethod: 405, vodfc.KindConflict: 409, vodfc.KindGone: 410,
		vodfc.KindPrecondition: 412, vodfc.KindTooLarge: 413, vodfc.KindUnsupported: 415,
		vodfc.KindRateLimited: 429, vodfc.KindUnavailable: 503,
	} {
		w := errorResponse(vodfc.E(kind, "some_code", "a message"))
		p := problemOf(t, w)
		if w.Code != status || p.Code != "some_code" || p.Detail != "a message" || p.Instance != "req-test" || p.Type != "about:blank" {
			t.Errorf("kind %d: %d %+v", kind, w.Code, p)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("kind %d: headers %v", kind, w.Header())
		}
	}
}

func TestWriteErrorNeverLeaksCauses(t *testing.T) {
	takeLogs()
	cause := errors.New("dial tcp 10.0.0.7:6379: password=hunter2 refused")
	for _, err := range []error{cause, vodfc.Internal(cause), vodfc.Unavailable(cause), fmt.Errorf("wrapped: %w", vodfc.Internal(cause))} {
		w := errorResponse(err)
		if strings.Contains(w.Body.String(), "hunter2") || strings.Contains(w.Body.String(), "10.0.0.7") {
			t.Errorf("cause leaked: %s", w.Body)
		}
		if w.Code != 500 && w.Code != 503 {
			t.Errorf("%v answered %d", err, w.Code)
		}
	}
	logs := takeLogs()
	l := findLog(logs, "request failed")
	if l == nil || !strings.Contains(fmt.Sprint(l["err"]), "hunter2") || l["request_id"] != "req-test" || l["level"] != "ERROR" {
		t.Errorf("cause not logged with the request id: %v", l)
	}
	// A client error with a cause is logged at Warn; without one not at all.
	errorResponse(&vodfc.Error{Kind: vodfc.KindConflict, Code: "taken", Message: "m", Cause: errors.New("condition check failed")})
	errorResponse(vodfc.NotFound("video_not_found", "no such video"))
	logs = takeLogs()
	if l := findLog(logs, "request rejected"); l == nil || l["level"] != "WARN" {
		t.Errorf("client error with cause: %v", logs)
	}
	if len(logs) != 1 {
		t.Errorf("logged %d lines, want 1: %v", len(logs), logs)
	}
}

func TestWriteErrorDetails(t *testing.T) {
	w := errorResponse(vodfc.RateLimited("too_many_uploads", 1200*time.Millisecond))
	if w.Code != 429 || w.Header().Get("Retry-After") != "2" {
		t.Errorf("rate limit: %d Retry-After=%q", w.Code, w.Header().Get("Retry-After"))
	}
	w = errorResponse(&vodfc.Error{Kind: vodfc.KindInvalid, Code: "invalid_field", Message: "bad",
		Fields: map[string]string{"title": "too long", "description": "too long"}})
	p := problemOf(t, w)
	if len(p.Errors) != 2 || p.Errors[0] != (FieldError{"description", "too long"}) || p.Errors[1].Field != "title" {
		t.Errorf("field errors %+v", p.Errors)
	}
	w = errorResponse(vodfc.Unauthorized("invalid_credentials", "wrong email or password"))
	if w.Header().Get("WWW-Authenticate") != `Bearer realm="vodfc"` {
		t.Errorf("401 without a challenge: %v", w.Header())
	}
	ctx, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	w = errorResponse(ctx.Err())
	if p := problemOf(t, w); w.Code != 503 || p.Code != "unavailable" {
		t.Errorf("deadline: %d %+v", w.Code, p)
	}
	w = errorResponse(nil)
	if w.Code != 500 {
		t.Errorf("nil error: %d", w.Code)
	}
}
