package danmaku

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/engagement"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}

// The harness: the real SDKs against the in-process Tablestore emulator and miniredis, real
// tokens, the router behind FC's custom runtime server.
type harness struct {
	t      *testing.T
	eng    *engagement.Service
	svc    *Service
	db     *tablestore.Client
	mr     *miniredis.Miniredis
	srv    *httptest.Server
	signer *auth.Signer
	now    atomic.Int64
}

func newHarness(t *testing.T, tune func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t}
	h.now.Store(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC).UnixMilli())
	emu, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	tcfg := tablestore.Config{Endpoint: "http://ots.local", Instance: "vodfc", Transport: emu.Transport(),
		Credentials: func() (runtime.Credentials, bool) {
			return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
		}}
	if h.db, err = tablestore.New(tcfg); err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.Ensure(context.Background(), tablestore.Schema); err != nil {
		t.Fatal(err)
	}
	h.mr = miniredis.RunT(t)
	h.mr.SetTime(time.UnixMilli(h.now.Load()))
	rdb := redis.New(redis.Config{Addr: h.mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	clock := func() time.Time { return time.UnixMilli(h.now.Load()).UTC() }
	if h.eng, err = engagement.New(engagement.Config{Tablestore: tcfg, Redis: rdb, Log: slog.New(slog.DiscardHandler), Now: clock}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Engagement: h.eng, Log: slog.New(slog.DiscardHandler)}
	if tune != nil {
		tune(&cfg)
	}
	if h.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	h.signer, _ = auth.NewSigner(auth.SignerConfig{Key: key, Issuer: "iss", Audience: "aud"})
	verifier, _ := auth.NewVerifier(auth.VerifierConfig{Keys: map[string]ed25519.PublicKey{h.signer.KeyID(): h.signer.PublicKey()}, Issuer: "iss", Audience: "aud"})
	r := httpapi.NewRouter()
	h.svc.Register(r, verifier)
	h.srv = httptest.NewServer(runtime.NewCustomServer(&runtime.Function{HTTP: r}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) advance(d time.Duration) {
	h.now.Add(d.Milliseconds())
	h.mr.SetTime(time.UnixMilli(h.now.Load()))
	h.mr.FastForward(d)
}

func (h *harness) video(owner string, mod ...func(*vodfc.Video)) string {
	h.t.Helper()
	now := time.UnixMilli(h.now.Load())
	v := &vodfc.Video{ID: vodfc.NewID(), OwnerID: owner, Title: "clip", Visibility: vodfc.Public, Status: vodfc.StatusReady,
		Duration: 10 * time.Minute, CreatedAt: now, UpdatedAt: now, MediaPrefix: "media/x/1/",
		Renditions: []vodfc.Rendition{{Height: 720, Width: 1280, Playlist: "p", Media: "m"}}}
	for _, m := range mod {
		m(v)
	}
	if err := videos.NewStore(h.db).Insert(context.Background(), v); err != nil {
		h.t.Fatal(err)
	}
	return v.ID
}

func (h *harness) token(user string) string {
	tok, _, err := h.signer.IssueAccess(user, vodfc.TierFree, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *harness) call(method, path, user string, body any, hdr ...string) (*http.Response, []byte) {
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
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+h.token(user))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (h *harness) post(user, vid string, body map[string]any) PostAnswer {
	h.t.Helper()
	resp, b := h.call("POST", "/api/v1/videos/"+vid+"/danmaku", user, body)
	var a PostAnswer
	if resp.StatusCode != 201 || json.Unmarshal(b, &a) != nil {
		h.t.Fatalf("post: %d %s", resp.StatusCode, b)
	}
	h.advance(5 * time.Second) // past the cooldown
	return a
}

func (h *harness) problem(status int, code string, resp *http.Response, body []byte) {
	h.t.Helper()
	var p httpapi.Problem
	if resp.StatusCode != status || json.Unmarshal(body, &p) != nil || p.Code != code {
		h.t.Fatalf("got %d %s, want %d %q", resp.StatusCode, body, status, code)
	}
}

func (h *harness) segment(vid string, seg int) SegmentDoc {
	h.t.Helper()
	resp, b := h.call("GET", fmt.Sprintf("/api/v1/videos/%s/danmaku?segment=%d", vid, seg), "", nil)
	var doc SegmentDoc
	if resp.StatusCode != 200 || json.Unmarshal(b, &doc) != nil {
		h.t.Fatalf("segment: %d %s", resp.StatusCode, b)
	}
	return doc
}

func (h *harness) danmakuCount(vid string) int64 {
	row, _, err := videos.NewStore(h.db).ReadCounters(context.Background(), vid)
	if err != nil {
		h.t.Fatal(err)
	}
	return row.Counts.Danmaku
}

func TestPostAndReadSegmentsWithValidators(t *testing.T) {
	h := newHarness(t, nil)
	vid := h.video("owner")
	a := h.post("alice", vid, map[string]any{"time_ms": 5000, "text": "later", "mode": "top", "color": "#FF0000", "size": "large"})
	b := h.post("bob", vid, map[string]any{"time_ms": 1000, "text": "first"})
	h.post("bob", vid, map[string]any{"time_ms": 400000, "text": "segment two"})
	if a.Segment != 1 || a.Sender != h.svc.Sender("alice") || a.Color != "#ff0000" || a.Mode != Top || a.Size != Large {
		t.Fatalf("answer %+v", a)
	}
	resp, body := h.call("GET", "/api/v1/videos/"+vid+"/danmaku?segment=1", "", nil)
	var doc SegmentDoc
	json.Unmarshal(body, &doc)
	if len(doc.Items) != 2 || doc.Items[0].ID != b.ID || doc.Items[1].ID != a.ID || doc.StartMS != 0 || doc.EndMS != SegmentMS {
		t.Fatalf("segment 1: %s", body)
	}
	if strings.Contains(string(body), "alice") || strings.Contains(string(body), "user_id") {
		t.Fatalf("a user id leaked: %s", body)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "public, max-age=10" {
		t.Fatalf("headers %v", resp.Header)
	}
	if resp, _ := h.call("GET", "/api/v1/videos/"+vid+"/danmaku?segment=1", "", nil, "If-None-Match", etag); resp.StatusCode != 304 {
		t.Fatalf("revalidation: %d", resp.StatusCode)
	}
	seg2 := h.segment(vid, 2)
	if len(seg2.Items) != 1 {
		t.Fatalf("segment 2 %+v", seg2)
	}
	// A new post changes its segment's ETag at once; the other segment stays cached.
	h.post("carol", vid, map[string]any{"time_ms": 2000, "text": "third"})
	resp, body = h.call("GET", "/api/v1/videos/"+vid+"/danmaku?segment=1", "", nil, "If-None-Match", etag)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag || strings.Count(string(body), `"id"`) != 3 {
		t.Fatalf("after a post: %d %s", resp.StatusCode, body)
	}
	frag, _ := h.eng.Redis().GetFragment(context.Background(), cacheKey(vid), "seg:2")
	if frag.Value == nil {
		t.Fatal("a post to segment 1 dropped segment 2's cache")
	}
	if got := h.danmakuCount(vid); got != 4 {
		t.Fatalf("counter %d", got)
	}
}

// xmlDoc is what ArtPlayer's Bilibili parser reads.
type xmlDoc struct {
	XMLName  xml.Name `xml:"i"`
	ChatID   string   `xml:"chatid"`
	MaxLimit int      `xml:"maxlimit"`
	D        []struct {
		P    string `xml:"p,attr"`
		Text string `xml:",chardata"`
	} `xml:"d"`
}

func TestXMLHasTheEightFieldPAndEscapesText(t *testing.T) {
	h := newHarness(t, nil)
	vid := h.video("owner")
	nasty := `<script>alert("x")</script> & co`
	h.post("alice", vid, map[string]any{"time_ms": 12345, "text": nasty, "mode": "bottom", "color": "#00ff7f", "size": "small"})
	h.post("bob", vid, map[string]any{"time_ms": 678, "text": "hi"})
	resp, body := h.call("GET", "/api/v1/videos/"+vid+"/danmaku.xml", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	if strings.Contains(string(body), "<script>") || !strings.Contains(string(body), "&lt;script&gt;") || !strings.Contains(string(body), "&amp; co") {
		t.Fatalf("not escaped: %s", body)
	}
	if strings.Contains(string(body), "alice") || strings.Contains(string(body), "bob") {
		t.Fatalf("a user id leaked: %s", body)
	}
	var doc xmlDoc
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	if doc.ChatID != vid || len(doc.D) != 2 || doc.D[1].Text != nasty || doc.D[0].Text != "hi" {
		t.Fatalf("doc %+v", doc)
	}
	p := strings.Split(doc.D[1].P, ",")
	if len(p) != 8 {
		t.Fatalf("p has %d fields: %q", len(p), doc.D[1].P)
	}
	if p[0] != "12.34500" || p[1] != "4" || p[2] != "18" || p[3] != strconv.Itoa(0x00ff7f) || p[5] != "0" || p[6] != h.svc.Sender("alice") {
		t.Fatalf("p %q", p)
	}
	if ctime, _ := strconv.ParseInt(p[4], 10, 64); ctime != time.UnixMilli(h.now.Load()).Add(-10*time.Second).Unix() {
		t.Fatalf("ctime %s", p[4])
	}
	if id, err := strconv.ParseInt(p[7], 10, 64); err != nil || id <= 0 {
		t.Fatalf("dmid %s", p[7])
	}
	if q := strings.Split(doc.D[0].P, ","); q[1] != "1" || q[2] != "25" || q[3] != "16777215" {
		t.Fatalf("defaults %q", q)
	}
}

func TestDPlayerV3Layout(t *testing.T) {
	h := newHarness(t, nil)
	vid := h.video("owner")
	h.post("alice", vid, map[string]any{"time_ms": 1500, "text": "<b>bold</b>", "mode": "top", "color": "#0000ff"})
	// DPlayer's own post: token in the body, colour as a number, type 2 (bottom).
	resp, body := h.call("POST", "/api/v1/dplayer/v3/", "", map[string]any{"token": h.token("bob"), "id": vid, "author": "ignored",
		"time": 2.25, "text": "from dplayer", "color": 16711680, "type": 2})
	var ok struct {
		Code int        `json:"code"`
		Data PostAnswer `json:"data"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &ok) != nil || ok.Code != 0 || ok.Data.TimeMS != 2250 || ok.Data.Color != "#ff0000" || ok.Data.Mode != Bottom {
		t.Fatalf("dplayer post: %d %s", resp.StatusCode, body)
	}
	for _, q := range []string{"max=10", "limit=10", "max=undefined", ""} {
		resp, body = h.call("GET", "/api/v1/dplayer/v3/?id="+vid+"&"+q, "", nil)
		var got struct {
			Code int                 `json:"code"`
			Data [][]json.RawMessage `json:"data"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &got) != nil || got.Code != 0 || len(got.Data) != 2 {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, body)
		}
		row := got.Data[0]
		var tm float64
		var typ, color int
		var author, text string
		if len(row) != 5 || json.Unmarshal(row[0], &tm) != nil || json.Unmarshal(row[1], &typ) != nil || json.Unmarshal(row[2], &color) != nil ||
			json.Unmarshal(row[3], &author) != nil || json.Unmarshal(row[4], &text) != nil {
			t.Fatalf("row layout %s", body)
		}
		if tm != 1.5 || typ != 1 || color != 0x0000ff || author != h.svc.Sender("alice") || text != "&lt;b&gt;bold&lt;/b&gt;" {
			t.Fatalf("row %v %v %v %q %q", tm, typ, color, author, text)
		}
		if strings.Contains(string(body), "alice") || strings.Contains(string(body), "bob") {
			t.Fatalf("a user id leaked: %s", body)
		}
	}
	resp, body = h.call("GET", "/api/v1/dplayer/v3/?id="+vid+"&max=1", "", nil)
	if !strings.Contains(string(body), "from dplayer") || strings.Contains(string(body), "bold") {
		t.Fatalf("max=1 keeps the newest: %s", body)
	}
	t.Run("a post without a token is code 1 with 401", func(t *testing.T) {
		resp, body := h.call("POST", "/api/v1/dplayer/v3/", "", map[string]any{"id": vid, "time": 1, "text": "x", "color": 1, "type": 0})
		var e struct {
			Code   int    `json:"code"`
			Msg    string `json:"msg"`
			Reason string `json:"reason"`
		}
		if resp.StatusCode != 401 || json.Unmarshal(body, &e) != nil || e.Code != 1 || e.Msg == "" || e.Reason != "authentication_required" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("a bad type is code 1 invalid_mode", func(t *testing.T) {
		resp, body := h.call("POST", "/api/v1/dplayer/v3/", "", map[string]any{"token": h.token("carol"), "id": vid, "time": 1, "text": "x", "type": 7})
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"reason":"invalid_mode"`) {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("a bad max is code 1 invalid_max", func(t *testing.T) {
		resp, body := h.call("GET", "/api/v1/dplayer/v3/?id="+vid+"&max=-3", "", nil)
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"code":1`) {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("a private video is code 1 video_not_found", func(t *testing.T) {
		resp, body := h.call("GET", "/api/v1/dplayer/v3/?id="+h.video("owner", func(v *vodfc.Video) { v.Visibility = vodfc.Private }), "", nil)
		if resp.StatusCode != 404 || !strings.Contains(string(body), `"reason":"video_not_found"`) {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
}

func TestHeatmapSumsToTheDanmakuCount(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Cooldown = time.Millisecond })
	vid := h.video("owner")
	times := []int{0, 9999, 10000, 59000, 599999, 30000, 30001}
	for i, ms := range times {
		h.post(fmt.Sprintf("u%d", i), vid, map[string]any{"time_ms": ms, "text": "x"})
	}
	// One more, hidden by reports: in neither the heatmap nor the count.
	spam := h.post("troll", vid, map[string]any{"time_ms": 20000, "text": "spam"})
	for _, u := range []string{"r1", "r2", "r3", "r4", "r5"} {
		if resp, b := h.call("POST", "/api/v1/danmaku/"+spam.ID+"/report", u, nil); resp.StatusCode != 202 {
			t.Fatalf("report: %d %s", resp.StatusCode, b)
		}
	}
	resp, body := h.call("GET", "/api/v1/videos/"+vid+"/danmaku/heatmap?bucket_s=10", "", nil)
	var pts []HeatPoint
	if resp.StatusCode != 200 || json.Unmarshal(body, &pts) != nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var sum int64
	for i, p := range pts {
		sum += p.Value
		if p.Time != int64(i*10) {
			t.Fatalf("point %d at %d s", i, p.Time)
		}
	}
	if len(pts) != 60 || sum != int64(len(times)) || sum != h.danmakuCount(vid) || pts[0].Value != 2 || pts[1].Value != 1 || pts[3].Value != 2 || pts[59].Value != 1 {
		t.Fatalf("%d points, sum %d, counter %d: %s", len(pts), sum, h.danmakuCount(vid), body)
	}
	// A recount (rollup's drift repair) agrees with the outputs.
	if err := h.eng.Ledger.Flag(context.Background(), "test", engagement.Counter{Kind: engagement.VideoDanmaku, Ref: vid}); err != nil {
		t.Fatal(err)
	}
	if rep, err := h.eng.Ledger.Repair(context.Background()); err != nil || rep.Recounted != 1 || rep.Corrected != 0 {
		t.Fatalf("recount: %+v %v", rep, err)
	}
}

func TestDanmakuRules(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DailyQuota = 3 })
	vid := h.video("owner")
	post := func(user, v string, body map[string]any) (*http.Response, []byte) {
		return h.call("POST", "/api/v1/videos/"+v+"/danmaku", user, body)
	}
	cases := []struct {
		name, code string
		status     int
		body       map[string]any
	}{
		{"blank text is danmaku_text_empty", "danmaku_text_empty", 400, map[string]any{"time_ms": 1, "text": " \x01\u202e "}},
		{"101 characters is danmaku_text_too_long", "danmaku_text_too_long", 400, map[string]any{"time_ms": 1, "text": strings.Repeat("弹", 101)}},
		{"an unknown mode is invalid_mode", "invalid_mode", 400, map[string]any{"time_ms": 1, "text": "x", "mode": "left"}},
		{"a named colour is invalid_color", "invalid_color", 400, map[string]any{"time_ms": 1, "text": "x", "color": "red"}},
		{"a short colour is invalid_color", "invalid_color", 400, map[string]any{"time_ms": 1, "text": "x", "color": "#fff"}},
		{"an unknown size is invalid_size", "invalid_size", 400, map[string]any{"time_ms": 1, "text": "x", "size": "huge"}},
		{"a negative time is time_out_of_range", "time_out_of_range", 400, map[string]any{"time_ms": -1, "text": "x"}},
		{"a time at the end is time_out_of_range", "time_out_of_range", 400, map[string]any{"time_ms": 600000, "text": "x"}},
		{"no time is time_out_of_range", "time_out_of_range", 400, map[string]any{"text": "x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := post("alice", vid, c.body)
			h.problem(c.status, c.code, resp, b)
		})
	}
	t.Run("control characters are stripped", func(t *testing.T) {
		a := h.post("zed", vid, map[string]any{"time_ms": 1, "text": "\x00he\x1bllo\n\u202e!"})
		if a.Text != "hello!" {
			t.Fatalf("text %q", a.Text)
		}
	})
	t.Run("100 characters pass", func(t *testing.T) {
		h.post("yan", vid, map[string]any{"time_ms": 1, "text": strings.Repeat("弹", 100)})
	})
	t.Run("without a token is 401", func(t *testing.T) {
		resp, b := post("", vid, map[string]any{"time_ms": 1, "text": "x"})
		h.problem(401, "authentication_required", resp, b)
	})
	t.Run("a private video is video_not_found to strangers", func(t *testing.T) {
		priv := h.video("owner", func(v *vodfc.Video) { v.Visibility = vodfc.Private })
		resp, b := post("alice", priv, map[string]any{"time_ms": 1, "text": "x"})
		h.problem(404, "video_not_found", resp, b)
		resp, b = h.call("GET", "/api/v1/videos/"+priv+"/danmaku.xml", "alice", nil)
		h.problem(404, "video_not_found", resp, b)
		if resp, _ := h.call("GET", "/api/v1/videos/"+priv+"/danmaku", "owner", nil); resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "private, max-age=10" {
			t.Fatalf("owner: %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("an unknown video is video_not_found", func(t *testing.T) {
		resp, b := h.call("GET", "/api/v1/videos/0000000000000000/danmaku", "", nil)
		h.problem(404, "video_not_found", resp, b)
	})
	t.Run("an unpublished video is video_not_ready", func(t *testing.T) {
		proc := h.video("owner", func(v *vodfc.Video) { v.Status = vodfc.StatusProcessing })
		resp, b := post("owner", proc, map[string]any{"time_ms": 1, "text": "x"})
		h.problem(409, "video_not_ready", resp, b)
	})
	t.Run("a second danmaku within 5 s is danmaku_cooldown with Retry-After", func(t *testing.T) {
		if resp, b := post("bob", vid, map[string]any{"time_ms": 1, "text": "one"}); resp.StatusCode != 201 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		h.advance(2 * time.Second)
		resp, b := post("bob", vid, map[string]any{"time_ms": 1, "text": "two"})
		h.problem(429, "danmaku_cooldown", resp, b)
		if ra := resp.Header.Get("Retry-After"); ra != "3" {
			t.Fatalf("Retry-After %q", ra)
		}
	})
	t.Run("past the daily quota is danmaku_quota_exceeded", func(t *testing.T) {
		for i := range 3 {
			h.post("carol", vid, map[string]any{"time_ms": i, "text": "q"})
		}
		resp, b := post("carol", vid, map[string]any{"time_ms": 9, "text": "q"})
		h.problem(429, "danmaku_quota_exceeded", resp, b)
		if resp.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	})
	t.Run("segment 0 is invalid_segment", func(t *testing.T) {
		resp, b := h.call("GET", "/api/v1/videos/"+vid+"/danmaku?segment=0", "", nil)
		h.problem(400, "invalid_segment", resp, b)
		resp, b = h.call("GET", "/api/v1/videos/"+vid+"/danmaku?segment=3", "", nil) // a 10-minute video has 2
		h.problem(400, "invalid_segment", resp, b)
		resp, b = h.call("GET", "/api/v1/videos/"+vid+"/danmaku?segment=x", "", nil)
		h.problem(400, "invalid_segment", resp, b)
	})
	t.Run("a zero bucket is invalid_bucket", func(t *testing.T) {
		resp, b := h.call("GET", "/api/v1/videos/"+vid+"/danmaku/heatmap?bucket_s=0", "", nil)
		h.problem(400, "invalid_bucket", resp, b)
	})
}

func TestRecallWithinTwoMinutes(t *testing.T) {
	h := newHarness(t, nil)
	vid := h.video("owner")
	a := h.post("alice", vid, map[string]any{"time_ms": 100, "text": "oops"})
	old := h.post("alice", vid, map[string]any{"time_ms": 200, "text": "keep"})
	t.Run("someone else's is not_danmaku_sender", func(t *testing.T) {
		resp, b := h.call("DELETE", "/api/v1/danmaku/"+a.ID, "bob", nil)
		h.problem(403, "not_danmaku_sender", resp, b)
	})
	t.Run("someone else's on a private video is danmaku_not_found", func(t *testing.T) {
		// A 403 would confirm to a stranger that the hidden video carries this danmaku.
		hidden := h.video("owner", func(v *vodfc.Video) { v.Visibility = vodfc.Private })
		d := h.post("owner", hidden, map[string]any{"time_ms": 100, "text": "private note"})
		resp, b := h.call("DELETE", "/api/v1/danmaku/"+d.ID, "bob", nil)
		h.problem(404, "danmaku_not_found", resp, b)
	})
	t.Run("an unknown id is danmaku_not_found", func(t *testing.T) {
		resp, b := h.call("DELETE", "/api/v1/danmaku/12345", "alice", nil)
		h.problem(404, "danmaku_not_found", resp, b)
		resp, b = h.call("DELETE", "/api/v1/danmaku/abc", "alice", nil)
		h.problem(404, "danmaku_not_found", resp, b)
	})
	if resp, b := h.call("DELETE", "/api/v1/danmaku/"+a.ID, "alice", nil); resp.StatusCode != 204 {
		t.Fatalf("recall: %d %s", resp.StatusCode, b)
	}
	if resp, _ := h.call("DELETE", "/api/v1/danmaku/"+a.ID, "alice", nil); resp.StatusCode != 204 {
		t.Fatal("a second recall is not idempotent")
	}
	if doc := h.segment(vid, 1); len(doc.Items) != 1 || doc.Items[0].ID != old.ID || h.danmakuCount(vid) != 1 {
		t.Fatalf("after recall: %+v, counter %d", doc.Items, h.danmakuCount(vid))
	}
	t.Run("after two minutes is recall_window_passed", func(t *testing.T) {
		h.advance(2 * time.Minute)
		resp, b := h.call("DELETE", "/api/v1/danmaku/"+old.ID, "alice", nil)
		h.problem(409, "recall_window_passed", resp, b)
	})
}

func TestReportsHideADanmaku(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.HideAfterReports = 3 })
	vid := h.video("owner")
	a := h.post("troll", vid, map[string]any{"time_ms": 100, "text": "spam"})
	for i, u := range []string{"u1", "u1", "u2", "u3"} {
		if resp, b := h.call("POST", "/api/v1/danmaku/"+a.ID+"/report", u, map[string]string{"reason": "spam"}); resp.StatusCode != 202 {
			t.Fatalf("report %d: %d %s", i, resp.StatusCode, b)
		}
		wantShown := i < 3
		if got := len(h.segment(vid, 1).Items) == 1; got != wantShown {
			t.Fatalf("after report %d: shown %v", i, got)
		}
	}
	resp, b := h.call("POST", "/api/v1/danmaku/"+a.ID+"/report", "u9", map[string]string{"reason": strings.Repeat("r", 201)})
	h.problem(400, "invalid_reason", resp, b)
	t.Run("an unknown danmaku is danmaku_not_found", func(t *testing.T) {
		resp, b := h.call("POST", "/api/v1/danmaku/12345/report", "u9", nil)
		h.problem(404, "danmaku_not_found", resp, b)
	})
	t.Run("a danmaku of a private video is danmaku_not_found to strangers", func(t *testing.T) {
		priv := h.video("owner", func(v *vodfc.Video) { v.Visibility = vodfc.Private })
		d := h.post("owner", priv, map[string]any{"time_ms": 100, "text": "mine"})
		resp, b := h.call("POST", "/api/v1/danmaku/"+d.ID+"/report", "u9", nil)
		h.problem(404, "danmaku_not_found", resp, b)
	})
	// A hidden danmaku leaves the video's count with the outputs, once, and its sender's
	// recall then moves the count no further.
	if got := h.danmakuCount(vid); got != 0 {
		t.Fatalf("counter %d after hiding the only danmaku", got)
	}
	if resp, b := h.call("DELETE", "/api/v1/danmaku/"+a.ID, "troll", nil); resp.StatusCode != 204 {
		t.Fatalf("recalling a hidden danmaku: %d %s", resp.StatusCode, b)
	}
	if got := h.danmakuCount(vid); got != 0 {
		t.Fatalf("counter %d after recalling a hidden danmaku", got)
	}
	if rep, err := h.eng.Ledger.Repair(context.Background()); err != nil || rep.Intents != 0 {
		t.Fatalf("intents left: %+v %v", rep, err)
	}
}

func TestConcurrentPostsToOneSegmentAppearOnceInEveryFormat(t *testing.T) {
	h := newHarness(t, nil)
	vid := h.video("owner")
	var wg sync.WaitGroup
	ids := make([]string, 40)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := h.svc.Post(context.Background(), fmt.Sprintf("user%02d", i), vid, Input{TimeMS: ptr(int64(i * 1000)), Text: fmt.Sprintf("dm %d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = strconv.FormatInt(d.ID, 10)
			// Readers racing the posts must never leave a stale output cached.
			_, _, _ = h.svc.SegmentJSON(context.Background(), "", vid, 1)
			_, _, _ = h.svc.XML(context.Background(), "", vid)
		}()
	}
	wg.Wait()
	checkEveryFormat(t, h, vid, ids)
}

func ptr[T any](v T) *T { return &v }

// checkEveryFormat asserts that the JSON segment, the XML and DPlayer's list hold exactly ids.
func checkEveryFormat(t *testing.T, h *harness, vid string, ids []string) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	same := func(name string, got []string) {
		t.Helper()
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] || !want[id] {
				t.Fatalf("%s: duplicate or unknown id %s", name, id)
			}
			seen[id] = true
		}
		if len(seen) != len(want) {
			t.Fatalf("%s: %d ids, want %d", name, len(seen), len(want))
		}
	}
	var jsonIDs []string
	for _, it := range h.segment(vid, 1).Items {
		jsonIDs = append(jsonIDs, it.ID)
	}
	same("json", jsonIDs)
	_, body := h.call("GET", "/api/v1/videos/"+vid+"/danmaku.xml", "", nil)
	var doc xmlDoc
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	var xmlIDs []string
	for _, d := range doc.D {
		p := strings.Split(d.P, ",")
		xmlIDs = append(xmlIDs, p[7])
	}
	same("xml", xmlIDs)
	_, body = h.call("GET", "/api/v1/dplayer/v3/?id="+vid+"&max=1000", "", nil)
	var dp struct{ Data [][5]any }
	json.Unmarshal(body, &dp)
	if len(dp.Data) != len(ids) {
		t.Fatalf("dplayer: %d rows, want %d", len(dp.Data), len(ids))
	}
	if got := h.danmakuCount(vid); got != int64(len(ids)) {
		t.Fatalf("counter %d, want %d", got, len(ids))
	}
}

func TestLocalCacheRefusesARenderOlderThanAChange(t *testing.T) {
	var c localCache
	later := time.Now().Add(time.Minute)
	_, ok, tok := c.get("v", "seg:1")
	if ok {
		t.Fatal("hit in an empty cache")
	}
	c.drop("v") // a post lands while the render runs
	c.put("v", "seg:1", rendered{etag: "old"}, tok, later)
	if _, ok, _ := c.get("v", "seg:1"); ok {
		t.Fatal("a render older than the change was cached")
	}
	_, _, tok = c.get("v", "seg:1")
	c.put("v", "seg:1", rendered{etag: "new"}, tok, later)
	if out, ok, _ := c.get("v", "seg:1"); !ok || out.etag != "new" {
		t.Fatalf("a fresh render was refused: %v %v", out, ok)
	}
	// Filling the cache starts it over and refuses renders from before.
	_, _, tok = c.get("w", "xml")
	for i := range maxLocalEntries {
		c.drop(fmt.Sprint("x", i))
	}
	c.put("w", "xml", rendered{etag: "stale"}, tok, later)
	if _, ok, _ := c.get("w", "xml"); ok {
		t.Fatal("a render from before the cache started over was kept")
	}
	if c.n > maxLocalEntries {
		t.Fatalf("%d records", c.n)
	}
}

// TestDanmakuWritesWithoutATokenAre401: posting, recalling and reporting need a signed-in user.
func TestDanmakuWritesWithoutATokenAre401(t *testing.T) {
	h := newHarness(t, nil)
	vid := h.video("owner")
	a := h.post("alice", vid, map[string]any{"time_ms": 100, "text": "mine"})
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/v1/videos/" + vid + "/danmaku"},
		{"DELETE", "/api/v1/danmaku/" + a.ID},
		{"POST", "/api/v1/danmaku/" + a.ID + "/report"},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			resp, b := h.call(r.method, r.path, "", map[string]any{"time_ms": 1, "text": "x", "reason": "spam"})
			h.problem(401, "authentication_required", resp, b)
		})
	}
	if doc := h.segment(vid, 1); len(doc.Items) != 1 || doc.Items[0].ID != a.ID || h.danmakuCount(vid) != 1 {
		t.Fatalf("an anonymous request changed the danmaku: %+v, counter %d", doc.Items, h.danmakuCount(vid))
	}
}

// With a key, the sender hash cannot be had by hashing known user ids (they are public), yet
// stays the same for one user, so players can still group or block a sender.
func TestKeyedSenderHashesCannotBeLinkedToUserIDs(t *testing.T) {
	key := []byte("a sender key of thirty-two bytes")
	h := newHarness(t, func(c *Config) { c.SenderKey = key })
	vid := h.video("owner")
	h.post("alice", vid, map[string]any{"time_ms": 1000, "text": "one"})
	h.post("alice", vid, map[string]any{"time_ms": 2000, "text": "two"})
	_, body := h.call("GET", "/api/v1/videos/"+vid+"/danmaku.xml", "", nil)
	var doc xmlDoc
	if err := xml.Unmarshal(body, &doc); err != nil || len(doc.D) != 2 {
		t.Fatalf("%v %s", err, body)
	}
	senders := map[string]bool{}
	for _, d := range doc.D {
		senders[strings.Split(d.P, ",")[6]] = true
	}
	bare := fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte("alice")))
	if len(senders) != 1 || senders[bare] || !senders[h.svc.Sender("alice")] || len(h.svc.Sender("alice")) != 8 {
		t.Fatalf("senders %v (the bare CRC32 is %s)", senders, bare)
	}
	other := newHarness(t, func(c *Config) { c.SenderKey = []byte("another key, also thirty-two b..") })
	if other.svc.Sender("alice") == h.svc.Sender("alice") {
		t.Fatal("two keys give one hash")
	}
}
