package accounts

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// The benchmarks serve over loopback HTTP through runtime.NewCustomServer (FC's custom
// runtime, as the functions run), with the access log written to /dev/null through the
// runtime's JSON handler, and drive it with keep-alive clients in the same process: server and
// load share the machine's cores, as in shared/httpapi's BenchmarkLoopback.

func quietLogs(b *testing.B, function string) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	prev := slog.Default()
	slog.SetDefault(slog.New(runtime.NewLogHandler(devnull, function, slog.LevelInfo)))
	b.Cleanup(func() { slog.SetDefault(prev); devnull.Close() })
}

// load runs b.N requests from parallel keep-alive clients and reports req/s and the median
// latency. next makes the i-th request.
func load(b *testing.B, srv *httptest.Server, parallelism int, next func(i int64) *http.Request, status int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	var n atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(parallelism)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			req := next(n.Add(1))
			t0 := time.Now()
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			mine = append(mine, time.Since(t0))
			if res.StatusCode != status {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkLogin measures successful logins (argon2id verification, two Tablestore reads,
// the limits in Redis, a new refresh family written, an access token signed) against the
// argon2id verification alone at the same concurrency, which is what bounds it.
func BenchmarkLogin(b *testing.B) {
	quietLogs(b, "auth")
	const accounts = 64
	hash, err := testHasher.Hash(b.Context(), testPassword)
	if err != nil {
		b.Fatal(err)
	}
	st := &store{db: testDB}
	addrs := make([]string, accounts)
	for i := range addrs {
		addrs[i] = newAddress("bench-login")
		a, _ := ParseAddress(addrs[i])
		acct := &account{ID: vodfc.NewID(), Email: a.Mailbox, Nickname: "b", Password: hash, Tier: vodfc.TierFree, CreatedAt: time.Now()}
		w := newAccountWrite(acct)
		w.Put[colVerified] = true
		if err := st.claim(b.Context(), a.Key, acct.ID, acct.CreatedAt); err != nil {
			b.Fatal(err)
		}
		if err := testDB.BatchWrite(b.Context(), []tablestore.Write{w}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("argon2id-verify", func(b *testing.B) {
		b.SetParallelism(2)
		var lat []time.Duration
		var mu sync.Mutex
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			for pb.Next() {
				t0 := time.Now()
				if ok, _, err := testHasher.Verify(b.Context(), testPassword, hash); !ok || err != nil {
					b.Error("verify failed", err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "verifies/s")
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	})
	b.Run("login", func(b *testing.B) {
		a, err := NewAuth(AuthConfig{DB: testDB, Redis: testRedis, Mail: testMail, Signer: testSigner, Codes: testCodes,
			Passwords: testHasher, SessionKey: testKey, Policy: benchPolicy()})
		if err != nil {
			b.Fatal(err)
		}
		r := httpapi.NewRouter()
		a.Routes(r)
		srv := httptest.NewServer(runtime.NewCustomServer(&runtime.Function{HTTP: r}))
		defer srv.Close()
		bodies := make([][]byte, accounts)
		for i, addr := range addrs {
			bodies[i], _ = json.Marshal(map[string]string{"email": addr, "password": testPassword})
		}
		// Two clients per core: each login holds its account's lock, so clients take accounts
		// round-robin and never collide on one.
		load(b, srv, 2, func(i int64) *http.Request {
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/auth/login", bytes.NewReader(bodies[i%accounts]))
			req.Header.Set("Content-Type", "application/json")
			return req
		}, http.StatusOK)
	})
}

// benchPolicy lifts the limits a benchmark from one client address would trip.
func benchPolicy() Policy {
	p := DefaultPolicy()
	lots := redis.Backoff{Window: time.Hour, Free: 1 << 20, Base: time.Second, Max: time.Second, Limit: 1 << 21}
	p.LoginPerIP, p.LoginPerAccount = lots, lots
	return p
}

var helloWorld = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "Hello, world!\n") })

// BenchmarkMe compares an authenticated GET /api/v1/me (the users function's stack: custom
// runtime server, Router with Logger and Recover, RequireAuth with the Ed25519 verifier and its
// cache, the account row from the in-process cache, WriteJSON) with a bare net/http hello
// world under the same load. The project's goal is at least 0.6× the hello world's req/s.
func BenchmarkMe(b *testing.B) {
	quietLogs(b, "users")
	e := newEnvB(b)
	s := e.signUpDirect(b)
	const parallelism = 8
	b.Run("hello", func(b *testing.B) {
		srv := httptest.NewServer(helloWorld)
		defer srv.Close()
		load(b, srv, parallelism, func(int64) *http.Request {
			req, _ := http.NewRequest("GET", srv.URL+"/", nil)
			return req
		}, http.StatusOK)
	})
	b.Run("me", func(b *testing.B) {
		r := httpapi.NewRouter()
		e.profiles.Routes(r)
		srv := httptest.NewServer(runtime.NewCustomServer(&runtime.Function{HTTP: r}))
		defer srv.Close()
		load(b, srv, parallelism, func(int64) *http.Request {
			req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+s)
			return req
		}, http.StatusOK)
	})
}

// benchEnv is the part of env a benchmark needs.
type benchEnv struct{ profiles *Profiles }

func newEnvB(b *testing.B) *benchEnv {
	p, err := NewProfiles(ProfilesConfig{DB: testDB, Verifier: testVerify})
	if err != nil {
		b.Fatal(err)
	}
	return &benchEnv{profiles: p}
}

// signUpDirect writes a verified account and returns an access token for it.
func (e *benchEnv) signUpDirect(b *testing.B) string {
	a, _ := ParseAddress(newAddress("bench-me"))
	acct := &account{ID: vodfc.NewID(), Email: a.Mailbox, Nickname: "bench", Tier: vodfc.TierFree, CreatedAt: time.Now()}
	w := newAccountWrite(acct)
	w.Put[colVerified] = true
	if err := testDB.BatchWrite(b.Context(), []tablestore.Write{w}); err != nil {
		b.Fatal(err)
	}
	tok, _, err := testSigner.IssueAccess(acct.ID, acct.Tier, nil)
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// BenchmarkMeInProcess is the CPU cost of the same two handlers without the network: what
// the users function adds per request over a hello world.
func BenchmarkMeInProcess(b *testing.B) {
	quietLogs(b, "users")
	e := newEnvB(b)
	tok := e.signUpDirect(b)
	r := httpapi.NewRouter()
	e.profiles.Routes(r)
	h := runtime.NewCustomServer(&runtime.Function{HTTP: r})
	b.Run("hello", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			helloWorld.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		}
	})
	b.Run("me", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
}
