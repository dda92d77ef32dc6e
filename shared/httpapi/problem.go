package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/runtime"
)

// Problem is an RFC 9457 problem details body. Code is the stable snake_case identifier from
// vodfc.Error.Code that clients switch on; Instance is the request id, which support can look
// up in the logs.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Code     string       `json:"code"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
}

// FieldError names one offending request field.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// ProblemContentType is the media type of every error body.
const ProblemContentType = "application/problem+json"

// Header values assigned as slices, so writing them neither canonicalises nor allocates.
var (
	hvProblem = []string{ProblemContentType}
	hvJSON    = []string{"application/json"}
	hvNoSniff = []string{"nosniff"}
	hvNoStore = []string{"no-store"}
)

// StatusOf maps a vodfc.Kind to its HTTP status.
func StatusOf(k vodfc.Kind) int {
	switch k {
	case vodfc.KindInvalid:
		return http.StatusBadRequest
	case vodfc.KindUnauthorized:
		return http.StatusUnauthorized
	case vodfc.KindForbidden:
		return http.StatusForbidden
	case vodfc.KindNotFound:
		return http.StatusNotFound
	case vodfc.KindMethod:
		return http.StatusMethodNotAllowed
	case vodfc.KindConflict:
		return http.StatusConflict
	case vodfc.KindGone:
		return http.StatusGone
	case vodfc.KindPrecondition:
		return http.StatusPreconditionFailed
	case vodfc.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case vodfc.KindUnsupported:
		return http.StatusUnsupportedMediaType
	case vodfc.KindRateLimited:
		return http.StatusTooManyRequests
	case vodfc.KindUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// WriteError answers err as a problem. A *vodfc.Error gives the status (from its Kind), code,
// message and field errors; anything else is a 500 "internal". The internal cause is logged
// with the request id (server errors at Error, client errors with a cause at Warn) and never
// written to the client. Rate limits and unavailability carry Retry-After when known; a 401
// carries WWW-Authenticate.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		err = errors.New("httpapi: WriteError called with a nil error")
	}
	e := domainError(err)
	status := StatusOf(e.Kind)
	ctx := r.Context()
	switch {
	case status >= 500:
		slog.ErrorContext(ctx, "request failed", "status", status, "code", e.Code, "err", err)
	case e.Cause != nil:
		slog.WarnContext(ctx, "request rejected", "status", status, "code", e.Code, "err", err)
	}
	p := &Problem{Status: status, Code: e.Code, Detail: e.Message}
	if len(e.Fields) > 0 {
		p.Errors = make([]FieldError, 0, len(e.Fields))
		for f, d := range e.Fields {
			p.Errors = append(p.Errors, FieldError{Field: f, Detail: d})
		}
		slices.SortFunc(p.Errors, func(a, b FieldError) int {
			if a.Field < b.Field {
				return -1
			}
			if a.Field > b.Field {
				return 1
			}
			return 0
		})
	}
	h := w.Header()
	if e.RetryAfter > 0 && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	if status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", `Bearer realm="vodfc"`)
	}
	writeProblem(w, r, p)
}

// domainError turns any error into the vodfc.Error to answer with. A context ended by the
// platform's deadline or the client leaving is "unavailable", not a bug.
func domainError(err error) *vodfc.Error {
	var e *vodfc.Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return vodfc.Unavailable(err)
	}
	return vodfc.Internal(err)
}

// WriteProblem writes p as it is, filling in the title, type and instance.
func WriteProblem(w http.ResponseWriter, r *http.Request, p *Problem) { writeProblem(w, r, p) }

func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.Type == "" {
		p.Type = "about:blank" // the code field carries the meaning; there is no doc URL per code
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.Instance == "" {
		p.Instance = runtime.RequestID(r.Context())
	}
	if p.Code == "" {
		p.Code = "error"
	}
	body, err := json.Marshal(p)
	if err != nil { // cannot happen for these field types
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500,"code":"internal"}`)
		p.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h["Content-Type"] = hvProblem
	h["X-Content-Type-Options"] = hvNoSniff
	h["Cache-Control"] = hvNoStore
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}
