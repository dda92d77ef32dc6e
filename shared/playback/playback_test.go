package playback_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"vodfc.dev/local/ossemu"
	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/ffmpeg/hls"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/playback"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// Playback is tested against the Tablestore and OSS emulators through the real SDKs, with its
// routes on a real HTTP server; the signed media URLs are fetched from the OSS emulator.

var (
	store  *videos.Store
	media  *oss.Store
	tokens *playback.Tokens
	svc    *playback.Service
	api    *httptest.Server
)

// verifier accepts "Bearer user:ID:TIER" so tests can act as anyone; the real verifier is
// shared/auth's, tested there.
type verifier struct{}

func (verifier) VerifyAccessToken(tok string) (vodfc.Principal, error) {
	f := strings.Split(tok, ":")
	if len(f) != 3 || f[0] != "user" {
		return vodfc.Principal{}, vodfc.Unauthorized("invalid_token", "bad token")
	}
	return vodfc.Principal{UserID: f[1], Tier: vodfc.Tier(f[2])}, nil
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	creds := func() (runtime.Credentials, bool) {
		return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
	}
	ots, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ots.Close()
	db, _ := tablestore.New(tablestore.Config{Endpoint: "http://ots.local", Instance: "vodfc", Transport: ots.Transport(), Credentials: creds})
	if _, err := db.Ensure(context.Background(), tablestore.Schema); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, _ := os.MkdirTemp("", "playback-test-")
	defer os.RemoveAll(dir)
	emu, err := ossemu.Open(ossemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", DataDir: dir, Buckets: []string{"media"}, NoSync: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer emu.Close()
	ossSrv := httptest.NewServer(emu)
	defer ossSrv.Close()
	media, _ = oss.New(oss.Config{Endpoint: ossSrv.URL, Bucket: "media", Region: "cn-hangzhou", Credentials: creds})
	store = videos.NewStore(db)
	tokens, _ = playback.NewTokens(bytes.Repeat([]byte{7}, 32))
	svc = playback.New(store, media, tokens, playback.OSSSigner{Store: media}, playback.DefaultConfig())
	r := httpapi.NewRouter()
	svc.Register(r, verifier{})
	api = httptest.NewServer(r)
	defer api.Close()
	return m.Run()
}

// ladder publishes a ready video whose renditions have real stored playlists and media files
// (a few bytes standing in for fMP4), and returns it.
func ladder(t *testing.T, owner string, vis vodfc.Visibility, sizes ...[2]int) *vodfc.Video {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	v := &vodfc.Video{ID: vodfc.NewID(), OwnerID: owner, Title: "t", Visibility: vis, Status: vodfc.StatusAwaitingUpload, CreatedAt: now, UpdatedAt: now}
	if err := store.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	attempt := vodfc.NewSortableID(now)
	pre := vodfc.VideoMediaPrefix(v.ID, attempt)
	if err := store.ClaimProcessing(ctx, v.ID, videos.Claim{Attempt: attempt, Request: "r", At: now}); err != nil {
		t.Fatal(err)
	}
	var rs []vodfc.Rendition
	for i, wh := range sizes {
		name := fmt.Sprintf("%dp", min(wh[0], wh[1]))
		body := bytes.Repeat([]byte(name), 100) // 400-500 bytes
		put(t, pre+name+".mp4", body)
		pl := &hls.Media{TargetDuration: 4, PlaylistType: "VOD", IndependentSegments: true, EndList: true,
			Map: &hls.Map{URI: name + ".mp4", ByteRange: &hls.ByteRange{Length: 10, Offset: 0}},
			Segments: []hls.Segment{
				{Duration: 4 * time.Second, URI: name + ".mp4", ByteRange: &hls.ByteRange{Length: 100, Offset: 10}},
				{Duration: 2 * time.Second, URI: name + ".mp4", ByteRange: &hls.ByteRange{Length: 50, Offset: 110}},
			}}
		b, err := pl.Encode()
		if err != nil {
			t.Fatal(err)
		}
		put(t, pre+name+".m3u8", b)
		rs = append(rs, vodfc.Rendition{Width: wh[0], Height: wh[1], Bandwidth: 6_000_000 / (i + 1), AvgBandwidth: 5_000_000 / (i + 1),
			Codecs: "avc1.64001f,mp4a.40.2", FrameRate: 30, Playlist: pre + name + ".m3u8", Media: pre + name + ".mp4", Size: int64(len(body))})
	}
	put(t, pre+"storyboard-0.jpg", []byte("\xff\xd8sprite"))
	put(t, pre+"storyboard.vtt", []byte("WEBVTT\n\n00:00:00.000 --> 00:00:05.000\nstoryboard-0.jpg#xywh=0,0,160,90\n"))
	err := store.Publish(ctx, v.ID, attempt, videos.Published{Duration: 6 * time.Second, Width: sizes[0][0], Height: sizes[0][1],
		Renditions: rs, MediaPrefix: pre, StoryboardVTT: pre + "storyboard.vtt", StoryboardKey: pre + "storyboard-0.jpg"}, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func put(t *testing.T, key string, b []byte) {
	t.Helper()
	if err := media.Put(context.Background(), key, bytes.NewReader(b), oss.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) code() string {
	var p struct{ Code string }
	json.Unmarshal(r.body, &p)
	return p.Code
}

func get(t *testing.T, u, bearer string, header ...string) reply {
	t.Helper()
	if strings.HasPrefix(u, "/") {
		u = api.URL + u
	}
	req, _ := http.NewRequest("GET", u, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}
}

func as(id string, tier vodfc.Tier) string { return "user:" + id + ":" + string(tier) }

type playReply struct {
	MasterURL   string    `json:"master_url"`
	ExpiresAt   time.Time `json:"expires_at"`
	Renditions  []struct{ Name string }
	MembersOnly []struct{ Name string } `json:"members_only"`
	Unavailable []struct{ Name string }
	Storyboard  string `json:"storyboard_url"`
}

func play(t *testing.T, id, bearer string) playReply {
	t.Helper()
	r := get(t, "/api/v1/videos/"+id+"/play", bearer)
	if r.status != http.StatusOK {
		t.Fatalf("play: %d %s", r.status, r.body)
	}
	var p playReply
	json.Unmarshal(r.body, &p)
	return p
}

func names(rs []struct{ Name string }) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return strings.Join(out, ",")
}

func master(t *testing.T, u string) (*hls.Master, *url.URL) {
	t.Helper()
	r := get(t, u, "")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Fatalf("master: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	m, err := hls.ParseMaster(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("%v\n%s", err, r.body)
	}
	base, _ := url.Parse(u)
	return m, base
}

func resolve(base *url.URL, ref string) string {
	u, _ := url.Parse(ref)
	return base.ResolveReference(u).String()
}

var full = [][2]int{{1920, 1080}, {1280, 720}, {854, 480}, {640, 360}}

func TestPlayListsOnlyWhatTheTierIncludes(t *testing.T) {
	owner := vodfc.NewID()
	v := ladder(t, owner, vodfc.Public, full...)

	free := play(t, v.ID, "")
	if names(free.Renditions) != "720p,480p,360p" || names(free.MembersOnly) != "1080p" {
		t.Fatalf("anonymous: %s / members only %s", names(free.Renditions), names(free.MembersOnly))
	}
	if ttl := time.Until(free.ExpiresAt); ttl <= 9*time.Minute || ttl > 10*time.Minute {
		t.Fatalf("master URL lives %s", ttl)
	}
	m, base := master(t, free.MasterURL)
	if len(m.Variants) != 3 || m.Variants[0].Height != 720 || !m.IndependentSegments {
		t.Fatalf("free master %+v", m)
	}
	for _, vr := range m.Variants {
		if vr.Height > 720 || vr.Bandwidth == 0 || vr.AverageBandwidth == 0 || len(vr.Codecs) != 2 || vr.FrameRate != 30 {
			t.Fatalf("free variant %+v", vr)
		}
	}
	// The free session token cannot fetch the member rung.
	u := strings.Replace(resolve(base, m.Variants[0].URI), "/720p.m3u8", "/1080p.m3u8", 1)
	if r := get(t, u, ""); r.status != http.StatusForbidden || r.code() != "members_only" {
		t.Fatalf("free 1080p: %d %s", r.status, r.body)
	}

	member := play(t, v.ID, as(vodfc.NewID(), vodfc.TierMember))
	if names(member.Renditions) != "720p,1080p,480p,360p" || len(member.MembersOnly) != 0 {
		t.Fatalf("member: %s", names(member.Renditions))
	}
	m, base = master(t, member.MasterURL)
	if len(m.Variants) != 4 {
		t.Fatalf("member master %+v", m)
	}
	if r := get(t, resolve(base, m.Variants[1].URI), ""); r.status != http.StatusOK {
		t.Fatalf("member 1080p: %d %s", r.status, r.body)
	}
}

func TestVariantPlaylistsCarrySignedByteRanges(t *testing.T) {
	v := ladder(t, vodfc.NewID(), vodfc.Public, [2]int{640, 360})
	m, base := master(t, play(t, v.ID, "").MasterURL)
	r := get(t, resolve(base, m.Variants[0].URI), "")
	if r.status != http.StatusOK {
		t.Fatalf("variant: %d %s", r.status, r.body)
	}
	pl, err := hls.ParseMedia(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Segments) != 2 || pl.Map.ByteRange.Length != 10 || pl.Segments[1].ByteRange.Offset != 110 {
		t.Fatalf("rewritten playlist lost its ranges: %s", r.body)
	}
	signed := pl.Segments[0].URI
	if signed != pl.Map.URI || signed != pl.Segments[1].URI || !strings.Contains(signed, "x-oss-signature=") {
		t.Fatalf("media URIs are not one signed URL: %s", r.body)
	}
	// A player's ranged GET of a segment gets exactly its bytes.
	seg := get(t, signed, "", "Range", pl.Segments[0].ByteRange.HTTPRange())
	if want := bytes.Repeat([]byte("360p"), 100)[10:110]; seg.status != http.StatusPartialContent || !bytes.Equal(seg.body, want) {
		t.Fatalf("segment: %d %q", seg.status, seg.body)
	}
	// Unsigned, the same object is private.
	u, _ := url.Parse(signed)
	u.RawQuery = ""
	if r := get(t, u.String(), ""); r.status != http.StatusForbidden {
		t.Fatalf("unsigned media URL: %d", r.status)
	}
}

func TestBadTokensAreForbidden(t *testing.T) {
	v := ladder(t, vodfc.NewID(), vodfc.Public, [2]int{640, 360})
	p := play(t, v.ID, "")
	tok := p.MasterURL[strings.Index(p.MasterURL, "token=")+len("token="):]
	cases := map[string]string{
		"missing":  "",
		"garbage":  "not-a-token",
		"tampered": "A" + tok[1:],
		"expired":  tokens.Sign(playback.Token{Video: v.ID, Tier: vodfc.TierFree, Expires: time.Now().Add(-time.Minute)}),
		"other":    tokens.Sign(playback.Token{Video: vodfc.NewID(), Tier: vodfc.TierFree, Expires: time.Now().Add(time.Minute)}),
		"foreign":  mustTokens(bytes.Repeat([]byte{8}, 32)).Sign(playback.Token{Video: v.ID, Tier: vodfc.TierMember, Expires: time.Now().Add(time.Minute)}),
	}
	for name, bad := range cases {
		for _, file := range []string{"master.m3u8", "360p.m3u8"} {
			r := get(t, "/api/v1/play/"+v.ID+"/"+file+"?token="+url.QueryEscape(bad), "")
			want := playback.CodeInvalidToken
			if name == "expired" {
				want = playback.CodeTokenExpired
			}
			if r.status != http.StatusForbidden || r.code() != want {
				t.Errorf("%s token on %s: %d %s", name, file, r.status, r.body)
			}
		}
	}
}

func mustTokens(key []byte) *playback.Tokens {
	t, err := playback.NewTokens(key)
	if err != nil {
		panic(err)
	}
	return t
}

func TestVisibilityAndDeletionApplyToIssuedTokens(t *testing.T) {
	owner := vodfc.NewID()
	v := ladder(t, owner, vodfc.Private, [2]int{640, 360})
	if r := get(t, "/api/v1/videos/"+v.ID+"/play", ""); r.status != http.StatusNotFound {
		t.Fatalf("anonymous plays a private video: %d", r.status)
	}
	if r := get(t, "/api/v1/videos/"+v.ID+"/play", as(vodfc.NewID(), vodfc.TierMember)); r.status != http.StatusNotFound {
		t.Fatalf("a stranger plays a private video: %d", r.status)
	}
	p := play(t, v.ID, as(owner, vodfc.TierFree))
	master(t, p.MasterURL) // the owner plays it
	// Made private after a stranger got a token (it was unlisted): the token stops working.
	ctx := context.Background()
	unlisted := vodfc.Unlisted
	if err := store.Update(ctx, v.ID, owner, videos.Edit{Visibility: &unlisted}, time.Now()); err != nil {
		t.Fatal(err)
	}
	stranger := play(t, v.ID, "")
	private := vodfc.Private
	if err := store.Update(ctx, v.ID, owner, videos.Edit{Visibility: &private}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := get(t, stranger.MasterURL, ""); r.status != http.StatusNotFound {
		t.Fatalf("a token issued before the video went private: %d", r.status)
	}
	// Deleted: not even the owner's token plays it.
	if err := store.SoftDelete(ctx, v, time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := get(t, p.MasterURL, ""); r.status != http.StatusNotFound {
		t.Fatalf("a deleted video's master: %d", r.status)
	}
	if r := get(t, "/api/v1/videos/"+v.ID+"/play", as(owner, vodfc.TierFree)); r.status != http.StatusNotFound {
		t.Fatalf("the owner plays a deleted video: %d", r.status)
	}
}

func TestArchivedRenditionsAreLeftOutOfTheMaster(t *testing.T) {
	v := ladder(t, vodfc.NewID(), vodfc.Public, full...)
	local := playback.New(store, media, tokens, playback.OSSSigner{Store: media}, playback.DefaultConfig())
	local.SetAvailability(func(_ context.Context, got *vodfc.Video) ([]playback.Availability, error) {
		out := make([]playback.Availability, len(got.Renditions))
		out[0], out[1] = playback.Archived, playback.Restoring // 1080p, 720p
		return out, nil
	})
	r := httpapi.NewRouter()
	local.Register(r, verifier{})
	srv := httptest.NewServer(r)
	defer srv.Close()
	resp := get(t, srv.URL+"/api/v1/videos/"+v.ID+"/play", as(vodfc.NewID(), vodfc.TierMember))
	var p playReply
	json.Unmarshal(resp.body, &p)
	if names(p.Renditions) != "480p,360p" || names(p.Unavailable) != "1080p,720p" {
		t.Fatalf("playable %s, unavailable %s", names(p.Renditions), names(p.Unavailable))
	}
	m, base := master(t, p.MasterURL)
	if len(m.Variants) != 2 {
		t.Fatalf("master %+v", m)
	}
	u := strings.Replace(resolve(base, m.Variants[0].URI), "/480p.m3u8", "/720p.m3u8", 1)
	if r := get(t, u, ""); r.status != http.StatusServiceUnavailable || r.code() != "rendition_unavailable" {
		t.Fatalf("a restoring rendition: %d %s", r.status, r.body)
	}
}

func TestAskingToPlayRestoresOnlyTheArchivedRenditionsTheViewerMayWatch(t *testing.T) {
	v := ladder(t, vodfc.NewID(), vodfc.Public, full...)
	local := playback.New(store, media, tokens, playback.OSSSigner{Store: media}, playback.DefaultConfig())
	// 1080p (members only for this viewer) and 720p are archived; 480p is being restored.
	local.SetAvailability(func(_ context.Context, got *vodfc.Video) ([]playback.Availability, error) {
		out := make([]playback.Availability, len(got.Renditions))
		out[0], out[1], out[2] = playback.Archived, playback.Archived, playback.Restoring
		return out, nil
	})
	var asked [][]int
	local.SetRestore(func(_ context.Context, got *vodfc.Video, idx []int) ([]playback.Availability, error) {
		asked = append(asked, idx)
		out := make([]playback.Availability, len(idx))
		for i := range out {
			out[i] = playback.Restoring
		}
		return out, nil
	})
	r := httpapi.NewRouter()
	local.Register(r, verifier{})
	srv := httptest.NewServer(r)
	defer srv.Close()
	resp := get(t, srv.URL+"/api/v1/videos/"+v.ID+"/play", as(vodfc.NewID(), vodfc.TierFree))
	var p struct {
		playReply
		Restoring []struct{ Name string }
	}
	json.Unmarshal(resp.body, &p)
	if len(asked) != 1 || len(asked[0]) != 1 || asked[0][0] != 1 {
		t.Fatalf("restores asked for %v, want [[1]] (720p only)", asked)
	}
	if names(p.Renditions) != "360p" || names(p.Restoring) != "720p,480p" || names(p.MembersOnly) != "1080p" {
		t.Fatalf("playable %s, restoring %s, members only %s", names(p.Renditions), names(p.Restoring), names(p.MembersOnly))
	}
}

func TestStoryboardSpritesAreSigned(t *testing.T) {
	v := ladder(t, vodfc.NewID(), vodfc.Public, [2]int{640, 360})
	p := play(t, v.ID, "")
	for _, u := range []string{p.Storyboard, "/api/v1/play/" + v.ID + "/storyboard.vtt"} {
		r := get(t, u, "")
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/vtt") {
			t.Fatalf("storyboard %s: %d %s", u, r.status, r.body)
		}
		lines := strings.Split(string(r.body), "\n")
		sprite, frag, _ := strings.Cut(lines[3], "#")
		if frag != "xywh=0,0,160,90" || !strings.Contains(sprite, "x-oss-signature=") {
			t.Fatalf("cue %q", lines[3])
		}
		if s := get(t, sprite, ""); s.status != http.StatusOK || !bytes.HasPrefix(s.body, []byte{0xff, 0xd8}) {
			t.Fatalf("sprite: %d", s.status)
		}
	}
}

func TestUnreadyAndUnknownVideos(t *testing.T) {
	owner := vodfc.NewID()
	v := &vodfc.Video{ID: vodfc.NewID(), OwnerID: owner, Title: "t", Visibility: vodfc.Public, Status: vodfc.StatusAwaitingUpload, CreatedAt: time.Now()}
	if err := store.Insert(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	if r := get(t, "/api/v1/videos/"+v.ID+"/play", as(owner, vodfc.TierFree)); r.status != http.StatusConflict || r.code() != "video_not_ready" {
		t.Fatalf("owner plays an unready video: %d %s", r.status, r.body)
	}
	if r := get(t, "/api/v1/videos/"+v.ID+"/play", ""); r.status != http.StatusNotFound {
		t.Fatalf("anonymous plays an unready video: %d", r.status)
	}
	if r := get(t, "/api/v1/videos/"+vodfc.NewID()+"/play", ""); r.status != http.StatusNotFound || r.code() != "video_not_found" {
		t.Fatalf("unknown video: %d %s", r.status, r.body)
	}
}

func TestPublicURLOverridesTheRequestHost(t *testing.T) {
	v := ladder(t, vodfc.NewID(), vodfc.Public, [2]int{640, 360})
	p := play(t, v.ID, "")
	if !strings.HasPrefix(p.MasterURL, api.URL+"/api/v1/play/"+v.ID+"/master.m3u8?token=") {
		t.Fatalf("master_url %s", p.MasterURL)
	}
	r := get(t, "/api/v1/videos/"+v.ID+"/play", "", "X-Forwarded-Proto", "https")
	if !bytes.Contains(r.body, []byte(`"master_url":"https://`)) {
		t.Fatalf("X-Forwarded-Proto ignored: %s", r.body)
	}
	cfg := playback.DefaultConfig()
	cfg.PublicURL = "https://api.example.com"
	rt := httpapi.NewRouter()
	playback.New(store, media, tokens, playback.OSSSigner{Store: media}, cfg).Register(rt, verifier{})
	srv := httptest.NewServer(rt)
	defer srv.Close()
	if r := get(t, srv.URL+"/api/v1/videos/"+v.ID+"/play", ""); !bytes.Contains(r.body, []byte(`"master_url":"https://api.example.com/api/v1/play/`)) {
		t.Fatalf("PublicURL ignored: %s", r.body)
	}
}

// TestCDNDomainSignsEveryMediaURLWithTypeA: with PLAYBACK_CDN_DOMAIN set, the service the
// functions build from their environment hands players CDN URLs with a type-A auth_key for the
// media byte ranges and the storyboard sprites, never presigned OSS URLs, and each key is the
// one the CDN computes from the path, timestamp and rand with the configured private key.
func TestCDNDomainSignsEveryMediaURLWithTypeA(t *testing.T) {
	const cdnKey = "cdn-private-key-123"
	env, err := playback.LoadEnv(func(k string) string {
		return map[string]string{
			"PLAYBACK_TOKEN_KEY":    "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc",
			"PLAYBACK_CDN_DOMAIN":   "cdn.example.com",
			"PLAYBACK_CDN_KEY":      cdnKey,
			"PLAYBACK_CDN_VALIDITY": "30m",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	cdnSvc, err := env.Service(store, media)
	if err != nil {
		t.Fatal(err)
	}
	rt := httpapi.NewRouter()
	cdnSvc.Register(rt, verifier{})
	srv := httptest.NewServer(rt)
	defer srv.Close()

	v := ladder(t, vodfc.NewID(), vodfc.Public, [2]int{640, 360})
	r := get(t, srv.URL+"/api/v1/videos/"+v.ID+"/play", "")
	if r.status != http.StatusOK {
		t.Fatalf("play: %d %s", r.status, r.body)
	}
	var p playReply
	json.Unmarshal(r.body, &p)
	m, base := master(t, p.MasterURL)
	vr := get(t, resolve(base, m.Variants[0].URI), "")
	if vr.status != http.StatusOK {
		t.Fatalf("variant: %d %s", vr.status, vr.body)
	}
	pl, err := hls.ParseMedia(bytes.NewReader(vr.body))
	if err != nil {
		t.Fatal(err)
	}
	// checkTypeA verifies u as the CDN would and returns when the CDN lets it expire.
	checkTypeA := func(u, key string) time.Time {
		t.Helper()
		parsed, err := url.Parse(u)
		if err != nil || parsed.Scheme != "https" || parsed.Host != "cdn.example.com" || parsed.Path != "/"+key || strings.Contains(u, "x-oss-signature") {
			t.Fatalf("not a CDN URL of %s: %s", key, u)
		}
		f := strings.Split(parsed.Query().Get("auth_key"), "-")
		if len(f) != 4 || f[2] != "0" {
			t.Fatalf("auth_key of %s", u)
		}
		var ts int64
		fmt.Sscan(f[0], &ts)
		if want := playback.SignTypeA("https://cdn.example.com/"+key, "/"+key, ts, f[1], cdnKey); want != u {
			t.Fatalf("signature the CDN would refuse:\n got %s\nwant %s", u, want)
		}
		return time.Unix(ts, 0).Add(30 * time.Minute)
	}
	r0 := v.Renditions[0]
	for _, uri := range []string{pl.Map.URI, pl.Segments[0].URI, pl.Segments[1].URI} {
		// The media URLs live as long as the viewing session (6 h), not the CDN's 30 minutes.
		if exp := checkTypeA(uri, r0.Media); time.Until(exp) < 5*time.Hour || time.Until(exp) > 6*time.Hour+time.Minute {
			t.Fatalf("media URL expires in %s", time.Until(exp))
		}
	}
	sb := get(t, p.Storyboard, "")
	if sb.status != http.StatusOK {
		t.Fatalf("storyboard: %d %s", sb.status, sb.body)
	}
	sprite, _, _ := strings.Cut(strings.Split(string(sb.body), "\n")[3], "#")
	checkTypeA(sprite, v.StoryboardKey)
}

// A master playlist hands out 6-hour session tokens; if a session token could fetch the master
// again, each fetch would mint another 6 hours, and a leaked link (or a member's link after a
// downgrade) would never die. Only the short entry token from the play route opens a master.
func TestSessionTokenCannotOpenAnotherMaster(t *testing.T) {
	v := ladder(t, vodfc.NewID(), vodfc.Public, [2]int{640, 360})
	p := play(t, v.ID, "")
	m, base := master(t, p.MasterURL)
	variant, _ := url.Parse(resolve(base, m.Variants[0].URI))
	session := variant.Query().Get("token")
	if r := get(t, variant.String(), ""); r.status != http.StatusOK {
		t.Fatalf("the session token on its variant: %d %s", r.status, r.body)
	}
	r := get(t, "/api/v1/play/"+v.ID+"/master.m3u8?token="+url.QueryEscape(session), "")
	if r.status != http.StatusForbidden || r.code() != playback.CodeInvalidToken {
		t.Fatalf("a session token opened a master (and minted a fresh session): %d %s", r.status, r.body)
	}
	// The storyboard and the variants still take the entry token too.
	entry := p.MasterURL[strings.Index(p.MasterURL, "token=")+len("token="):]
	if r := get(t, "/api/v1/play/"+v.ID+"/360p.m3u8?token="+entry, ""); r.status != http.StatusOK {
		t.Fatalf("the entry token on a variant: %d %s", r.status, r.body)
	}
}
