package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func sampleRouter() *Router {
	r := NewRouter()
	r.HandleFunc("GET /api/v1/videos/{id}", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 200, map[string]string{"id": r.PathValue("id")})
	})
	r.HandleFunc("DELETE /api/v1/videos/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	r.HandleFunc("POST /api/v1/videos", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	r.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	r.HandleFunc("GET /panic-late", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		http.NewResponseController(w).Flush()
		panic("late")
	})
	return r
}

func TestRouterRoutes(t *testing.T) {
	got := sampleRouter().Routes()
	want := []Route{{"GET", "/api/v1/videos/{id}"}, {"DELETE", "/api/v1/videos/{id}"}, {"POST", "/api/v1/videos"},
		{"GET", "/panic"}, {"GET", "/panic-late"}}
	if !slices.Equal(got, want) {
		t.Errorf("routes %v", got)
	}
	if got[0].String() != "GET /api/v1/videos/{id}" {
		t.Errorf("String %q", got[0])
	}
	for _, bad := range []string{"/x", "get /x", "GET x", "GET example.com/x", ""} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("pattern %q accepted", bad)
				}
			}()
			NewRouter().HandleFunc(bad, func(http.ResponseWriter, *http.Request) {})
		}()
	}
}

func TestRouterMatching(t *testing.T) {
	r := sampleRouter()
	takeLogs()
	w := get(r, "/api/v1/videos/v42")
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"id":"v42"}` || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET: %d %s %v", w.Code, w.Body, w.Header())
	}
	line := findLog(takeLogs(), "request")
	if line == nil || line["route"] != "GET /api/v1/videos/{id}" || line["path"] != "/api/v1/videos/v42" ||
		line["status"] != float64(200) || line["bytes"] != float64(13) || line["request_id"] != "req-test" ||
		line["function"] != "videos" || line["level"] != "INFO" || line["latency_ms"] == nil {
		t.Errorf("access log line %v", line)
	}

	// HEAD is served for GET, without a body.
	ts := httptest.NewServer(r)
	defer ts.Close()
	resp, err := http.Head(ts.URL + "/api/v1/videos/v1")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("HEAD: %v %v", resp, err)
	}

	takeLogs()
	w = get(r, "/nope")
	if p := problemOf(t, w); w.Code != 404 || p.Code != "route_not_found" || p.Instance != "req-test" {
		t.Errorf("unknown route: %d %+v", w.Code, p)
	}
	w = serve(r, httptest.NewRequest("PUT", "/api/v1/videos/v1", nil))
	if p := problemOf(t, w); w.Code != 405 || p.Code != "method_not_allowed" || w.Header().Get("Allow") != "DELETE, GET, HEAD" {
		t.Errorf("wrong method: %d %+v Allow=%q", w.Code, p, w.Header().Get("Allow"))
	}
	w = serve(r, httptest.NewRequest("GET", "/api/v1/videos", nil))
	if w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET on a POST-only path: %d Allow=%q", w.Code, w.Header().Get("Allow"))
	}
	var statuses []any
	for _, l := range takeLogs() {
		if l["msg"] == "request" {
			statuses = append(statuses, l["status"])
			if l["route"] != "" {
				t.Errorf("unmatched request logged with route %q", l["route"])
			}
		}
	}
	if fmt.Sprint(statuses) != "[404 405 405]" {
		t.Errorf("access log statuses of error responses %v", statuses)
	}
}

func TestRouterMiddlewareOrder(t *testing.T) {
	var order []string
	mw := func(name string) Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r.WithContext(r.Context())) // replaces r: the log must still name the route
			})
		}
	}
	r := NewRouter()
	r.Use(mw("global"))
	r.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) { order = append(order, "handler") }, mw("first"), mw("second"))
	takeLogs()
	get(r, "/x")
	if fmt.Sprint(order) != "[global first second handler]" {
		t.Errorf("order %v", order)
	}
	if line := findLog(takeLogs(), "request"); line == nil || line["route"] != "GET /x" {
		t.Errorf("route lost behind a request-replacing middleware: %v", line)
	}
}

func TestRecover(t *testing.T) {
	r := sampleRouter()
	takeLogs()
	w := get(r, "/panic")
	if p := problemOf(t, w); w.Code != 500 || p.Code != "internal" || strings.Contains(w.Body.String(), "boom") {
		t.Errorf("panic: %d %s", w.Code, w.Body)
	}
	logs := takeLogs()
	if l := findLog(logs, "handler panicked"); l == nil || l["request_id"] != "req-test" || l["panic"] != "boom" {
		t.Errorf("panic log %v", l)
	}
	if l := findLog(logs, "request"); l == nil || l["status"] != float64(500) || l["level"] != "ERROR" {
		t.Errorf("access log of a panic %v", l)
	}
	// Once the body started the connection is cut.
	ts := httptest.NewServer(customRuntime(r))
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/panic-late")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Error("late panic: client got a complete response")
	}
	if n := strings.Count(fmt.Sprint(takeLogs()), "panicked"); n != 1 {
		t.Errorf("late panic logged %d times", n)
	}
}

// TestLoggerStandalone: outside a Router, Logger names the route from the ServeMux pattern.
func TestLoggerStandalone(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /p/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	takeLogs()
	get(Logger(mux), "/p/1")
	if l := findLog(takeLogs(), "request"); l == nil || l["route"] != "GET /p/{id}" || l["status"] != float64(204) {
		t.Errorf("access log %v", l)
	}
}

func TestScopeKeepsOnlyTheRoutesAFunctionIsRoutedTo(t *testing.T) {
	rt := NewRouter()
	rt.Scope("/api/v1/videos", "/api/v1/videos/*", "/api/v1/me/videos")
	ok := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }
	for _, p := range []string{"POST /api/v1/videos", "GET /api/v1/videos/{id}", "PUT /api/v1/videos/{id}/like",
		"GET /api/v1/me/videos", "GET /api/v1/me/likes", "GET /api/v1/me", "GET /api/v1/videosx", "DELETE /api/v1/comments/{cid}"} {
		rt.HandleFunc(p, ok)
	}
	var got []string
	for _, r := range rt.Routes() {
		got = append(got, r.String())
	}
	want := []string{"POST /api/v1/videos", "GET /api/v1/videos/{id}", "PUT /api/v1/videos/{id}/like", "GET /api/v1/me/videos"}
	if !slices.Equal(got, want) {
		t.Fatalf("routes %v, want %v", got, want)
	}
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/me/likes", nil))
	if rec.Code != 404 {
		t.Fatalf("a route out of scope answered %d", rec.Code)
	}
}
