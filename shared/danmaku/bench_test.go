package danmaku

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/engagement"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// benchRedis is a real redis-server on a free port when one is installed, miniredis otherwise.
func benchRedis(b *testing.B) (addr, kind string) {
	b.Helper()
	if path, err := exec.LookPath("redis-server"); err == nil {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := exec.Command(path, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
		if err := cmd.Start(); err == nil {
			b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			addr = fmt.Sprintf("127.0.0.1:%d", port)
			for range 100 {
				if c, err := net.Dial("tcp", addr); err == nil {
					c.Close()
					return addr, "redis-server"
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	return miniredis.RunT(b).Addr(), "miniredis"
}

// BenchmarkSegmentLoopback measures req/s over real HTTP on loopback with keep-alive clients
// (16 goroutines, in the same process, sharing the two cores with the server and Redis): a
// bare net/http hello world against a cached danmaku segment GET through FC's custom runtime
// server, the router with its access log (to /dev/null, formatting paid), CORS, optional
// auth, the video check (instance cache) and the cached segment (50 danmaku, 7.6 KB of JSON):
// from the instance's 1-second cache as deployed, and with that cache off, one Redis round
// trip per request. The ratio to hello is the figure the issue tracks (≥ 0.5).
func BenchmarkSegmentLoopback(b *testing.B) {
	emu, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc", NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	tcfg := tablestore.Config{Endpoint: "http://ots.local", Instance: "vodfc", Transport: emu.Transport(),
		Credentials: func() (runtime.Credentials, bool) {
			return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
		}}
	db, _ := tablestore.New(tcfg)
	if _, err := db.Ensure(context.Background(), tablestore.Schema); err != nil {
		b.Fatal(err)
	}
	addr, kind := benchRedis(b)
	b.Logf("redis: %s", kind)
	rdb := redis.New(redis.Config{Addr: addr})
	defer rdb.Close()
	eng, _ := engagement.New(engagement.Config{Tablestore: tcfg, Redis: rdb, Log: slog.New(slog.DiscardHandler)})
	svc, _ := New(Config{Engagement: eng, Log: slog.New(slog.DiscardHandler), Cooldown: time.Millisecond})
	redisOnly, _ := New(Config{Engagement: eng, Log: slog.New(slog.DiscardHandler), LocalTTL: -1})
	now := time.Now()
	vid := vodfc.NewID()
	v := &vodfc.Video{ID: vid, OwnerID: "o", Title: "t", Visibility: vodfc.Public, Status: vodfc.StatusReady, Duration: time.Hour,
		CreatedAt: now, UpdatedAt: now, MediaPrefix: "m/", Renditions: []vodfc.Rendition{{Height: 720, Playlist: "p", Media: "m"}}}
	if err := videos.NewStore(db).Insert(context.Background(), v); err != nil {
		b.Fatal(err)
	}
	for i := range 50 {
		t := int64(i * 3000)
		if _, err := svc.Post(context.Background(), fmt.Sprintf("user%d", i), vid, Input{TimeMS: &t, Text: fmt.Sprintf("弹幕 number %d, hello!", i)}); err != nil {
			b.Fatal(err)
		}
	}

	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devnull.Close()
	prev := slog.Default()
	slog.SetDefault(slog.New(runtime.NewLogHandler(devnull, "danmaku", slog.LevelInfo)))
	defer slog.SetDefault(prev)
	stack := func(svc *Service) http.Handler {
		r := httpapi.NewRouter()
		r.Use(httpapi.CORS(httpapi.CORSConfig{AllowedOrigins: []string{"https://vod.example.com"}}))
		svc.Register(r, nopVerifier{})
		return runtime.NewCustomServer(&runtime.Function{HTTP: r})
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "Hello, world!\n") })

	run := func(b *testing.B, h http.Handler, path string) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}, Timeout: time.Minute}
		defer client.CloseIdleConnections()
		// Warm the caches (Redis fragment, the instance's video facts).
		if resp, err := client.Get(srv.URL + path); err != nil || resp.StatusCode != 200 {
			b.Fatalf("warm-up: %v %v", resp, err)
		} else {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		b.SetParallelism(8)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Get(srv.URL + path)
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
	b.Run("hello", func(b *testing.B) { run(b, hello, "/") })
	path := "/api/v1/videos/" + vid + "/danmaku?segment=1"
	b.Run("cached-segment", func(b *testing.B) { run(b, stack(svc), path) })
	b.Run("cached-segment-redis-only", func(b *testing.B) { run(b, stack(redisOnly), path) })
}

// nopVerifier refuses every token; the benchmark's reads are anonymous.
type nopVerifier struct{}

func (nopVerifier) VerifyAccessToken(string) (vodfc.Principal, error) {
	return vodfc.Principal{}, vodfc.Unauthorized("invalid_token", "no tokens here")
}
