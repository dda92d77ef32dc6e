package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"vodfc.dev/vodfc"
)

// DefaultMaxBody bounds a JSON request body unless the route says otherwise (MaxBody).
const DefaultMaxBody = 64 << 10

type maxBodyKey struct{}

// MaxBody sets the largest JSON body DecodeJSON accepts on a route.
func MaxBody(n int64) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), maxBodyKey{}, n)))
		})
	}
}

func maxBody(r *http.Request) int64 {
	if n, ok := r.Context().Value(maxBodyKey{}).(int64); ok {
		return n
	}
	return DefaultMaxBody
}

// DecodeJSON reads r's body as exactly one JSON value into v. It returns a *vodfc.Error for
// the caller to answer with WriteError:
//   - 415 unsupported_media_type unless Content-Type is application/json (or a +json type);
//   - 413 body_too_large beyond the route's limit (64 KiB unless MaxBody says otherwise);
//   - 400 unknown_field for a field v has no place for, naming it;
//   - 400 invalid_json for malformed JSON, a value of the wrong type (naming the field), an
//     empty body, or data after the value.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if !isJSON(r.Header.Get("Content-Type")) {
		return vodfc.E(vodfc.KindUnsupported, "unsupported_media_type", "Content-Type must be application/json")
	}
	limit := maxBody(r)
	if r.ContentLength > limit {
		return tooLarge(limit)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, limit)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(limit)
		}
		return vodfc.Invalid("invalid_json", "request body has data after the JSON value")
	}
	return nil
}

func isJSON(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func tooLarge(limit int64) error {
	return vodfc.E(vodfc.KindTooLarge, "body_too_large", "request body is larger than "+strconv.FormatInt(limit, 10)+" bytes")
}

func decodeError(err error, limit int64) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
		ie  *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &mbe):
		return tooLarge(limit)
	case errors.Is(err, io.EOF):
		return vodfc.Invalid("invalid_json", "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return vodfc.Invalid("invalid_json", "request body ends inside the JSON value")
	case errors.As(err, &se):
		return vodfc.Invalid("invalid_json", "malformed JSON at byte "+strconv.FormatInt(se.Offset, 10))
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		reason := "must be " + jsonKind(te.Type) + ", not " + te.Value
		return &vodfc.Error{Kind: vodfc.KindInvalid, Code: "invalid_json", Message: field + ": " + reason,
			Fields: map[string]string{field: reason}}
	case errors.As(err, &ie):
		return vodfc.Internal(err) // a handler passed a non-pointer: a bug
	}
	// encoding/json reports unknown fields only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if f, err := strconv.Unquote(name); err == nil {
			name = f
		}
		return &vodfc.Error{Kind: vodfc.KindInvalid, Code: "unknown_field", Message: "unknown field " + strconv.Quote(name),
			Fields: map[string]string{name: "unknown field"}}
	}
	return vodfc.Invalid("invalid_json", "request body is not valid JSON")
}

// jsonKind names the JSON type a Go type is decoded from, for error messages.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	default:
		return "a " + t.String()
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// WriteJSON answers status with v as JSON. If v cannot be encoded (a bug), it answers a 500
// problem instead and logs why.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			bufPool.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		slog.Error("encoding a JSON response failed", "err", err, "type", fmt.Sprintf("%T", v))
		body := `{"type":"about:blank","title":"Internal Server Error","status":500,"code":"internal"}`
		h := w.Header()
		h["Content-Type"] = hvProblem
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, body)
		return
	}
	h := w.Header()
	h["Content-Type"] = hvJSON
	h["X-Content-Type-Options"] = hvNoSniff
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
