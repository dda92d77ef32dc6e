package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func corsRouter(cfg CORSConfig) *Router {
	r := NewRouter()
	r.Use(CORS(cfg))
	r.HandleFunc("POST /api/v1/videos", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	r.HandleFunc("GET /api/v1/videos", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, []int{}) })
	return r
}

func preflight(h http.Handler, origin string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("OPTIONS", "/api/v1/videos", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	return serve(h, req)
}

func TestCORS(t *testing.T) {
	r := corsRouter(CORSConfig{AllowedOrigins: []string{"https://vod.example.com/"}, AllowCredentials: true})
	w := preflight(r, "https://vod.example.com")
	h := w.Header()
	if w.Code != 204 || h.Get("Access-Control-Allow-Origin") != "https://vod.example.com" ||
		h.Get("Access-Control-Allow-Methods") != "GET, HEAD, POST, PUT, PATCH, DELETE" ||
		h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type" || h.Get("Access-Control-Max-Age") != "600" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Vary") == "" {
		t.Errorf("preflight: %d %v", w.Code, h)
	}
	if w := preflight(r, "https://evil.example"); w.Code != 403 || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v", w.Code, w.Header())
	}
	w = get(r, "/api/v1/videos", "Origin", "https://vod.example.com")
	h = w.Header()
	if w.Code != 200 || h.Get("Access-Control-Allow-Origin") != "https://vod.example.com" || h.Get("Vary") != "Origin" ||
		h.Get("Access-Control-Expose-Headers") != "Retry-After, Location, X-Fc-Request-Id" {
		t.Errorf("simple request: %d %v", w.Code, h)
	}
	w = get(r, "/api/v1/videos", "Origin", "https://evil.example")
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("Vary") != "Origin" {
		t.Errorf("request from another origin: %v", w.Header())
	}
	// A plain OPTIONS without CORS headers is not a preflight: the router answers 405.
	if w := serve(r, httptest.NewRequest("OPTIONS", "/api/v1/videos", nil)); w.Code != 405 {
		t.Errorf("plain OPTIONS: %d", w.Code)
	}

	wildcard := corsRouter(CORSConfig{AllowedOrigins: []string{"*"}, AllowCredentials: true})
	w = preflight(wildcard, "https://anyone.example")
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("wildcard preflight (credentials must stay off): %v", w.Header())
	}
}

func TestOriginsFromEnv(t *testing.T) {
	env := map[string]string{"CORS_ORIGINS": " https://a.example , ,* "}
	got := OriginsFromEnv(func(k string) string { return env[k] })
	if len(got) != 2 || got[0] != "https://a.example" || got[1] != "*" {
		t.Fatalf("got %q", got)
	}
	if got := OriginsFromEnv(func(string) string { return "" }); got != nil {
		t.Fatalf("unset: %q", got)
	}
}
