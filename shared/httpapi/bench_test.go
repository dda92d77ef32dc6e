package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"vodfc.dev/vodfc/runtime"
)

// benchStack is what an authenticated GET goes through in production: FC's custom runtime
// server, the Router with Logger and Recover, CORS, RequireAuth, a path value, WriteJSON. The
// access log is written to /dev/null through runtime's JSON handler, so its formatting and
// write(2) are paid as on FC.
func benchStack(b *testing.B) (http.Handler, string) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	prev := slog.Default()
	slog.SetDefault(slog.New(runtime.NewLogHandler(devnull, "videos", slog.LevelInfo)))
	b.Cleanup(func() { slog.SetDefault(prev); devnull.Close() })
	r := NewRouter()
	r.Use(CORS(CORSConfig{AllowedOrigins: []string{"https://vod.example.com"}}))
	r.HandleFunc("GET /api/v1/videos/{id}", func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		WriteJSON(w, http.StatusOK, struct {
			ID     string `json:"id"`
			Title  string `json:"title"`
			Viewer string `json:"viewer"`
		}{r.PathValue("id"), "hello", p.UserID})
	}, RequireAuth(verifier))
	return runtime.NewCustomServer(&runtime.Function{HTTP: r}), "Bearer " + token("u1")
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "Hello, world!\n") })

// BenchmarkInProcess calls the handlers directly: the CPU cost per request of the stack
// against a bare hello world, with no network.
func BenchmarkInProcess(b *testing.B) {
	b.Run("hello", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			hello.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		}
	})
	b.Run("authenticated-get", func(b *testing.B) {
		h, auth := benchStack(b)
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("GET", "/api/v1/videos/v1", nil)
			req.Header.Set("Authorization", auth)
			req.Header.Set("X-Fc-Request-Id", "bench")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatal(w.Code, w.Body)
			}
		}
	})
}

// BenchmarkLoopback measures req/s over real HTTP on loopback with keep-alive clients, the
// server and the load sharing the machine: a bare net/http hello world against an
// authenticated GET through the whole stack. The ratio of the two req/s is the figure the
// project tracks (≥ 0.6).
func BenchmarkLoopback(b *testing.B) {
	run := func(b *testing.B, h http.Handler, auth string) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}, Timeout: time.Minute}
		defer client.CloseIdleConnections()
		url := srv.URL + "/api/v1/videos/v1"
		b.SetParallelism(8)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("GET", url, nil)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	}
	b.Run("hello", func(b *testing.B) { run(b, hello, "") })
	b.Run("authenticated-get", func(b *testing.B) {
		h, auth := benchStack(b)
		run(b, h, auth)
	})
}
