package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recorder stands at the gateway's boundary: it answers with what the gateway decided (which
// function, which trigger, which path, how much body), so routing can be checked exactly. The
// real fcemu behind the gateway is covered by local/cloud's end-to-end test.
type recorder struct{}

func (recorder) HandleHTTP(w http.ResponseWriter, r *http.Request, function, trigger string) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"function": function, "trigger": trigger, "path": r.URL.Path, "query": r.URL.RawQuery, "bytes": n})
}

func testGateway(t *testing.T) *httptest.Server {
	t.Helper()
	all := []string{"GET", "POST", "PUT", "DELETE"}
	g, err := New(Options{
		Functions: recorder{},
		MaxBody:   1024,
		Console: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("console " + r.URL.Path))
		}),
		Routes: []Route{
			{Path: "/api/v1/videos/*", Function: "videos", Trigger: "http", TriggerMethods: all, Source: "domain api"},
			{Path: "/api/v1/videos", Methods: []string{"POST"}, Function: "videos", Trigger: "http", TriggerMethods: all, Source: "domain api"},
			{Path: "/api/v1/videos/danmaku/*", Function: "danmaku", Trigger: "http", TriggerMethods: all, Source: "domain api"},
			{Path: "/api/v1/*", Methods: []string{"GET", "DELETE"}, Function: "misc", Trigger: "web", TriggerMethods: []string{"GET", "POST"}, Source: "domain api"},
			{Path: "/_fn/videos/*", Function: "videos", Trigger: "http", TriggerMethods: all, Strip: "/_fn/videos", Source: "HTTP trigger http"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

type routed struct {
	Function, Trigger, Path, Query string
	Bytes                          int
}

func do(t *testing.T, method, url string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestRouting(t *testing.T) {
	srv := testGateway(t)
	cases := []struct{ method, path, function, seen string }{
		{"GET", "/api/v1/videos/abc", "videos", "/api/v1/videos/abc"},
		{"GET", "/api/v1/videos/danmaku/7", "danmaku", "/api/v1/videos/danmaku/7"},
		{"POST", "/api/v1/videos", "videos", "/api/v1/videos"},
		{"GET", "/api/v1/users/me?x=1", "misc", "/api/v1/users/me"},
		{"GET", "/api/v1/videos/", "videos", "/api/v1/videos/"},
		{"GET", "/_fn/videos/api/v1/videos/abc?q=2", "videos", "/api/v1/videos/abc"},
		{"GET", "/_fn/videos", "videos", "/"},
	}
	for _, c := range cases {
		resp, body := do(t, c.method, srv.URL+c.path, nil)
		var r routed
		json.Unmarshal(body, &r)
		if resp.StatusCode != 200 || r.Function != c.function || r.Path != c.seen {
			t.Errorf("%s %s: status %d routed %+v, want %s seeing %s", c.method, c.path, resp.StatusCode, r, c.function, c.seen)
		}
	}
	if _, body := do(t, "GET", srv.URL+"/_local/health", nil); string(body) != "console /_local/health" {
		t.Errorf("console not served: %q", body)
	}
}

func problem(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d content-type %q body %s, want %d problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), body, status)
	}
	var p struct {
		Type, Title, Detail, Code string
		Status                    int
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != status || p.Code != code || p.Title == "" || p.Detail == "" || p.Type == "" {
		t.Fatalf("problem %+v, want status %d code %s", p, status, code)
	}
}

func TestUnknownRouteIs404(t *testing.T) {
	srv := testGateway(t)
	resp, body := do(t, "GET", srv.URL+"/nothing/here", nil)
	problem(t, resp, body, 404, "RouteNotFound")
}

func TestWrongMethodIs405(t *testing.T) {
	srv := testGateway(t)
	// The route allows GET and DELETE, the trigger GET and POST: only GET is possible.
	for _, m := range []string{"POST", "DELETE", "PUT"} {
		resp, body := do(t, m, srv.URL+"/api/v1/users/me", nil)
		problem(t, resp, body, 405, "MethodNotAllowed")
		if resp.Header.Get("Allow") != "GET" {
			t.Errorf("%s: Allow = %q", m, resp.Header.Get("Allow"))
		}
	}
	resp, body := do(t, "GET", srv.URL+"/api/v1/videos", nil)
	problem(t, resp, body, 405, "MethodNotAllowed")
}

func TestOversizeBodyIs413(t *testing.T) {
	srv := testGateway(t)
	resp, body := do(t, "POST", srv.URL+"/api/v1/videos", strings.NewReader(strings.Repeat("x", 1025)))
	problem(t, resp, body, 413, "PayloadTooLarge")

	// Chunked (no Content-Length): read up to the limit, then refused the same way.
	resp, body = do(t, "POST", srv.URL+"/api/v1/videos", io.MultiReader(strings.NewReader(strings.Repeat("y", 1025))))
	problem(t, resp, body, 413, "PayloadTooLarge")

	// At the limit it passes, whole.
	for _, r := range []io.Reader{strings.NewReader(strings.Repeat("z", 1024)), io.MultiReader(strings.NewReader(strings.Repeat("z", 1024)))} {
		resp, body = do(t, "POST", srv.URL+"/api/v1/videos", r)
		var got routed
		json.Unmarshal(body, &got)
		if resp.StatusCode != 200 || got.Bytes != 1024 {
			t.Errorf("body at the limit: status %d %s", resp.StatusCode, body)
		}
	}
}

func TestDuplicateRoutesAreRefused(t *testing.T) {
	_, err := New(Options{Functions: recorder{}, Routes: []Route{
		{Path: "/a/*", Function: "x", Source: "domain one"},
		{Path: "/a/*", Function: "y", Source: "domain two"},
	}})
	if err == nil || !strings.Contains(err.Error(), "routed twice") {
		t.Fatalf("duplicate route: %v", err)
	}
}
