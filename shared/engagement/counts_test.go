package engagement

import (
	"context"
	"testing"

	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// TestCountsComeFromTheCacheWithTheRowAsTruth: reads are served from Redis while it has the
// counters, refilled from the row when it lost them, never rolled back by an older snapshot,
// and a recount that corrects a row does not leave the old value cached.
func TestCountsComeFromTheCacheWithTheRowAsTruth(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	vid := h.video("owner")
	get := func() int64 {
		t.Helper()
		c, err := h.svc.Counts(ctx, []string{vid})
		if err != nil {
			t.Fatal(err)
		}
		return c[vid].Likes
	}
	if _, err := h.svc.Like(ctx, "alice", vid); err != nil {
		t.Fatal(err)
	}
	// The row changes behind the cache's back: the cache still answers, so it is what is read.
	if _, err := h.svc.VideoOwner().Increment(ctx, vid, videos.ColLikes, 40); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != 1 {
		t.Fatalf("not served from the cache: %d", got)
	}
	// Losing Redis loses nothing: the row refills it.
	h.mr.FlushAll()
	if got := get(); got != 41 {
		t.Fatalf("after losing the cache: %d, want the row's 41", got)
	}
	// A snapshot older than what is cached (a late writer) never rolls it back.
	h.svc.CacheSnapshot(ctx, vid, map[string]int64{videos.ColLikes: 7, videos.ColCounterGen: 1})
	if got := get(); got != 41 {
		t.Fatalf("an older snapshot rolled the cache back: %d", got)
	}

	// Drift repaired by a recount shows at once, not when the cached value expires.
	other := h.video("owner")
	if _, err := h.svc.Like(ctx, "alice", other); err != nil {
		t.Fatal(err)
	}
	if err := h.db.Put(ctx, tablestore.VideoLikes.Name, likeKey(other, "bob"), tablestore.Cols{colLikedAt: int64(1)}, tablestore.IfNotExists()); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Ledger.Flag(ctx, "test", Counter{VideoLikes, other}); err != nil {
		t.Fatal(err)
	}
	rep, err := h.svc.Rollup(ctx)
	if err != nil || rep.Repair.Corrected != 1 {
		t.Fatalf("rollup: %+v %v", rep, err)
	}
	if st, err := h.svc.Like(ctx, "alice", other); err != nil || st.Likes != 2 {
		t.Fatalf("after the recount a client reads %+v %v, want 2 likes", st, err)
	}
}
