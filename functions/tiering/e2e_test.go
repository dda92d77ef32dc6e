package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"vodfc.dev/local/cloud"
	"vodfc.dev/local/fcemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/ffmpeg/hls"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/tiering"
	"vodfc.dev/vodfc/videos"
)

// These tests run the real tiering binary on the local cloud's emulated go1 runtime, next to
// the real videos, playback and users functions, and drive them as an operator and players
// would: the console moves the shared clock, the scheduler fires the nightly timer, players
// ask to play and fetch playlists and media through the API.

const (
	fnTiering  = "vodfc-tiering"
	fnVideos   = "vodfc-videos"
	fnPlayback = "vodfc-playback"
	fnUsers    = "vodfc-users"
)

var (
	cl     *cloud.Cloud
	db     *tablestore.Client
	bucket *oss.Store
	store  *videos.Store
)

func TestMain(m *testing.M) {
	opts := cloud.Ephemeral("../../s.yaml", fnTiering, fnVideos, fnPlayback, fnUsers)
	os.Exit(cloud.RunTests(m, opts, func(c *cloud.Cloud) (err error) {
		cl = c
		if db, err = cl.TablestoreClient(); err != nil {
			return err
		}
		creds := runtime.Credentials{AccessKeyID: cl.Credentials.AccessKeyID, AccessKeySecret: cl.Credentials.AccessKeySecret}
		bucket, err = oss.New(oss.Config{Endpoint: cl.OSSEndpoint, Bucket: cl.Manifest.Function(fnTiering).Env["MEDIA_BUCKET"],
			Region: "cn-hangzhou", Credentials: func() (runtime.Credentials, bool) { return creds, true }})
		store = videos.NewStore(db)
		return err
	}))
}

var client = &http.Client{Timeout: 30 * time.Second}

// call sends one request and returns the status and body.
func call(t *testing.T, method, u, token string, body any, header ...string) (int, []byte) {
	t.Helper()
	if strings.HasPrefix(u, "/") {
		u = cl.GatewayURL + u
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func token(t *testing.T, user string, tier vodfc.Tier, roles ...vodfc.Role) string {
	t.Helper()
	tok, err := cl.MintToken(user, tier, roles...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// advance moves the shared clock through the console.
func advance(t *testing.T, d time.Duration) {
	t.Helper()
	if code, b := call(t, "POST", "/_local/clock", "", map[string]string{"advance": d.String()}); code != 200 {
		t.Fatalf("advancing the clock: %d %s", code, b)
	}
}

// runs are the tiering invocations so far, by request id.
func runs() map[string]bool {
	out := map[string]bool{}
	for _, inv := range cl.FC.Invocations(fnTiering, 1000) {
		out[inv.RequestID] = true
	}
	return out
}

// awaitRuns waits until n tiering invocations not in before have finished and none runs,
// and returns them; any that failed fails the test.
func awaitRuns(t *testing.T, before map[string]bool, n int) []fcemu.Invocation {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var done []fcemu.Invocation
		running := false
		for _, inv := range cl.FC.Invocations(fnTiering, 1000) {
			switch {
			case inv.Status == fcemu.StatusRunning:
				running = true
			case !before[inv.RequestID]:
				if inv.Status != fcemu.StatusSucceeded {
					t.Fatalf("tiering %s: %s %s\n%s", inv.Status, inv.ErrorType, inv.Error, inv.Log)
				}
				done = append(done, inv)
			}
		}
		if len(done) >= n && !running {
			return done
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%d tiering runs did not finish", n)
	return nil
}

// nextNight moves the clock a day on; the scheduler fires the nightly timer for the 03:30
// (Asia/Shanghai) that passed, and this waits for that run.
func nextNight(t *testing.T) fcemu.Invocation {
	t.Helper()
	before := runs()
	advance(t, 24*time.Hour)
	return awaitRuns(t, before, 1)[0]
}

// invokeTimer runs the tiering function synchronously with a hand-made timer event, as
// `fclocal invoke` does, stamped with the clock's now.
func invokeTimer(t *testing.T, payload string) fcemu.Invocation {
	t.Helper()
	before := runs()
	ev := map[string]string{"triggerName": "nightly", "triggerTime": cl.Clock.Now().UTC().Format(time.RFC3339), "payload": payload}
	if code, b := call(t, "POST", "/_local/invoke/"+fnTiering, "", ev); code != 200 {
		t.Fatalf("invoke: %d %s", code, b)
	}
	return awaitRuns(t, before, 1)[0]
}

// ---------------------------------------------------------------- a synthetic library

// rungs are the ladder of every synthetic video: media sizes in the proportions of a real
// ladder's bitrates (6000k, 3000k, 1200k, 500k), scaled down so 50 videos stay small.
var rungs = []struct {
	height int
	size   int
}{{1080, 300 << 10}, {720, 150 << 10}, {480, 96 << 10}, {360, 70 << 10}}

const sourceSize = 512 << 10

func putObject(t *testing.T, key string, b []byte) {
	t.Helper()
	if err := bucket.Put(context.Background(), key, bytes.NewReader(b), oss.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// synth publishes a ready video the way transcode leaves one: the source under uploads/, and
// under media/{id}/{attempt}/ a variant playlist and one media file per rung (the playlist
// ranges into it), the master playlist, a cover and a storyboard. publishedAt is when its
// transcode finished.
func synth(t *testing.T, publishedAt time.Time) *vodfc.Video {
	t.Helper()
	ctx := context.Background()
	now := cl.Clock.Now()
	v := &vodfc.Video{ID: vodfc.NewID(), OwnerID: "owner", Title: "synthetic", Visibility: vodfc.Public,
		Status: vodfc.StatusAwaitingUpload, CreatedAt: publishedAt, UpdatedAt: publishedAt}
	if err := store.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	attempt := vodfc.NewSortableID(now)
	if err := store.ClaimProcessing(ctx, v.ID, videos.Claim{Attempt: attempt, Request: "synth", At: now}); err != nil {
		t.Fatal(err)
	}
	pre := vodfc.VideoMediaPrefix(v.ID, attempt)
	putObject(t, vodfc.SourceKey(v.ID), bytes.Repeat([]byte{'s'}, sourceSize))
	var rs []vodfc.Rendition
	for i, r := range rungs {
		name := fmt.Sprintf("%dp", r.height)
		body := make([]byte, r.size)
		for j := range body {
			body[j] = byte(i*31 + j%251)
		}
		putObject(t, pre+name+".mp4", body)
		half := int64(r.size-1000) / 2
		pl := &hls.Media{TargetDuration: 4, PlaylistType: "VOD", IndependentSegments: true, EndList: true,
			Map: &hls.Map{URI: name + ".mp4", ByteRange: &hls.ByteRange{Length: 1000, Offset: 0}},
			Segments: []hls.Segment{
				{Duration: 4 * time.Second, URI: name + ".mp4", ByteRange: &hls.ByteRange{Length: half, Offset: 1000}},
				{Duration: 4 * time.Second, URI: name + ".mp4", ByteRange: &hls.ByteRange{Length: half, Offset: 1000 + half}},
			}}
		b, err := pl.Encode()
		if err != nil {
			t.Fatal(err)
		}
		putObject(t, pre+name+".m3u8", b)
		rs = append(rs, vodfc.Rendition{Height: r.height, Width: r.height * 16 / 9, Bandwidth: r.size * 8 / 8, AvgBandwidth: r.size * 6 / 8,
			Codecs: "avc1.64001f,mp4a.40.2", FrameRate: 30, Playlist: pre + name + ".m3u8", Media: pre + name + ".mp4", Size: int64(r.size)})
	}
	putObject(t, pre+"master.m3u8", []byte("#EXTM3U\n"))
	putObject(t, pre+"cover.jpg", bytes.Repeat([]byte{'c'}, 24<<10))
	putObject(t, pre+"storyboard-0.jpg", bytes.Repeat([]byte{'b'}, 80<<10))
	putObject(t, pre+"storyboard.vtt", []byte("WEBVTT\n\n00:00:00.000 --> 00:00:05.000\nstoryboard-0.jpg#xywh=0,0,160,90\n"))
	err := store.Publish(ctx, v.ID, attempt, videos.Published{Duration: 8 * time.Second, Width: 1920, Height: 1080, Renditions: rs,
		MediaPrefix: pre, CoverKey: pre + "cover.jpg", StoryboardKey: pre + "storyboard-0.jpg", StoryboardVTT: pre + "storyboard.vtt"}, publishedAt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// objects lists the whole bucket.
func objects(t *testing.T) map[string]oss.Object {
	t.Helper()
	out := map[string]oss.Object{}
	if err := bucket.List(context.Background(), "", func(o oss.Object) error { out[o.Key] = o; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// tables dumps the tiering tables, for before/after comparisons.
func tables(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, tb := range []tablestore.Table{tablestore.MediaTiers, tablestore.MediaRestores, tablestore.TieringRuns} {
		start, end := tablestore.Key{}, tablestore.Key{}
		for _, k := range tb.Key {
			start = append(start, tablestore.KeyCol{Name: k.Name, Value: tablestore.Min})
			end = append(end, tablestore.KeyCol{Name: k.Name, Value: tablestore.Max})
		}
		if err := db.Scan(context.Background(), tb.Name, tablestore.Range{Start: start, End: end}, func(r *tablestore.Row) error {
			j, _ := json.Marshal(r)
			b.Write(j)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// history reads the move history tiering keeps for a video.
func history(t *testing.T, video string) map[string][]tiering.Record {
	t.Helper()
	r, err := db.Get(context.Background(), tablestore.MediaTiers.Name, tablestore.K("video_id", video), "history")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]tiering.Record{}
	if r != nil {
		if err := json.Unmarshal([]byte(r.Str("history")), &out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// ---------------------------------------------------------------- players

type playAnswer struct {
	MasterURL   string `json:"master_url"`
	Renditions  []struct{ Name string }
	Unavailable []struct{ Name string }
	Restoring   []struct{ Name string }
}

func namesOf(rs []struct{ Name string }) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

func play(t *testing.T, v *vodfc.Video, tok string) playAnswer {
	t.Helper()
	code, b := call(t, "GET", "/api/v1/videos/"+v.ID+"/play", tok, nil)
	if code != 200 {
		t.Fatalf("play %s: %d %s", v.ID, code, b)
	}
	var p playAnswer
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// watch fetches the master playlist behind p, the rung's variant playlist and a byte range of
// the rung's media, as a player does, and checks the bytes are the stored ones.
func watch(t *testing.T, v *vodfc.Video, p playAnswer, rung string) {
	t.Helper()
	code, b := call(t, "GET", p.MasterURL, "", nil)
	if code != 200 {
		t.Fatalf("%s master: %d %s", v.ID, code, b)
	}
	m, err := hls.ParseMaster(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(p.MasterURL)
	var variant string
	for _, vr := range m.Variants {
		if strings.HasPrefix(vr.URI, rung+".m3u8") {
			ref, _ := url.Parse(vr.URI)
			variant = base.ResolveReference(ref).String()
		}
	}
	if variant == "" {
		t.Fatalf("%s: the master lists no %s:\n%s", v.ID, rung, b)
	}
	code, b = call(t, "GET", variant, "", nil)
	if code != 200 {
		t.Fatalf("%s %s playlist: %d %s", v.ID, rung, code, b)
	}
	pl, err := hls.ParseMedia(bytes.NewReader(b))
	if err != nil || len(pl.Segments) == 0 {
		t.Fatalf("%s %s playlist: %v\n%s", v.ID, rung, err, b)
	}
	seg := pl.Segments[1]
	rng := fmt.Sprintf("bytes=%d-%d", seg.ByteRange.Offset, seg.ByteRange.Offset+seg.ByteRange.Length-1)
	code, got := call(t, "GET", seg.URI, "", nil, "Range", rng)
	if code != http.StatusPartialContent || int64(len(got)) != seg.ByteRange.Length {
		t.Fatalf("%s %s media range: %d, %d bytes: %.200s", v.ID, rung, code, len(got), got)
	}
	idx := slices.IndexFunc(rungs, func(r struct{ height, size int }) bool { return fmt.Sprintf("%dp", r.height) == rung })
	if want := byte(idx*31 + int(seg.ByteRange.Offset)%251); got[0] != want {
		t.Fatalf("%s %s: wrong bytes", v.ID, rung)
	}
}
