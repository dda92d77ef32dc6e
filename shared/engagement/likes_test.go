package engagement

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

func TestLikeIsIdempotentAndCountsOnce(t *testing.T) {
	h := newHarness(t)
	vid := h.video("owner")
	for i := range 3 {
		var st LikeState
		if code, _, b := h.call("PUT", "/api/v1/videos/"+vid+"/like", "alice", nil, &st); code != 200 || !st.Liked || st.Likes != 1 {
			t.Fatalf("like #%d: %d %s", i, code, b)
		}
	}
	var st LikeState
	h.call("PUT", "/api/v1/videos/"+vid+"/like", "bob", nil, &st)
	if st.Likes != 2 || h.counts(vid).Likes != 2 {
		t.Fatalf("two users: %+v, row %+v", st, h.counts(vid))
	}
	for i := range 2 {
		if code, _, b := h.call("DELETE", "/api/v1/videos/"+vid+"/like", "alice", nil, &st); code != 200 || st.Liked || st.Likes != 1 {
			t.Fatalf("unlike #%d: %d %s", i, code, b)
		}
	}
	if got := h.counts(vid).Likes; got != 1 || h.rows(tablestore.VideoLikes, "video_id", vid) != 1 {
		t.Fatalf("after unlikes: %d likes", got)
	}
	if rep := h.repair(); rep.Intents != 0 {
		t.Fatalf("intents left behind by finished requests: %+v", rep)
	}
}

func TestConcurrentLikeAndUnlikeOfOneUserEndWithCounterEqualEdges(t *testing.T) {
	h := newHarness(t)
	vid := h.video("owner")
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_, _ = h.svc.Like(ctx, "alice", vid)
			} else {
				_, _ = h.svc.Unlike(ctx, "alice", vid)
			}
		}()
	}
	wg.Wait()
	edges := h.rows(tablestore.VideoLikes, "video_id", vid)
	if got := h.counts(vid).Likes; got != edges {
		t.Fatalf("likes %d, edges %d", got, edges)
	}
}

// TestLostResponsesNeverDoubleCount loses a fifth of the write responses after the emulator
// applied them, as a reset connection does. Requests then fail as unavailable, clients retry,
// and every counter ends equal to its edges after the drift flags are settled.
func TestLostResponsesNeverDoubleCount(t *testing.T) {
	h := newHarness(t)
	vid := h.video("owner")
	h.lossy.set(0.2, "PutRow", "UpdateRow", "DeleteRow")
	var wg sync.WaitGroup
	for u := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("user%02d", u)
			for _, method := range []string{"PUT", "DELETE", "PUT"}[:1+u%3] {
				for try := 0; ; try++ {
					code, _, b := h.call(method, "/api/v1/videos/"+vid+"/like", user, nil, nil)
					if code == 200 {
						break
					}
					if code != 503 || try > 50 {
						t.Errorf("%s %s: %d %s", user, method, code, b)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	h.lossy.set(0)
	if h.lossy.lost.Load() == 0 {
		t.Fatal("no response was lost; the test proves nothing")
	}
	h.repair()
	edges := h.rows(tablestore.VideoLikes, "video_id", vid)
	if want := int64(7 + 6); edges != want { // users with u%3 == 0 (PUT) or 2 (PUT, DELETE, PUT)
		t.Fatalf("edges %d, want %d", edges, want)
	}
	if got := h.counts(vid).Likes; got != edges {
		t.Fatalf("likes %d, edges %d (%d responses lost)", got, edges, h.lossy.lost.Load())
	}
}

// TestCrashAfterEdgeBeforeIncrementIsRepaired replays what a request killed between the edge
// write and the increment leaves behind.
func TestCrashAfterEdgeBeforeIncrementIsRepaired(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	vid := h.video("owner")
	h.svc.Like(ctx, "alice", vid)
	op, err := h.svc.Ledger.Begin(ctx, "like", []Counter{{VideoLikes, vid}})
	if err != nil {
		t.Fatal(err)
	}
	_ = op // the request dies here, after:
	if err := h.db.Put(ctx, tablestore.VideoLikes.Name, likeKey(vid, "bob"), tablestore.Cols{colLikedAt: int64(1)}, tablestore.IfNotExists()); err != nil {
		t.Fatal(err)
	}
	if got := h.counts(vid).Likes; got != 1 {
		t.Fatalf("before repair: %d", got)
	}
	// While the request could still be alive, the intent is left alone.
	if rep, _ := h.svc.Ledger.Repair(ctx); rep.Dead != 0 || rep.Corrected != 0 {
		t.Fatalf("repair touched a live intent: %+v", rep)
	}
	rep := h.repair()
	if rep.Dead != 1 || rep.Corrected != 1 || rep.Cleared != 1 {
		t.Fatalf("repair: %+v", rep)
	}
	if got := h.counts(vid).Likes; got != 2 {
		t.Fatalf("after repair: %d", got)
	}
	if rep := h.repair(); rep.Intents != 0 {
		t.Fatalf("second repair: %+v", rep)
	}
}

// TestRecountDefersToLiveChanges: a recount never commits over a change in flight, whether it
// shows as a live intent or as a generation that moved during the count.
func TestRecountDefersToLiveChanges(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	vid := h.video("owner")
	if err := h.svc.Ledger.Flag(ctx, "test", Counter{VideoLikes, vid}); err != nil {
		t.Fatal(err)
	}
	// Drift: an edge nobody counted.
	h.db.Put(ctx, tablestore.VideoLikes.Name, likeKey(vid, "ghost"), tablestore.Cols{colLikedAt: int64(1)}, tablestore.Always)
	live, _ := h.svc.Ledger.Begin(ctx, "like", []Counter{{VideoLikes, vid}})
	rep, _ := h.svc.Ledger.Repair(ctx)
	if rep.Deferred != 1 || rep.Corrected != 0 || h.counts(vid).Likes != 0 {
		t.Fatalf("with a live intent: %+v, likes %d", rep, h.counts(vid).Likes)
	}
	live.End(ctx)
	if rep, _ := h.svc.Ledger.Repair(ctx); rep.Corrected != 1 || rep.Cleared != 1 || h.counts(vid).Likes != 1 {
		t.Fatalf("once the change ended: %+v, likes %d", rep, h.counts(vid).Likes)
	}

	// A counter whose generation moves (a change lands) while its truth is being counted.
	owner := h.svc.VideoOwner()
	raced := false
	h.svc.Ledger.Register("test.racy", CounterDef{Owner: owner, Col: videos.ColLikes, Count: func(ctx context.Context, ref string) (int64, error) {
		if !raced {
			raced = true
			if _, err := owner.Increment(ctx, ref, videos.ColLikes, 0); err != nil {
				return 0, err
			}
		}
		return 99, nil // what a count racing that change might see
	}})
	h.svc.Ledger.Flag(ctx, "test", Counter{"test.racy", vid})
	rep, _ = h.svc.Ledger.Repair(ctx)
	if rep.Corrected != 0 || rep.Deferred != 1 || rep.Cleared != 0 || h.counts(vid).Likes != 1 {
		t.Fatalf("racy recount committed: %+v, likes %d", rep, h.counts(vid).Likes)
	}
	if rep, _ = h.svc.Ledger.Repair(ctx); rep.Corrected != 1 || rep.Cleared != 1 || h.counts(vid).Likes != 99 {
		t.Fatalf("the next run: %+v, likes %d", rep, h.counts(vid).Likes)
	}
}

func TestMyLikesNewestFirstSkipsStaleRows(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for range 5 {
		ids = append(ids, h.video("owner"))
	}
	for _, id := range ids {
		h.call("PUT", "/api/v1/videos/"+id+"/like", "alice", nil, nil)
		h.advance(time.Second)
	}
	h.call("DELETE", "/api/v1/videos/"+ids[1]+"/like", "alice", nil, nil)
	// A listing row left by a request that lost a race: no edge has this time.
	h.db.Put(context.Background(), tablestore.UserLikes.Name, userLikeKey("alice", 1, ids[0]), tablestore.Cols{}, tablestore.Always)
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		var list httpapi.List[LikedVideo]
		code, _, b := h.call("GET", "/api/v1/me/likes?limit=2&cursor="+cursor, "alice", nil, &list)
		if code != 200 || pages > 5 {
			t.Fatalf("page %d: %d %s", pages, code, b)
		}
		for _, it := range list.Items {
			if it.Video == nil || it.Video.ID != it.VideoID || it.Video.Counts.Likes != 1 {
				t.Fatalf("item %+v", it)
			}
			got = append(got, it.VideoID)
		}
		if list.NextCursor == "" {
			break
		}
		cursor = list.NextCursor
	}
	want := []string{ids[4], ids[3], ids[2], ids[0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("likes %v, want %v", got, want)
	}
	if n := h.rows(tablestore.UserLikes, "user_id", "alice"); n != 4 {
		t.Fatalf("stale listing rows not removed: %d rows", n)
	}
}

func TestLikeRules(t *testing.T) {
	h := newHarness(t)
	pub, priv, proc := h.video("owner"), h.video("owner", private), h.video("owner", processing)
	t.Run("without a token is 401", func(t *testing.T) {
		code, hdr, b := h.call("PUT", "/api/v1/videos/"+pub+"/like", "", nil, nil)
		h.problem(401, "authentication_required", code, hdr, b)
	})
	t.Run("unknown video is video_not_found", func(t *testing.T) {
		code, hdr, b := h.call("PUT", "/api/v1/videos/0000000000000000/like", "alice", nil, nil)
		h.problem(404, "video_not_found", code, hdr, b)
		code, hdr, b = h.call("PUT", "/api/v1/videos/not-an-id/like", "alice", nil, nil)
		h.problem(404, "video_not_found", code, hdr, b)
	})
	t.Run("private video is video_not_found to strangers", func(t *testing.T) {
		code, hdr, b := h.call("PUT", "/api/v1/videos/"+priv+"/like", "alice", nil, nil)
		h.problem(404, "video_not_found", code, hdr, b)
		if code, _, b := h.call("PUT", "/api/v1/videos/"+priv+"/like", "owner", nil, nil); code != 200 {
			t.Fatalf("owner liking their private video: %d %s", code, b)
		}
	})
	t.Run("unpublished video is video_not_ready to its owner", func(t *testing.T) {
		code, hdr, b := h.call("PUT", "/api/v1/videos/"+proc+"/like", "owner", nil, nil)
		h.problem(409, "video_not_ready", code, hdr, b)
	})
	t.Run("a foreign cursor is invalid_cursor", func(t *testing.T) {
		h.call("PUT", "/api/v1/videos/"+pub+"/like", "bob", nil, nil)
		h.call("PUT", "/api/v1/videos/"+h.video("o")+"/like", "bob", nil, nil)
		var list httpapi.List[LikedVideo]
		h.call("GET", "/api/v1/me/likes?limit=1", "bob", nil, &list)
		if list.NextCursor == "" {
			t.Fatal("no cursor")
		}
		code, hdr, b := h.call("GET", "/api/v1/me/likes?cursor="+list.NextCursor, "alice", nil, nil)
		h.problem(400, "invalid_cursor", code, hdr, b)
		code, hdr, b = h.call("GET", "/api/v1/me/likes?cursor=%21%21", "alice", nil, nil)
		h.problem(400, "invalid_cursor", code, hdr, b)
	})
}

func TestEngagementSummaryIsOneBatch(t *testing.T) {
	h := newHarness(t)
	a, b, c := h.video("o"), h.video("o"), h.video("o")
	h.call("PUT", "/api/v1/videos/"+a+"/like", "alice", nil, nil)
	h.call("PUT", "/api/v1/me/favourites/folders/default/videos/"+b, "alice", nil, nil)
	var out struct{ Items []VideoEngagement }
	code, _, body := h.call("GET", "/api/v1/me/engagement?videos="+a+","+b+","+c+","+a, "alice", nil, &out)
	if code != 200 || len(out.Items) != 3 {
		t.Fatalf("%d %s", code, body)
	}
	if !out.Items[0].Liked || out.Items[0].Favourited || out.Items[1].Liked || !out.Items[1].Favourited ||
		fmt.Sprint(out.Items[1].Folders) != "[default]" || out.Items[2].Liked || out.Items[2].Favourited {
		t.Fatalf("items %+v", out.Items)
	}
	t.Run("no ids is invalid_video_ids", func(t *testing.T) {
		code, hdr, b := h.call("GET", "/api/v1/me/engagement", "alice", nil, nil)
		h.problem(400, "invalid_video_ids", code, hdr, b)
	})
	t.Run("a malformed id is invalid_video_ids", func(t *testing.T) {
		code, hdr, b := h.call("GET", "/api/v1/me/engagement?videos="+a+",../x", "alice", nil, nil)
		h.problem(400, "invalid_video_ids", code, hdr, b)
	})
	t.Run("more than 100 ids is invalid_video_ids", func(t *testing.T) {
		q := a
		for range 100 {
			q += "," + fmt.Sprintf("%016d", rand.IntN(1e9))
		}
		code, hdr, b := h.call("GET", "/api/v1/me/engagement?videos="+q, "alice", nil, nil)
		h.problem(400, "invalid_video_ids", code, hdr, b)
	})
	_ = http.StatusOK
}

// TestEveryWriteWithoutATokenIs401: each route that changes something, or reads "me", refuses
// an anonymous caller before it looks at anything else, and changes nothing.
func TestEveryWriteWithoutATokenIs401(t *testing.T) {
	h := newHarness(t)
	vid := h.video("owner")
	c := h.comment("alice", vid, "hello", "")
	f := h.folder("alice", "Later")
	for _, r := range []struct{ method, path string }{
		{"PUT", "/api/v1/videos/" + vid + "/like"},
		{"DELETE", "/api/v1/videos/" + vid + "/like"},
		{"GET", "/api/v1/me/likes"},
		{"GET", "/api/v1/me/engagement?videos=" + vid},
		{"GET", "/api/v1/me/favourites/folders"},
		{"POST", "/api/v1/me/favourites/folders"},
		{"PATCH", "/api/v1/me/favourites/folders/" + f.ID},
		{"DELETE", "/api/v1/me/favourites/folders/" + f.ID},
		{"GET", "/api/v1/me/favourites/folders/" + f.ID + "/videos"},
		{"PUT", "/api/v1/me/favourites/folders/default/videos/" + vid},
		{"DELETE", "/api/v1/me/favourites/folders/default/videos/" + vid},
		{"POST", "/api/v1/videos/" + vid + "/comments"},
		{"DELETE", "/api/v1/comments/" + c.ID},
		{"PUT", "/api/v1/comments/" + c.ID + "/like"},
		{"DELETE", "/api/v1/comments/" + c.ID + "/like"},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			var body any
			if r.method == "POST" || r.method == "PATCH" {
				body = map[string]string{"name": "x", "text": "x"}
			}
			code, hdr, b := h.call(r.method, r.path, "", body, nil)
			h.problem(401, "authentication_required", code, hdr, b)
		})
	}
	if got := h.counts(vid); got.Likes != 0 || got.Favourites != 0 || got.Comments != 1 {
		t.Fatalf("an anonymous request changed the counters: %+v", got)
	}
	if fs, err := h.svc.Folders(context.Background(), "alice"); err != nil || len(fs) != 2 {
		t.Fatalf("folders %+v %v", fs, err)
	}
}
