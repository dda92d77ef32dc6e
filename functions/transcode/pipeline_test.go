package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/ffmpeg/hls"
	"vodfc.dev/vodfc/playback"
)

type play struct {
	VideoID    string    `json:"video_id"`
	MasterURL  string    `json:"master_url"`
	ExpiresAt  time.Time `json:"expires_at"`
	Renditions []struct {
		Name   string `json:"name"`
		Height int    `json:"height"`
		Width  int    `json:"width"`
	} `json:"renditions"`
	MembersOnly []struct {
		Name   string `json:"name"`
		Height int    `json:"height"`
	} `json:"members_only"`
	StoryboardURL string `json:"storyboard_url"`
}

func getPlay(t *testing.T, viewer user, id string) play {
	t.Helper()
	r := do(t, viewer, "GET", "/api/v1/videos/"+id+"/play", nil)
	expect(t, r, http.StatusOK, "play")
	var p play
	r.json(t, &p)
	return p
}

func fetch(t *testing.T, u string) response {
	t.Helper()
	return do(t, anonymous, "GET", u, nil)
}

// variant is one rung of a master playlist, with its absolute URL.
type variant struct {
	hls.Variant
	url string
}

func masterVariants(t *testing.T, masterURL string) []variant {
	t.Helper()
	r := fetch(t, masterURL)
	expect(t, r, http.StatusOK, "master playlist")
	if ct := r.header.Get("Content-Type"); ct != "application/vnd.apple.mpegurl" {
		t.Fatalf("master playlist served as %q", ct)
	}
	m, err := hls.ParseMaster(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("master playlist: %v\n%s", err, r.body)
	}
	base, _ := url.Parse(masterURL)
	var out []variant
	for _, v := range m.Variants {
		ref, err := url.Parse(v.URI)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, variant{Variant: v, url: base.ResolveReference(ref).String()})
	}
	return out
}

// run runs a command with a hang guard and returns its combined output.
func runCmd(t *testing.T, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}

// playWithFFmpeg decodes the whole master playlist as a player would.
func playWithFFmpeg(t *testing.T, masterURL string) {
	t.Helper()
	if out, err := runCmd(t, ffmpegs.ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-i", masterURL, "-f", "null", "-"); err != nil {
		t.Fatalf("ffmpeg -i MASTER -f null - failed: %v\n%s", err, out)
	}
}

// probedRung is what ffprobe reads from one variant playlist over HTTP.
type probedRung struct {
	width, height int
	keyframes     []float64 // pts of video keyframes, seconds
}

func probeVariant(t *testing.T, u string) probedRung {
	t.Helper()
	out, err := runCmd(t, ffmpegs.ffprobe, "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=width,height:packet=pts_time,flags", "-of", "json", u)
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", u, err, out)
	}
	var res struct {
		Streams []struct{ Width, Height int } `json:"streams"`
		Packets []struct {
			PTS   string `json:"pts_time"`
			Flags string `json:"flags"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Streams) == 0 {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	p := probedRung{width: res.Streams[0].Width, height: res.Streams[0].Height}
	for _, pk := range res.Packets {
		if strings.Contains(pk.Flags, "K") {
			var f float64
			json.Unmarshal([]byte(pk.PTS), &f)
			p.keyframes = append(p.keyframes, math.Round(f*1000)/1000)
		}
	}
	slices.Sort(p.keyframes)
	return p
}

// TestUploadedVideoIsPublishedAsAPlayableLadder follows one small upload from POST /videos to
// real ffmpeg playing the signed master playlist, and checks every rung of the ladder.
func TestUploadedVideoIsPublishedAsAPlayableLadder(t *testing.T) {
	owner := registeredUser(t)
	data, _ := os.ReadFile(clips["main"])
	v, p := create(t, owner, "main", int64(len(data)))
	if p.Method != "PUT" || p.URL == "" || p.Headers["Content-Type"] != "video/mp4" {
		t.Fatalf("plan %+v", p)
	}
	if ttl := time.Until(p.ExpiresAt); ttl > 15*time.Minute || ttl < 10*time.Minute {
		t.Fatalf("upload URL lives %s; want at most 15 minutes", ttl)
	}
	// The URL is bound to the key and the content type.
	if resp := put(t, p.URL, map[string]string{"Content-Type": "text/html"}, data); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("PUT with another content type: %s", resp.Status)
	}
	other := strings.Replace(strings.Replace(p.URL, "%2Fsource?", "%2Fother?", 1), "/source?", "/other?", 1)
	if other == p.URL {
		t.Fatalf("unexpected URL shape %s", p.URL)
	}
	if resp := put(t, other, p.Headers, data); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("PUT to another key with the same signature: %s", resp.Status)
	}
	// Nobody but the owner sees it before it is ready.
	expect(t, do(t, anonymous, "GET", "/api/v1/videos/"+v.ID, nil), http.StatusNotFound, "anonymous GET before ready")

	if resp := put(t, p.URL, p.Headers, data); resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %s", resp.Status)
	}
	done, prog := waitDone(t, owner, v.ID)
	if done.Status != "ready" {
		t.Fatalf("video ended %s (%s)\n%s", done.Status, done.FailureCode, recentLog())
	}
	// Progress rose while it ran, never fell, and never claimed 100 before the end.
	if len(prog.values) == 0 {
		t.Fatal("never saw the video processing")
	}
	if !slices.IsSorted(prog.values) || slices.Max(prog.values) >= 100 {
		t.Fatalf("progress while processing: %v", prog.values)
	}
	if !slices.ContainsFunc(prog.values, func(p int) bool { return p > 0 && p < 100 }) {
		t.Fatalf("progress never moved: %v", prog.values)
	}
	if done.Progress != 100 || done.Width != 1280 || done.Height != 720 || done.DurationS < 5.9 || done.DurationS > 6.1 {
		t.Fatalf("ready video: %+v", done)
	}
	var heights []int
	for _, r := range done.Renditions {
		heights = append(heights, r.Height)
		if !strings.HasPrefix(r.Codecs, "avc1.") || !strings.Contains(r.Codecs, "mp4a.40.2") || r.Bandwidth <= 0 {
			t.Errorf("rendition %+v", r)
		}
	}
	if !slices.Equal(heights, []int{720, 480, 360}) {
		t.Fatalf("renditions %v, want 720, 480, 360", heights)
	}
	// The media sit under the attempt's prefix; the source is kept for tiering.
	if !sourceExists(t, v.ID) {
		t.Error("the published video's source was deleted (TRANSCODE_KEEP_SOURCE is true)")
	}
	objs := mediaObjects(t, v.ID)
	prefixes := map[string]bool{}
	for _, k := range objs {
		prefixes[strings.Join(strings.SplitN(k, "/", 4)[:3], "/")] = true
	}
	if len(prefixes) != 1 || !slices.Contains(objs, "media/"+v.ID+"/"+strings.Split(objs[0], "/")[2]+"/master.m3u8") {
		t.Fatalf("media objects: %v", objs)
	}

	// Cover: a real JPEG behind a presigned URL.
	cover := fetch(t, done.CoverURL)
	if cover.status != http.StatusOK || !bytes.HasPrefix(cover.body, []byte{0xFF, 0xD8}) {
		t.Fatalf("cover: %d, %d bytes", cover.status, len(cover.body))
	}
	// Public: anyone sees it and may play it.
	expect(t, do(t, anonymous, "GET", "/api/v1/videos/"+v.ID, nil), http.StatusOK, "anonymous GET")
	for _, list := range []struct {
		viewer user
		path   string
	}{{anonymous, "/api/v1/users/" + owner.id + "/videos"}, {owner, "/api/v1/me/videos"}} {
		r := do(t, list.viewer, "GET", list.path, nil)
		if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"id":"`+v.ID+`"`)) {
			t.Fatalf("%s does not list the video: %d %s", list.path, r.status, r.body)
		}
	}
	pl := getPlay(t, anonymous, v.ID)
	if ttl := time.Until(pl.ExpiresAt); ttl <= 0 || ttl > 10*time.Minute+time.Second {
		t.Fatalf("play URL expires in %s", ttl)
	}
	if !strings.HasPrefix(pl.MasterURL, cl.GatewayURL+"/api/v1/play/"+v.ID+"/master.m3u8?token=") {
		t.Fatalf("master_url %s", pl.MasterURL)
	}
	// The path is answered by the videos function (FC routes /api/v1/videos/* there),
	// which shares the token key with playback.
	if r := do(t, anonymous, "GET", "/api/v1/videos/"+v.ID+"/play", nil); r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"master_url"`)) {
		t.Fatalf("/videos/{id}/play: %d %s", r.status, r.body)
	}

	playWithFFmpeg(t, pl.MasterURL)

	variants := masterVariants(t, pl.MasterURL)
	if len(variants) != 3 {
		t.Fatalf("master lists %d variants", len(variants))
	}
	var rungs []probedRung
	for _, vr := range variants {
		if vr.Bandwidth <= 0 || vr.AverageBandwidth <= 0 || vr.AverageBandwidth > vr.Bandwidth || vr.FrameRate != 24 || len(vr.Codecs) != 2 {
			t.Errorf("variant attributes %+v", vr.Variant)
		}
		// Segment durations: 4 s each, the last one the remainder.
		r := fetch(t, vr.url)
		expect(t, r, http.StatusOK, "variant playlist")
		mp, err := hls.ParseMedia(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("variant playlist: %v\n%s", err, r.body)
		}
		if len(mp.Segments) != 2 || mp.Segments[0].Duration != 4*time.Second || mp.Segments[1].Duration < 1900*time.Millisecond || mp.Segments[1].Duration > 2100*time.Millisecond {
			t.Errorf("%s segments: %+v", vr.URI[:8], mp.Segments)
		}
		if mp.Map == nil || mp.Map.ByteRange == nil || !strings.Contains(mp.Map.URI, "x-oss-signature") {
			t.Errorf("init section not a signed byte range: %+v", mp.Map)
		}
		pr := probeVariant(t, vr.url)
		if pr.width > 1280 || pr.height > 720 || pr.width != vr.Width || pr.height != vr.Height {
			t.Errorf("rung %dx%d (master says %dx%d), source 1280x720", pr.width, pr.height, vr.Width, vr.Height)
		}
		rungs = append(rungs, pr)
	}
	// Keyframes every 2 s in every rung, at the same instants: players switch anywhere.
	for i, r := range rungs {
		if !slices.Equal(r.keyframes, rungs[0].keyframes) {
			t.Errorf("rung %d keyframes %v, rung 0 %v", i, r.keyframes, rungs[0].keyframes)
		}
	}
	if len(rungs[0].keyframes) != 3 || rungs[0].keyframes[1]-rungs[0].keyframes[0] != 2 {
		t.Errorf("keyframes %v, want every 2 s", rungs[0].keyframes)
	}

	// The storyboard track points at signed sprites.
	vtt := fetch(t, pl.StoryboardURL)
	expect(t, vtt, http.StatusOK, "storyboard")
	if !bytes.HasPrefix(vtt.body, []byte("WEBVTT")) || !bytes.Contains(vtt.body, []byte("#xywh=")) {
		t.Fatalf("storyboard track:\n%s", vtt.body)
	}
	sprite := strings.Split(strings.Split(string(vtt.body), "\n")[3], "#")[0]
	if r := fetch(t, sprite); r.status != http.StatusOK || !bytes.HasPrefix(r.body, []byte{0xFF, 0xD8}) {
		t.Fatalf("sprite %s: %d", sprite, r.status)
	}
	// The API's storyboard URL works too (the video is public).
	expect(t, do(t, anonymous, "GET", done.StoryboardURL, nil), http.StatusOK, "storyboard_url of the video")

	t.Run("TamperedTokenIsForbidden", func(t *testing.T) {
		u, _ := url.Parse(pl.MasterURL)
		tok := u.Query().Get("token")
		bad := []byte(tok)
		bad[3] ^= 1 // a different payload under the same MAC
		r := fetch(t, strings.Replace(pl.MasterURL, tok, string(bad), 1))
		if r.status != http.StatusForbidden || r.problemCode() != playback.CodeInvalidToken {
			t.Fatalf("tampered token: %d %s", r.status, r.body)
		}
		// A member's tier cannot be written into a free token either.
		forged := tokens.Sign(playback.Token{Video: v.ID, Tier: vodfc.TierMember, Expires: time.Now().Add(time.Hour)})
		payload, _, _ := strings.Cut(forged, ".")
		_, mac, _ := strings.Cut(tok, ".")
		r = fetch(t, strings.Replace(pl.MasterURL, tok, payload+"."+mac, 1))
		if r.status != http.StatusForbidden || r.problemCode() != playback.CodeInvalidToken {
			t.Fatalf("tier swapped into a token: %d %s", r.status, r.body)
		}
		// Variant playlists check the token the same way.
		vu := variants[0].url
		vtok := strings.Split(vu, "token=")[1]
		r = fetch(t, strings.Replace(vu, vtok, vtok[:len(vtok)-2]+"AA", 1))
		if r.status != http.StatusForbidden {
			t.Fatalf("tampered variant token: %d %s", r.status, r.body)
		}
	})
	t.Run("ExpiredTokenIsForbidden", func(t *testing.T) {
		expired := tokens.Sign(playback.Token{Video: v.ID, Tier: vodfc.TierFree, Expires: time.Now().Add(-time.Second)})
		r := fetch(t, "/api/v1/play/"+v.ID+"/master.m3u8?token="+expired)
		if r.status != http.StatusForbidden || r.problemCode() != playback.CodeTokenExpired {
			t.Fatalf("expired token: %d %s", r.status, r.body)
		}
		r = fetch(t, "/api/v1/play/"+v.ID+"/720p.m3u8?token="+expired)
		if r.status != http.StatusForbidden || r.problemCode() != playback.CodeTokenExpired {
			t.Fatalf("expired token on a variant: %d %s", r.status, r.body)
		}
	})
	t.Run("TokenOfAnotherVideoIsForbidden", func(t *testing.T) {
		other := tokens.Sign(playback.Token{Video: vodfc.NewID(), Tier: vodfc.TierFree, Expires: time.Now().Add(time.Hour)})
		r := fetch(t, "/api/v1/play/"+v.ID+"/master.m3u8?token="+other)
		if r.status != http.StatusForbidden {
			t.Fatalf("token of another video: %d %s", r.status, r.body)
		}
		expect(t, fetch(t, "/api/v1/play/"+v.ID+"/master.m3u8"), http.StatusForbidden, "no token")
	})
}

// TestMultipartUploadResumesAndMembersGetTheTopRungs uploads a 1080p file in three parts,
// losing the client's state after the first, resumes from what the server knows, and checks
// that non-members never see a rung above 720p while members get 1080p.
func TestMultipartUploadResumesAndMembersGetTheTopRungs(t *testing.T) {
	owner := registeredUser(t)
	data, _ := os.ReadFile(clips["multipart"])
	v, p := create(t, owner, "multipart", int64(len(data)))
	if p.Method != "multipart" || p.UploadID == "" || p.PartCount != 3 || p.PartSize*2 >= int64(len(data)) {
		t.Fatalf("plan for %d bytes: %+v", len(data), p)
	}
	partData := func(n int) []byte {
		lo := int64(n-1) * p.PartSize
		return data[lo:min(lo+p.PartSize, int64(len(data)))]
	}
	partURLs := func(numbers ...int) map[int]string {
		r := do(t, owner, "POST", "/api/v1/videos/"+v.ID+"/upload/parts", map[string]any{"numbers": numbers})
		expect(t, r, http.StatusOK, "part URLs")
		var out struct {
			Parts []struct {
				Number    int       `json:"number"`
				URL       string    `json:"url"`
				ExpiresAt time.Time `json:"expires_at"`
			} `json:"parts"`
		}
		r.json(t, &out)
		m := map[int]string{}
		for _, pu := range out.Parts {
			if time.Until(pu.ExpiresAt) > 15*time.Minute {
				t.Fatalf("part URL lives until %s", pu.ExpiresAt)
			}
			m[pu.Number] = pu.URL
		}
		return m
	}
	// Device A uploads part 1, then is lost with everything it knew.
	if resp := put(t, partURLs(1)[1], nil, partData(1)); resp.StatusCode != http.StatusOK {
		t.Fatalf("part 1: %s", resp.Status)
	}
	// Another user cannot see or touch the upload.
	expect(t, do(t, newUser(t, vodfc.TierFree), "GET", "/api/v1/videos/"+v.ID+"/upload", nil), http.StatusNotFound, "stranger reads the upload")

	// Device B knows only the video id: it asks where the upload stands.
	r := do(t, owner, "GET", "/api/v1/videos/"+v.ID+"/upload", nil)
	expect(t, r, http.StatusOK, "upload state")
	var st struct {
		UploadID  string `json:"upload_id"`
		PartSize  int64  `json:"part_size"`
		PartCount int    `json:"part_count"`
		Parts     []struct {
			Number int    `json:"number"`
			ETag   string `json:"etag"`
			Size   int64  `json:"size"`
		} `json:"parts"`
		Missing []int `json:"missing"`
	}
	r.json(t, &st)
	if st.UploadID != p.UploadID || st.PartSize != p.PartSize || len(st.Parts) != 1 || st.Parts[0].Number != 1 || !slices.Equal(st.Missing, []int{2, 3}) {
		t.Fatalf("upload state %+v", st)
	}
	etags := map[int]string{1: st.Parts[0].ETag}
	urls := partURLs(st.Missing...)
	for _, n := range st.Missing {
		resp := put(t, urls[n], nil, partData(n))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("part %d: %s", n, resp.Status)
		}
		etags[n] = strings.Trim(resp.Header.Get("ETag"), `"`)
	}
	// A wrong ETag is caught before anything is assembled.
	bad := []map[string]any{{"number": 1, "etag": etags[1]}, {"number": 2, "etag": strings.Repeat("0", 32)}, {"number": 3, "etag": etags[3]}}
	if r := do(t, owner, "POST", "/api/v1/videos/"+v.ID+"/upload/complete", map[string]any{"parts": bad}); r.status != http.StatusBadRequest || r.problemCode() != "part_mismatch" {
		t.Fatalf("complete with a wrong ETag: %d %s", r.status, r.body)
	}
	parts := []map[string]any{{"number": 1, "etag": etags[1]}, {"number": 2, "etag": etags[2]}, {"number": 3, "etag": etags[3]}}
	expect(t, do(t, owner, "POST", "/api/v1/videos/"+v.ID+"/upload/complete", map[string]any{"parts": parts}), http.StatusAccepted, "complete")
	// Completing again (a lost response) answers the same.
	expect(t, do(t, owner, "POST", "/api/v1/videos/"+v.ID+"/upload/complete", map[string]any{"parts": parts}), http.StatusAccepted, "complete again")

	done, _ := waitDone(t, owner, v.ID)
	if done.Status != "ready" {
		t.Fatalf("video ended %s (%s)\n%s", done.Status, done.FailureCode, recentLog())
	}
	var heights []int
	for _, r := range done.Renditions {
		heights = append(heights, r.Height)
	}
	if !slices.Equal(heights, []int{1080, 720, 480, 360}) {
		t.Fatalf("renditions %v", heights)
	}

	t.Run("NonMemberSeesNoRungAbove720p", func(t *testing.T) {
		for _, viewer := range []user{anonymous, owner} {
			pl := getPlay(t, viewer, v.ID)
			for _, r := range pl.Renditions {
				if min(r.Width, r.Height) > 720 {
					t.Fatalf("non-member offered %s", r.Name)
				}
			}
			if len(pl.MembersOnly) != 1 || pl.MembersOnly[0].Name != "1080p" {
				t.Fatalf("members_only %+v", pl.MembersOnly)
			}
			variants := masterVariants(t, pl.MasterURL)
			if len(variants) != 3 {
				t.Fatalf("non-member master lists %d variants", len(variants))
			}
			for _, vr := range variants {
				if vr.Height > 720 {
					t.Fatalf("non-member master lists %dp", vr.Height)
				}
			}
			// Asking for the member rung by name with a non-member token is refused.
			u := strings.Replace(variants[0].url, variants[0].URI[:strings.Index(variants[0].URI, ".m3u8")], "1080p", 1)
			if r := fetch(t, u); r.status != http.StatusForbidden || r.problemCode() != "members_only" {
				t.Fatalf("non-member fetching 1080p: %d %s", r.status, r.body)
			}
		}
	})
	t.Run("MemberGets1080p", func(t *testing.T) {
		pl := getPlay(t, memberUser(t), v.ID)
		if len(pl.MembersOnly) != 0 || len(pl.Renditions) != 4 {
			t.Fatalf("member play: %+v", pl)
		}
		variants := masterVariants(t, pl.MasterURL)
		i := slices.IndexFunc(variants, func(vr variant) bool { return vr.Height == 1080 })
		if i < 0 {
			t.Fatalf("member master has no 1080p: %+v", variants)
		}
		if pr := probeVariant(t, variants[i].url); pr.width != 1920 || pr.height != 1080 {
			t.Fatalf("1080p rung is %dx%d", pr.width, pr.height)
		}
		playWithFFmpeg(t, pl.MasterURL)
	})
}

// TestPortraitAndRotatedSourcesStayUpright: a portrait upload and a landscape one with a 90°
// display matrix (a phone held upright) both come out portrait.
func TestPortraitAndRotatedSourcesStayUpright(t *testing.T) {
	owner := newUser(t, vodfc.TierFree)
	for _, clip := range []string{"portrait", "rotated"} {
		t.Run(clip, func(t *testing.T) {
			v := upload(t, owner, clip, -1)
			done, _ := waitDone(t, owner, v.ID)
			if done.Status != "ready" {
				t.Fatalf("ended %s (%s)\n%s", done.Status, done.FailureCode, recentLog())
			}
			if done.Width != 360 || done.Height != 640 || len(done.Renditions) != 1 {
				t.Fatalf("video %dx%d, renditions %+v", done.Width, done.Height, done.Renditions)
			}
			pl := getPlay(t, owner, v.ID)
			variants := masterVariants(t, pl.MasterURL)
			if pr := probeVariant(t, variants[0].url); pr.width != 360 || pr.height != 640 {
				t.Fatalf("rung is %dx%d", pr.width, pr.height)
			}
		})
	}
}
