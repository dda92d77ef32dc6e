package redis

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

var rule = ViewRule{MinWatch: 10 * time.Second, Window: time.Hour}

func TestHeartbeatsCountOncePerWindowAfterMinWatch(t *testing.T) {
	ctx := context.Background()
	c, clk := newTestClient(t)
	hb := Heartbeat{VideoID: "v1", Viewer: "u:alice", Day: 20261126}
	want := func(step string, got []HeartbeatResult, err error, w HeartbeatResult) {
		t.Helper()
		if err != nil || len(got) != 1 || got[0] != w {
			t.Fatalf("%s: %v %v, want %v", step, got, err, w)
		}
	}
	res, err := c.Heartbeats(ctx, rule, clk.now, []Heartbeat{hb})
	want("first", res, err, HeartbeatFirst)
	advance(clk, 9*time.Second)
	res, err = c.Heartbeats(ctx, rule, clk.now, []Heartbeat{hb})
	want("after 9 s", res, err, HeartbeatWatching)
	advance(clk, time.Second)
	res, err = c.Heartbeats(ctx, rule, clk.now, []Heartbeat{hb})
	want("after 10 s", res, err, HeartbeatCounted)
	advance(clk, 30*time.Minute)
	res, err = c.Heartbeats(ctx, rule, clk.now, []Heartbeat{hb})
	want("same hour", res, err, HeartbeatAlreadyCounted)
	advance(clk, 31*time.Minute)
	res, err = c.Heartbeats(ctx, rule, clk.now, []Heartbeat{hb})
	want("next hour", res, err, HeartbeatFirst)
	advance(clk, 10*time.Second)
	res, err = c.Heartbeats(ctx, rule, clk.now, []Heartbeat{hb})
	want("next hour after 10 s", res, err, HeartbeatCounted)

	id, err := c.RotateTallies(ctx)
	if err != nil || id == 0 {
		t.Fatalf("rotate: %d %v", id, err)
	}
	got, err := c.ReadBatch(ctx, id)
	if err != nil || got[TallyField("v1", 20261126, "views")] != 2 || len(got) != 1 {
		t.Fatalf("batch: %v %v", got, err)
	}
}

func TestHeartbeatBatchMixesViewers(t *testing.T) {
	ctx := context.Background()
	c, clk := newTestClient(t)
	var hbs []Heartbeat
	for i := range 50 {
		hbs = append(hbs, Heartbeat{VideoID: fmt.Sprintf("v%d", i%5), Viewer: fmt.Sprintf("s:%d", i), Day: 20261126})
	}
	if _, err := c.Heartbeats(ctx, rule, clk.now, hbs); err != nil {
		t.Fatal(err)
	}
	advance(clk, 11*time.Second)
	// The same batch twice: the first counts, the duplicate is already counted.
	res, err := c.Heartbeats(ctx, rule, clk.now, append(hbs, hbs...))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if want := map[bool]HeartbeatResult{true: HeartbeatCounted, false: HeartbeatAlreadyCounted}[i < 50]; r != want {
			t.Fatalf("heartbeat %d: %v, want %v", i, r, want)
		}
	}
	id, _ := c.RotateTallies(ctx)
	got, _ := c.ReadBatch(ctx, id)
	for i := range 5 {
		if n := got[TallyField(fmt.Sprintf("v%d", i), 20261126, "views")]; n != 10 {
			t.Fatalf("v%d: %d views, want 10", i, n)
		}
	}
}

func TestBatchesRotateInOrderAndDrop(t *testing.T) {
	ctx := context.Background()
	c, clk := newTestClient(t)
	if id, err := c.RotateTallies(ctx); err != nil || id != 0 {
		t.Fatalf("rotating nothing: %d %v", id, err)
	}
	var ids []int64
	for i := range 3 {
		if err := c.AddTallies(ctx, Tally{VideoID: "v", Day: 20261126, Column: "likes", Delta: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
		id, err := c.RotateTallies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		open, err := c.OpenBatches(ctx)
		if err != nil || len(open) != 1 || open[0] != id {
			t.Fatalf("open batches %v %v", open, err)
		}
		b, _ := c.ReadBatch(ctx, id)
		if b[TallyField("v", 20261126, "likes")] != int64(i+1) {
			t.Fatalf("batch %d: %v", i, b)
		}
		// While a batch is open no other is rotated: rows refuse only batches they took.
		_ = c.AddTallies(ctx, Tally{VideoID: "v", Day: 20261126, Column: "likes", Delta: 100})
		if id, err := c.RotateTallies(ctx); !errors.Is(err, ErrBatchOpen) || id != 0 {
			t.Fatalf("rotating with batch %d open: %d %v", ids[i], id, err)
		}
		if err := c.DropBatch(ctx, id); err != nil {
			t.Fatal(err)
		}
		_, _ = c.RotateTallies(ctx) // the 100 go in a batch of their own
		open, _ = c.OpenBatches(ctx)
		for _, o := range open {
			_ = c.DropBatch(ctx, o)
		}
	}
	if !(ids[0] < ids[1] && ids[1] < ids[2]) {
		t.Fatalf("batch ids do not grow within one millisecond: %v", ids)
	}
	// A server clock stepping back must not produce a smaller id.
	clk.now = clk.now.Add(-time.Hour)
	clk.m.SetTime(clk.now)
	_ = c.AddTallies(ctx, Tally{VideoID: "v", Day: 20261126, Column: "likes", Delta: 9})
	id, _ := c.RotateTallies(ctx)
	if id <= ids[2] {
		t.Fatalf("batch id %d after %d with the clock stepped back", id, ids[2])
	}
	if open, err := c.OpenBatches(ctx); err != nil || len(open) != 1 || open[0] != id {
		t.Fatalf("open batches %v %v", open, err)
	}
	if _, _, _, err := ParseTallyField("x|y"); err == nil {
		t.Fatal("malformed field parsed")
	}
}

func TestSetIfNewerKeepsTheNewestGeneration(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	if ok, err := c.SetIfNewer(ctx, "cnt:v", 5, map[string]int64{"likes": 5}, time.Minute); !ok || err != nil {
		t.Fatalf("first: %v %v", ok, err)
	}
	if ok, _ := c.SetIfNewer(ctx, "cnt:v", 4, map[string]int64{"likes": 4}, time.Minute); ok {
		t.Fatal("an older generation overwrote a newer one")
	}
	if ok, _ := c.SetIfNewer(ctx, "cnt:v", 5, map[string]int64{"likes": 5, "views": 9}, time.Minute); !ok {
		t.Fatal("the same generation (a fresher read) was refused")
	}
	got, err := c.GetVersioned(ctx, []string{"cnt:v", "cnt:missing"}, "likes", "views", "comments")
	if err != nil || got[1] != nil || got[0] == nil || got[0].Gen != 5 || got[0].Fields["likes"] != 5 || got[0].Fields["views"] != 9 {
		t.Fatalf("got %+v %v", got, err)
	}
	if _, ok := got[0].Fields["comments"]; ok {
		t.Fatal("a field never set is reported")
	}
}

func TestFragmentsRefuseARenderThatRacedWithAChange(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	f, err := c.GetFragment(ctx, "dm:v", "seg:1")
	if err != nil || f.Value != nil || f.Version != "" {
		t.Fatalf("empty: %+v %v", f, err)
	}
	// A reader renders segment 1; meanwhile a post invalidates it.
	if err := c.InvalidateFragments(ctx, "dm:v", "seg:1", "seg:"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.PutFragment(ctx, "dm:v", "seg:1", []byte("stale"), f.Version, time.Minute); ok {
		t.Fatal("a render older than the change was cached")
	}
	f, _ = c.GetFragment(ctx, "dm:v", "seg:1")
	if ok, _ := c.PutFragment(ctx, "dm:v", "seg:1", []byte("one"), f.Version, time.Minute); !ok {
		t.Fatal("a fresh render was refused")
	}
	f2, _ := c.GetFragment(ctx, "dm:v", "seg:2")
	_, _ = c.PutFragment(ctx, "dm:v", "seg:2", []byte("two"), f2.Version, time.Minute)
	_, _ = c.PutFragment(ctx, "dm:v", "xml", []byte("<i/>"), f2.Version, time.Minute)
	// A post to segment 2 drops seg:2 and xml, keeps seg:1.
	if err := c.InvalidateFragments(ctx, "dm:v", "seg:2", "seg:"); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{"seg:1": "one", "seg:2": "", "xml": ""} {
		f, _ := c.GetFragment(ctx, "dm:v", field)
		if string(f.Value) != want {
			t.Fatalf("%s = %q, want %q", field, f.Value, want)
		}
	}
}

func TestRankPagesAndSentinel(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	if _, built, err := c.RankPage(ctx, "top:v", 0, 10); built || err != nil {
		t.Fatalf("missing ranking reported built: %v", err)
	}
	_ = c.RankAdd(ctx, "top:v", "x", 1) // ignored: the ranking is not built
	if err := c.RankFill(ctx, "top:v", map[string]float64{}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if m, built, _ := c.RankPage(ctx, "top:v", 0, 10); !built || len(m) != 0 {
		t.Fatalf("empty ranking: %v %v", m, built)
	}
	_ = c.RankFill(ctx, "top:v", map[string]float64{"a": 1, "b": 5, "c": 3}, time.Minute)
	_ = c.RankIncr(ctx, "top:v", "a", 10)
	_ = c.RankAdd(ctx, "top:v", "d", 4)
	_ = c.RankRemove(ctx, "top:v", "c")
	m, _, _ := c.RankPage(ctx, "top:v", 0, 2)
	m2, _, _ := c.RankPage(ctx, "top:v", 2, 2)
	if fmt.Sprint(m, m2) != "[a b] [d]" {
		t.Fatalf("pages %v %v", m, m2)
	}
}

func TestClaimKeepsTheFirstValue(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	v, ok, err := c.Claim(ctx, "idem:k", []byte("c1"), time.Minute)
	if err != nil || !ok || string(v) != "c1" {
		t.Fatalf("first: %q %v %v", v, ok, err)
	}
	v, ok, _ = c.Claim(ctx, "idem:k", []byte("c2"), time.Minute)
	if ok || string(v) != "c1" {
		t.Fatalf("second: %q %v", v, ok)
	}
}

// The anonymous sessions of one source add at most MaxPerSource views of a video per window;
// other sources, other videos and signed-in viewers are not held back.
func TestAnonymousViewsAreCappedPerSource(t *testing.T) {
	ctx := context.Background()
	c, clk := newTestClient(t)
	capped := ViewRule{MinWatch: 10 * time.Second, Window: time.Hour, MaxPerSource: 2}
	var hbs []Heartbeat
	for i := range 5 {
		hbs = append(hbs, Heartbeat{VideoID: "v1", Viewer: fmt.Sprintf("s:bot-%d", i), Day: 20261126, Source: "198.51.100.7"})
	}
	hbs = append(hbs,
		Heartbeat{VideoID: "v1", Viewer: "s:neighbour", Day: 20261126, Source: "203.0.113.9"},
		Heartbeat{VideoID: "v2", Viewer: "s:bot-0", Day: 20261126, Source: "198.51.100.7"},
		Heartbeat{VideoID: "v1", Viewer: "u:alice", Day: 20261126})
	if _, err := c.Heartbeats(ctx, capped, clk.now, hbs); err != nil {
		t.Fatal(err)
	}
	advance(clk, 10*time.Second)
	res, err := c.Heartbeats(ctx, capped, clk.now, hbs)
	if err != nil {
		t.Fatal(err)
	}
	counted, held := 0, 0
	for _, r := range res[:5] {
		switch r {
		case HeartbeatCounted:
			counted++
		case HeartbeatCapped:
			held++
		}
	}
	if counted != 2 || held != 3 || res[5] != HeartbeatCounted || res[6] != HeartbeatCounted || res[7] != HeartbeatCounted {
		t.Fatalf("results %v", res)
	}
	// A capped window is closed: its next heartbeats count nothing either.
	advance(clk, time.Minute)
	if res, _ := c.Heartbeats(ctx, capped, clk.now, hbs[:5]); res[0] != HeartbeatAlreadyCounted {
		t.Fatalf("later: %v", res)
	}
	id, _ := c.RotateTallies(ctx)
	got, err := c.ReadBatch(ctx, id)
	if err != nil || got[TallyField("v1", 20261126, "views")] != 4 || got[TallyField("v2", 20261126, "views")] != 1 {
		t.Fatalf("batch: %v %v", got, err)
	}
	// The next window, the source may add views again.
	advance(clk, time.Hour)
	c.Heartbeats(ctx, capped, clk.now, hbs[:5])
	advance(clk, 10*time.Second)
	res, _ = c.Heartbeats(ctx, capped, clk.now, hbs[:5])
	if n := countOf(res, HeartbeatCounted); n != 2 {
		t.Fatalf("next hour: %v", res)
	}
}

func countOf(rs []HeartbeatResult, w HeartbeatResult) int {
	n := 0
	for _, r := range rs {
		if r == w {
			n++
		}
	}
	return n
}
