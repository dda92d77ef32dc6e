package engagement

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// benchRedis is a real redis-server on a free port when one is installed (the figures mean
// something), miniredis otherwise.
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
	m := miniredis.RunT(b)
	return m.Addr(), "miniredis"
}

func benchService(b *testing.B) (*Service, *tablestore.Client, string) {
	b.Helper()
	emu, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc", NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emu.Close() })
	tcfg := tablestore.Config{Endpoint: "http://ots.local", Instance: "vodfc", Transport: emu.Transport(),
		Credentials: func() (runtime.Credentials, bool) {
			return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
		}}
	db, _ := tablestore.New(tcfg)
	if _, err := db.Ensure(context.Background(), tablestore.Schema); err != nil {
		b.Fatal(err)
	}
	addr, kind := benchRedis(b)
	rdb := redis.New(redis.Config{Addr: addr})
	b.Cleanup(func() { rdb.Close() })
	svc, err := New(Config{Tablestore: tcfg, Redis: rdb, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return svc, db, kind
}

// BenchmarkHeartbeats compares view heartbeats handled the way the service does (the windows
// the instance knows answered from memory, the rest grouped into one pipeline per round trip)
// with one Redis round trip per heartbeat, at the same concurrency: 64 heartbeats in flight. The traffic is a player's:
// 20,000 sessions on 1,000 videos, each heartbeat from the next session in turn, so after the
// first lap most heartbeats find their viewing window running, as on a real site.
func BenchmarkHeartbeats(b *testing.B) {
	svc, _, kind := benchService(b)
	rule := redis.ViewRule{MinWatch: 10 * time.Second, Window: time.Hour}
	const sessions = 20000
	pool := make([]redis.Heartbeat, sessions)
	for i := range pool {
		pool[i] = redis.Heartbeat{VideoID: fmt.Sprintf("v%04d", i%1000), Viewer: fmt.Sprintf("s:%d", i), Day: 20261126}
	}
	var n atomic.Int64
	hb := func() redis.Heartbeat { return pool[n.Add(1)%sessions] }
	run := func(b *testing.B, one func(context.Context) error) {
		b.SetParallelism(32) // × GOMAXPROCS (2) = 64 goroutines
		ctx := context.Background()
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := one(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "heartbeats/s")
	}
	b.Logf("redis: %s", kind)
	b.Run("batched", func(b *testing.B) {
		run(b, func(ctx context.Context) error { _, err := svc.views.do(ctx, hb()); return err })
	})
	// The same batcher without the instance's memory of windows: every heartbeat goes to
	// Redis, grouped. This is the figure for heartbeats spread over many instances.
	uncached := newViewBatcher(svc.rdb, rule, time.Now, svc.log)
	uncached.windows = nil
	b.Run("batched-no-window-cache", func(b *testing.B) {
		run(b, func(ctx context.Context) error { _, err := uncached.do(ctx, hb()); return err })
	})
	b.Run("round-trip-each", func(b *testing.B) {
		run(b, func(ctx context.Context) error {
			_, err := svc.rdb.HeartbeatEach(ctx, rule, time.Now(), hb())
			return err
		})
	})
}

// BenchmarkLikeToggle compares like toggles end to end (HTTP over loopback into FC's custom
// runtime server, the router with auth and logging, the service: edge read, intent, edge,
// increment, intent delete, cache write-through, tally) with the bare minimum a toggle needs
// against the same emulator: a conditional put or delete of the edge and an increment.
func BenchmarkLikeToggle(b *testing.B) {
	svc, db, _ := benchService(b)
	now := time.Now()
	vid := vodfc.NewID()
	v := &vodfc.Video{ID: vid, OwnerID: "o", Title: "t", Visibility: vodfc.Public, Status: vodfc.StatusReady, CreatedAt: now, UpdatedAt: now}
	if err := videos.NewStore(db).Insert(context.Background(), v); err != nil {
		b.Fatal(err)
	}
	var users atomic.Int64
	b.Run("end-to-end", func(b *testing.B) {
		devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		defer devnull.Close()
		prev := slog.Default()
		slog.SetDefault(slog.New(runtime.NewLogHandler(devnull, "engagement", slog.LevelInfo)))
		defer slog.SetDefault(prev)
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		signer, _ := auth.NewSigner(auth.SignerConfig{Key: key, Issuer: "i", Audience: "a"})
		verifier, _ := auth.NewVerifier(auth.VerifierConfig{Keys: map[string]ed25519.PublicKey{signer.KeyID(): signer.PublicKey()}, Issuer: "i", Audience: "a"})
		r := httpapi.NewRouter()
		svc.Register(r, verifier)
		srv := httptest.NewServer(runtime.NewCustomServer(&runtime.Function{HTTP: r}))
		defer srv.Close()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		defer client.CloseIdleConnections()
		b.SetParallelism(8)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			tok, _, _ := signer.IssueAccess(fmt.Sprintf("user%d", users.Add(1)), vodfc.TierFree, nil)
			like := true
			for pb.Next() {
				method := map[bool]string{true: "PUT", false: "DELETE"}[like]
				req, _ := http.NewRequest(method, srv.URL+"/api/v1/videos/"+vid+"/like", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				like = !like
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "toggles/s")
	})
	b.Run("bare-conditional-put-and-increment", func(b *testing.B) {
		ctx := context.Background()
		b.SetParallelism(8)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			user := fmt.Sprintf("bare%d", users.Add(1))
			like := true
			for pb.Next() {
				var err error
				delta := int64(1)
				if like {
					err = db.Put(ctx, tablestore.VideoLikes.Name, likeKey(vid, user), tablestore.Cols{colLikedAt: time.Now().UnixMicro()}, tablestore.IfNotExists())
				} else {
					delta = -1
					err = db.Delete(ctx, tablestore.VideoLikes.Name, likeKey(vid, user), tablestore.IfExists())
				}
				if err == nil {
					_, err = db.Update(ctx, tablestore.Videos.Name, tablestore.K("video_id", vid), tablestore.Change{Incr: map[string]int64{"likes": delta}}, tablestore.IfExists())
				}
				if err != nil {
					b.Error(err)
					return
				}
				like = !like
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "toggles/s")
	})
}
