package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vodfc.dev/local/cloud"
	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// End to end through the local cloud: the real engagement, danmaku and rollup binaries under
// the emulated FC runtimes, the Tablestore emulator (with injected faults), Redis, driven over
// HTTP as clients drive them. One cloud serves every test of the package.

var (
	cl       *cloud.Cloud
	cloudLog = &cloud.Log{}
	db       *tablestore.Client
)

const (
	fnEngagement = "vodfc-engagement"
	fnDanmaku    = "vodfc-danmaku"
	fnVideos     = "vodfc-videos"
	fnRollup     = "vodfc-rollup"
)

func TestMain(m *testing.M) {
	opts := cloud.Ephemeral("../../s.yaml", fnEngagement, fnDanmaku, fnVideos, fnRollup)
	opts.Log = cloudLog
	os.Exit(cloud.RunTests(m, opts, func(c *cloud.Cloud) (err error) {
		cl = c
		db, err = c.TablestoreClient()
		return err
	}))
}

// api is where a client reaches path: the domain's routes through the gateway. The routes under
// /api/v1/videos/{id}/ reach the videos function, which serves them (s.yaml).
func api(path string) string { return cl.GatewayURL + path }

var client = &http.Client{Timeout: 30 * time.Second}

// Client-side retries and resends, for the logs of the storm tests.
var retried, resent atomic.Int64

// do sends one request; body may be nil. It returns the status (0 for a transport failure).
func do(t *testing.T, method, u, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// retrying sends a request the way a mobile client does: again on a transport failure or a
// 5xx, and sometimes again after a success whose answer it "lost".
func retrying(t *testing.T, method, u, token string, body any) (int, []byte) {
	t.Helper()
	for try := 0; ; try++ {
		code, b := do(t, method, u, token, body)
		if code == 0 || code >= 500 {
			retried.Add(1)
			if try > 30 {
				t.Errorf("%s %s: gave up after %d tries: %d %s", method, u, try, code, b)
				return code, b
			}
			time.Sleep(time.Duration(10+rand.IntN(40)) * time.Millisecond)
			continue
		}
		if rand.IntN(5) == 0 { // the answer was lost on the way: send it again
			resent.Add(1)
			code, b = do(t, method, u, token, body)
			if code == 0 || code >= 500 {
				continue
			}
		}
		return code, b
	}
}

func token(t *testing.T, user string) string {
	t.Helper()
	tok, err := cl.MintToken(user, vodfc.TierFree)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func newVideo(t *testing.T, owner string) string {
	t.Helper()
	now := time.Now().UTC()
	v := &vodfc.Video{ID: vodfc.NewID(), OwnerID: owner, Title: "e2e", Visibility: vodfc.Public, Status: vodfc.StatusReady,
		Duration: 20 * time.Minute, Width: 1280, Height: 720, MediaPrefix: "media/x/1/", CreatedAt: now, UpdatedAt: now, PublishedAt: now,
		Renditions: []vodfc.Rendition{{Height: 720, Width: 1280, Bandwidth: 3e6, Codecs: "avc1.64001f,mp4a.40.2", Playlist: "p", Media: "m"}}}
	if err := videos.NewStore(db).Insert(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return v.ID
}

func counts(t *testing.T, id string) vodfc.Counts {
	t.Helper()
	row, ok, err := videos.NewStore(db).ReadCounters(context.Background(), id)
	if err != nil || !ok {
		t.Fatalf("reading %s: %v %v", id, ok, err)
	}
	return row.Counts
}

// count counts the rows under a key prefix (name/value pairs) of table, optionally filtered.
func count(t *testing.T, table tablestore.Table, where []tablestore.Pred, prefix ...any) int64 {
	t.Helper()
	start, end := tablestore.K(prefix...), tablestore.K(prefix...)
	for _, kd := range table.Key[len(prefix)/2:] {
		start = append(start, tablestore.KeyCol{Name: kd.Name, Value: tablestore.Min})
		end = append(end, tablestore.KeyCol{Name: kd.Name, Value: tablestore.Max})
	}
	var n int64
	err := db.Scan(context.Background(), table.Name, tablestore.Range{Start: start, End: end, Where: where}, func(*tablestore.Row) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// settle lets every request of now die (the shared clock moves on), then runs the rollup timer
// through the emulated go1 runtime, as its trigger would.
func settle(t *testing.T) {
	t.Helper()
	if code, b := do(t, "POST", cl.GatewayURL+"/_local/clock", "", map[string]string{"advance": "3m"}); code != 200 {
		t.Fatalf("advancing the clock: %d %s", code, b)
	}
	fireRollup(t)
}

func fireRollup(t *testing.T) {
	t.Helper()
	before := map[string]bool{}
	for _, inv := range cl.FC.Invocations(fnRollup, 100) {
		before[inv.RequestID] = true
	}
	if code, b := do(t, "POST", cl.GatewayURL+"/_local/timers/"+fnRollup+"/every2min", "", nil); code >= 300 {
		t.Fatalf("firing rollup: %d %s", code, b)
	}
	// The timer runs asynchronously (and moving the clock may have fired it too): wait until a
	// new run finished and none is running.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		done, running := false, false
		for _, inv := range cl.FC.Invocations(fnRollup, 100) {
			switch {
			case inv.Status == "running":
				running = true
			case !before[inv.RequestID]:
				if inv.Status != "succeeded" {
					t.Fatalf("rollup %s: %s %s\n%s", inv.Status, inv.ErrorType, inv.Error, inv.Log)
				}
				done = true
			}
		}
		if done && !running {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("rollup did not finish")
}

// TestStormsKeepEveryCounterEqualToItsEdges: 100 users like/unlike/like one video and put a
// second video in and out of two folders, all at once, with clients retrying and resending,
// while the Tablestore emulator answers a fifth of the requests OTSServerBusy.
func TestStormsKeepEveryCounterEqualToItsEdges(t *testing.T) {
	liked, faved := newVideo(t, "owner"), newVideo(t, "owner")
	cl.Tablestore().SetFaults(otsemu.Faults{Rate: 0.2})
	defer cl.Tablestore().SetFaults(otsemu.Faults{})
	const users = 100
	var wg sync.WaitGroup
	wantFav := 0
	for u := range users {
		if u%4 != 3 {
			wantFav++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("storm-user-%03d", u)
			tok := token(t, user)
			for _, m := range []string{"PUT", "DELETE", "PUT"} {
				if code, b := retrying(t, m, api("/api/v1/videos/"+liked+"/like"), tok, nil); code != 200 {
					t.Errorf("%s %s like: %d %s", user, m, code, b)
				}
			}
			code, b := retrying(t, "POST", api("/api/v1/me/favourites/folders"), tok, map[string]string{"name": "Later"})
			var f struct{ ID string }
			if code != 201 || json.Unmarshal(b, &f) != nil {
				t.Errorf("%s folder: %d %s", user, code, b)
				return
			}
			fav := func(m, folder string) {
				if code, b := retrying(t, m, api("/api/v1/me/favourites/folders/"+folder+"/videos/"+faved), tok, nil); code != 200 {
					t.Errorf("%s %s %s: %d %s", user, m, folder, code, b)
				}
			}
			fav("PUT", "default")
			fav("PUT", f.ID)
			fav("DELETE", "default")
			if u%4 == 3 {
				fav("DELETE", f.ID) // a quarter end with the video in no folder
			} else {
				fav("PUT", "default")
			}
		}()
	}
	wg.Wait()
	cl.Tablestore().SetFaults(otsemu.Faults{})
	t.Logf("clients retried %d failed requests and resent %d answered ones", retried.Load(), resent.Load())
	if resent.Load() == 0 {
		t.Fatal("no request was resent; the test proves less than it claims")
	}
	if t.Failed() {
		return
	}
	check := func(when string) {
		t.Helper()
		likes := count(t, tablestore.VideoLikes, nil, "video_id", liked)
		favs := count(t, tablestore.VideoFavourites, []tablestore.Pred{tablestore.Gt("folders", int64(0))}, "video_id", faved)
		if likes != users || favs != int64(wantFav) {
			t.Fatalf("%s: %d like edges (want %d), %d favouriting users (want %d)", when, likes, users, favs, wantFav)
		}
		if c := counts(t, liked); c.Likes != likes {
			t.Fatalf("%s: likes counter %d, edges %d", when, c.Likes, likes)
		}
		if c := counts(t, faved); c.Favourites != favs {
			t.Fatalf("%s: favourites counter %d, users %d", when, c.Favourites, favs)
		}
	}
	// Every finished request left its counter exact; rollup settles nothing new.
	check("after the storm")
	settle(t)
	check("after rollup")
	if n := count(t, tablestore.EngagementIntents, nil); n != 0 {
		t.Fatalf("%d intents left after rollup", n)
	}
	// The domain route serves the same truth as a client sees it.
	code, b := do(t, "GET", api("/api/v1/me/engagement?videos="+liked+","+faved), token(t, "storm-user-003"), nil)
	if code != 200 || !strings.Contains(string(b), `"liked":true`) || !strings.Contains(string(b), `"favourited":false`) {
		t.Fatalf("engagement: %d %s", code, b)
	}
}

// TestDanmakuPostedConcurrentlyAppearOnceInEveryFormat: 60 users post into one segment at once;
// the JSON segment, the XML and DPlayer's list all hold exactly those ids, once.
func TestDanmakuPostedConcurrentlyAppearOnceInEveryFormat(t *testing.T) {
	vid := newVideo(t, "owner")
	// Warm the caches first, so the posts must invalidate them.
	do(t, "GET", api("/api/v1/videos/"+vid+"/danmaku?segment=2"), "", nil)
	do(t, "GET", api("/api/v1/videos/"+vid+"/danmaku.xml"), "", nil)
	cl.Tablestore().SetFaults(otsemu.Faults{Rate: 0.1})
	const n = 60
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := map[string]any{"time_ms": 360000 + i*1000, "text": fmt.Sprintf("<b>弹幕 %d</b> & more", i), "color": "#00a1d6"}
			var code int
			var b []byte
			for try := 0; try < 20; try++ {
				if code, b = do(t, "POST", api("/api/v1/videos/"+vid+"/danmaku"), token(t, fmt.Sprintf("dm-user-%02d", i)), body); code != 503 && code != 0 {
					break
				}
			}
			var a struct{ ID string }
			if code != 201 || json.Unmarshal(b, &a) != nil {
				t.Errorf("post %d: %d %s", i, code, b)
				return
			}
			ids[i] = a.ID
			// Readers racing the posts.
			do(t, "GET", api("/api/v1/videos/"+vid+"/danmaku?segment=2"), "", nil)
		}()
	}
	wg.Wait()
	cl.Tablestore().SetFaults(otsemu.Faults{})
	if t.Failed() {
		return
	}
	// An instance that served a read before the last posts (if fcemu ran several) keeps its
	// copy for danmaku.Config.LocalTTL, 1 s: the staleness the design allows.
	time.Sleep(1100 * time.Millisecond)
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	exactly := func(name string, got []string) {
		t.Helper()
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] || !want[id] {
				t.Fatalf("%s: id %s twice or unknown", name, id)
			}
			seen[id] = true
		}
		if len(seen) != n {
			t.Fatalf("%s: %d danmaku, want %d", name, len(seen), n)
		}
	}
	code, b := do(t, "GET", api("/api/v1/videos/"+vid+"/danmaku?segment=2"), "", nil)
	var seg struct{ Items []struct{ ID, Text string } }
	if code != 200 || json.Unmarshal(b, &seg) != nil {
		t.Fatalf("segment: %d %s", code, b)
	}
	var got []string
	for _, it := range seg.Items {
		got = append(got, it.ID)
	}
	exactly("json segment", got)

	code, b = do(t, "GET", api("/api/v1/videos/"+vid+"/danmaku.xml"), "", nil)
	var doc struct {
		D []struct {
			P    string `xml:"p,attr"`
			Text string `xml:",chardata"`
		} `xml:"d"`
	}
	if code != 200 || xml.Unmarshal(b, &doc) != nil {
		t.Fatalf("xml: %d %.300s", code, b)
	}
	got = got[:0]
	for _, d := range doc.D {
		p := strings.Split(d.P, ",")
		if len(p) != 8 || !strings.HasPrefix(d.Text, "<b>弹幕") {
			t.Fatalf("xml entry %q %q", d.P, d.Text)
		}
		got = append(got, p[7])
	}
	exactly("xml", got)

	// DPlayer has no ids in its rows: the same danmaku are recognised by their texts.
	code, b = do(t, "GET", cl.GatewayURL+"/api/v1/dplayer/v3/?id="+vid+"&max=1000", "", nil)
	var dp struct {
		Code int
		Data [][5]any
	}
	if code != 200 || json.Unmarshal(b, &dp) != nil || dp.Code != 0 || len(dp.Data) != n {
		t.Fatalf("dplayer: %d %.300s", code, b)
	}
	texts := map[string]bool{}
	for _, row := range dp.Data {
		text, _ := row[4].(string)
		if texts[text] || !strings.HasPrefix(text, "&lt;b&gt;弹幕") {
			t.Fatalf("dplayer row %v", row)
		}
		texts[text] = true
	}
	if c := counts(t, vid); c.Danmaku != n {
		t.Fatalf("danmaku counter %d, want %d", c.Danmaku, n)
	}
}
