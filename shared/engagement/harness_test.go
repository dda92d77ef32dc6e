package engagement

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// The harness runs the service against the real SDKs: the Tablestore emulator in-process
// through the SDK's transport hook, miniredis over the Redis protocol, real Ed25519 tokens,
// and the HTTP router as FC's custom runtime would call it.
type harness struct {
	t      *testing.T
	svc    *Service
	emu    *otsemu.Server
	mr     *miniredis.Miniredis
	db     *tablestore.Client
	srv    *httptest.Server
	signer *auth.Signer
	now    atomic.Int64 // unix ms of the service's clock
	lossy  *lossyTransport
}

type harnessOpt func(*Config)

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t}
	h.now.Store(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC).UnixMilli())
	emu, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	h.emu = emu
	h.lossy = &lossyTransport{base: emu.Transport()}
	tcfg := tablestore.Config{Endpoint: "http://ots.local", Instance: "vodfc", Transport: h.lossy,
		Credentials: func() (runtime.Credentials, bool) {
			return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
		}}
	h.db, err = tablestore.New(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.Ensure(context.Background(), tablestore.Schema); err != nil {
		t.Fatal(err)
	}
	h.mr = miniredis.RunT(t)
	h.mr.SetTime(time.UnixMilli(h.now.Load())) // the scripts read TIME
	rdb := redis.New(redis.Config{Addr: h.mr.Addr(), Prefix: "t:"})
	t.Cleanup(func() { rdb.Close() })
	cfg := Config{Tablestore: tcfg, Redis: rdb, Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return time.UnixMilli(h.now.Load()).UTC() }}
	for _, o := range opts {
		o(&cfg)
	}
	h.svc, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	h.signer, err = auth.NewSigner(auth.SignerConfig{Key: key, Issuer: "iss", Audience: "aud"})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Keys: map[string]ed25519.PublicKey{h.signer.KeyID(): h.signer.PublicKey()},
		Issuer: "iss", Audience: "aud"})
	if err != nil {
		t.Fatal(err)
	}
	r := httpapi.NewRouter()
	h.svc.Register(r, verifier)
	h.srv = httptest.NewServer(runtime.NewCustomServer(&runtime.Function{HTTP: r}))
	t.Cleanup(h.srv.Close)
	return h
}

// advance moves the service's clock and Redis's (for the view windows) forward.
func (h *harness) advance(d time.Duration) {
	h.now.Add(d.Milliseconds())
	h.mr.SetTime(time.UnixMilli(h.now.Load()))
	h.mr.FastForward(d)
}

type videoOpt func(*vodfc.Video)

func private(v *vodfc.Video)    { v.Visibility = vodfc.Private }
func processing(v *vodfc.Video) { v.Status = vodfc.StatusProcessing }

// video inserts a ready, public, 10-minute video of owner and returns its id.
func (h *harness) video(owner string, opts ...videoOpt) string {
	h.t.Helper()
	now := time.UnixMilli(h.now.Load())
	v := &vodfc.Video{ID: vodfc.NewID(), OwnerID: owner, Title: "clip", Visibility: vodfc.Public, Status: vodfc.StatusReady,
		Duration: 10 * time.Minute, CreatedAt: now, UpdatedAt: now, PublishedAt: now,
		Width: 1280, Height: 720, MediaPrefix: "media/x/1/",
		Renditions: []vodfc.Rendition{{Height: 720, Width: 1280, Bandwidth: 3e6, Codecs: "avc1.64001f,mp4a.40.2", Playlist: "p.m3u8", Media: "m.mp4"}}}
	for _, o := range opts {
		o(v)
	}
	if err := videos.NewStore(h.db).Insert(context.Background(), v); err != nil {
		h.t.Fatal(err)
	}
	return v.ID
}

func (h *harness) token(userID string) string {
	tok, _, err := h.signer.IssueAccess(userID, vodfc.TierFree, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// call sends a request as userID ("" for anonymous) and decodes a JSON answer into out.
func (h *harness) call(method, path, userID string, body any, out any) (int, http.Header, []byte) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if userID != "" {
		req.Header.Set("Authorization", "Bearer "+h.token(userID))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode, resp.Header, b
}

// problem asserts a problem+json answer with status and code.
func (h *harness) problem(status int, code string, gotStatus int, hdr http.Header, body []byte) {
	h.t.Helper()
	var p httpapi.Problem
	if gotStatus != status || !strings.HasPrefix(hdr.Get("Content-Type"), httpapi.ProblemContentType) ||
		json.Unmarshal(body, &p) != nil || p.Code != code {
		h.t.Fatalf("got %d %s %s, want %d problem %q", gotStatus, hdr.Get("Content-Type"), body, status, code)
	}
}

// counts reads a video's counters from its row (the truth the cache serves).
func (h *harness) counts(id string) vodfc.Counts {
	h.t.Helper()
	row, ok, err := videos.NewStore(h.db).ReadCounters(context.Background(), id)
	if err != nil || !ok {
		h.t.Fatalf("reading counters of %s: %v %v", id, ok, err)
	}
	return row.Counts
}

// rows counts the rows of a table under a one-column key prefix.
func (h *harness) rows(table tablestore.Table, prefix ...any) int64 {
	h.t.Helper()
	start, end := tablestore.K(prefix...), tablestore.K(prefix...)
	for _, kd := range table.Key[len(prefix)/2:] {
		start = append(start, tablestore.KeyCol{Name: kd.Name, Value: tablestore.Min})
		end = append(end, tablestore.KeyCol{Name: kd.Name, Value: tablestore.Max})
	}
	var n int64
	if err := h.db.Scan(context.Background(), table.Name, tablestore.Range{Start: start, End: end}, func(*tablestore.Row) error { n++; return nil }); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// repair runs Repair as rollup would once every request of now has died.
func (h *harness) repair() RepairReport {
	h.t.Helper()
	h.advance(h.svc.cfg.DeadAfter + time.Second)
	rep, err := h.svc.Ledger.Repair(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return rep
}

// lossyTransport loses the responses of some writes after the emulator applied them, as a
// reset connection does; the SDK then sees an EOF.
type lossyTransport struct {
	base    http.RoundTripper
	mu      sync.Mutex
	rate    float64
	actions map[string]bool
	lost    atomic.Int64
}

func (l *lossyTransport) set(rate float64, actions ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate = rate
	l.actions = map[string]bool{}
	for _, a := range actions {
		l.actions[a] = true
	}
}

func (l *lossyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	l.mu.Lock()
	lose := err == nil && l.actions[strings.TrimPrefix(req.URL.Path, "/")] && mrand.Float64() < l.rate
	l.mu.Unlock()
	if lose {
		resp.Body.Close()
		l.lost.Add(1)
		return nil, io.ErrUnexpectedEOF
	}
	return resp, err
}

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
