package httpapi

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type videoInput struct {
	Title string `json:"title"`
	Meta  struct {
		Count int      `json:"count"`
		Tags  []string `json:"tags"`
	} `json:"meta"`
}

func decodeRoute(mw ...Middleware) http.Handler {
	r := NewRouter()
	r.HandleFunc("POST /v", func(w http.ResponseWriter, r *http.Request) {
		var in videoInput
		if err := DecodeJSON(w, r, &in); err != nil {
			WriteError(w, r, err)
			return
		}
		WriteJSON(w, http.StatusCreated, in)
	}, mw...)
	return r
}

func post(h http.Handler, ct string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/v", body)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return serve(h, req)
}

// chunked hides the body's length, as a chunked upload does.
type chunked struct{ io.Reader }

func TestDecodeJSON(t *testing.T) {
	h := decodeRoute()
	w := post(h, "application/json; charset=utf-8", strings.NewReader(`{"title":"a","meta":{"count":2,"tags":["x"]}} `+"\n"))
	if w.Code != 201 || strings.TrimSpace(w.Body.String()) != `{"title":"a","meta":{"count":2,"tags":["x"]}}` ||
		w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Content-Length") == "" {
		t.Fatalf("valid body: %d %s %v", w.Code, w.Body, w.Header())
	}
	if w := post(h, "application/merge-patch+json", strings.NewReader(`{}`)); w.Code != 201 {
		t.Errorf("+json type: %d", w.Code)
	}
	big := `{"title":"` + strings.Repeat("x", DefaultMaxBody) + `"}`
	for _, tc := range []struct {
		name, ct string
		body     io.Reader
		status   int
		code     string
		field    string
	}{
		{"no content type", "", strings.NewReader(`{}`), 415, "unsupported_media_type", ""},
		{"form", "application/x-www-form-urlencoded", strings.NewReader(`a=b`), 415, "unsupported_media_type", ""},
		{"too large", "application/json", strings.NewReader(big), 413, "body_too_large", ""},
		{"too large, chunked", "application/json", chunked{strings.NewReader(big)}, 413, "body_too_large", ""},
		{"unknown field", "application/json", strings.NewReader(`{"title":"a","owner":"me"}`), 400, "unknown_field", "owner"},
		{"wrong type", "application/json", strings.NewReader(`{"meta":{"count":"two"}}`), 400, "invalid_json", "meta.count"},
		{"wrong type in array", "application/json", strings.NewReader(`{"meta":{"tags":[1]}}`), 400, "invalid_json", "meta.tags"},
		{"not an object", "application/json", strings.NewReader(`[1]`), 400, "invalid_json", "(body)"},
		{"malformed", "application/json", strings.NewReader(`{"title":}`), 400, "invalid_json", ""},
		{"truncated", "application/json", strings.NewReader(`{"title":"a"`), 400, "invalid_json", ""},
		{"empty", "application/json", strings.NewReader(``), 400, "invalid_json", ""},
		{"trailing value", "application/json", strings.NewReader(`{"title":"a"}{"title":"b"}`), 400, "invalid_json", ""},
		{"trailing garbage", "application/json", strings.NewReader(`{"title":"a"} x`), 400, "invalid_json", ""},
	} {
		w := post(h, tc.ct, tc.body)
		p := problemOf(t, w)
		if w.Code != tc.status || p.Code != tc.code {
			t.Errorf("%s: %d %+v", tc.name, w.Code, p)
			continue
		}
		if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field) {
			t.Errorf("%s: field errors %+v", tc.name, p.Errors)
		}
	}
	// A route may raise (or lower) the limit.
	if w := post(decodeRoute(MaxBody(1<<20)), "application/json", strings.NewReader(big)); w.Code != 201 {
		t.Errorf("MaxBody(1 MiB): %d %s", w.Code, w.Body)
	}
	if w := post(decodeRoute(MaxBody(8)), "application/json", strings.NewReader(`{"title":"abc"}`)); w.Code != 413 {
		t.Errorf("MaxBody(8): %d", w.Code)
	}
}

func TestWriteJSONFailure(t *testing.T) {
	w := httptest.NewRecorder()
	WriteJSON(w, 200, map[string]float64{"x": math.Inf(1)})
	if w.Code != 500 || w.Header().Get("Content-Type") != ProblemContentType {
		t.Errorf("unencodable value: %d %s", w.Code, w.Body)
	}
}
