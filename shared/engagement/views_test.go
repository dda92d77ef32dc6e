package engagement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/tablestore"
)

func (h *harness) beat(user, vid, session string, pos float64) ViewState {
	h.t.Helper()
	var st ViewState
	if code, _, b := h.call("POST", "/api/v1/videos/"+vid+"/views", user, map[string]any{"session_id": session, "position_s": pos}, &st); code != 200 {
		h.t.Fatalf("heartbeat: %d %s", code, b)
	}
	return st
}

func (h *harness) stats(vid string) *tablestore.Row {
	h.t.Helper()
	r, err := h.db.Get(context.Background(), tablestore.VideoStatsDaily.Name, tablestore.K("video_id", vid, "day", int64(Day(time.UnixMilli(h.now.Load())))))
	if err != nil {
		h.t.Fatal(err)
	}
	if r == nil {
		return &tablestore.Row{Cols: tablestore.Cols{}}
	}
	return r
}

func TestViewCountsOncePerViewerPerHourAfterTenSeconds(t *testing.T) {
	h := newHarness(t)
	vid := h.video("owner")
	if st := h.beat("", vid, "session-a1", 0); st.Counted || st.State != "started" {
		t.Fatalf("first beat: %+v", st)
	}
	h.advance(5 * time.Second)
	if st := h.beat("", vid, "session-a1", 5); st.Counted {
		t.Fatalf("after 5 s: %+v", st)
	}
	h.advance(5 * time.Second)
	if st := h.beat("", vid, "session-a1", 10); !st.Counted || st.State != "counted" {
		t.Fatalf("after 10 s: %+v", st)
	}
	h.advance(10 * time.Second)
	if st := h.beat("", vid, "session-a1", 20); st.State != "already_counted" {
		t.Fatalf("later: %+v", st)
	}
	// A signed-in viewer counts once across devices.
	h.beat("alice", vid, "phone-0001", 0)
	h.beat("alice", vid, "laptop-0001", 0)
	h.advance(11 * time.Second)
	if st := h.beat("alice", vid, "laptop-0001", 11); st.State != "counted" {
		t.Fatalf("alice: %+v", st)
	}
	if st := h.beat("alice", vid, "phone-0001", 11); st.State != "already_counted" {
		t.Fatalf("alice's second device: %+v", st)
	}
	rep, err := h.svc.Flush(context.Background())
	if err != nil || rep.Batches != 1 || rep.Views != 2 {
		t.Fatalf("flush %+v %v", rep, err)
	}
	if got := h.counts(vid).Views; got != 2 || h.stats(vid).Int("views") != 2 {
		t.Fatalf("views %d, daily %d", got, h.stats(vid).Int("views"))
	}
	// The next hour counts again.
	h.advance(time.Hour)
	h.beat("", vid, "session-a1", 1)
	h.advance(10 * time.Second)
	if st := h.beat("", vid, "session-a1", 11); st.State != "counted" {
		t.Fatalf("next hour: %+v", st)
	}
}

func TestHeartbeatRules(t *testing.T) {
	h := newHarness(t)
	vid := h.video("owner")
	beat := func(user, v string, body any) (int, []byte) {
		code, hdr, b := h.call("POST", "/api/v1/videos/"+v+"/views", user, body, nil)
		_ = hdr
		return code, b
	}
	cases := []struct {
		name, code string
		status     int
		video      string
		body       any
	}{
		{"a short session id is invalid_session_id", "invalid_session_id", 400, vid, map[string]any{"session_id": "abc", "position_s": 1}},
		{"a session id with slashes is invalid_session_id", "invalid_session_id", 400, vid, map[string]any{"session_id": "../../etc/passwd", "position_s": 1}},
		{"a negative position is invalid_position", "invalid_position", 400, vid, map[string]any{"session_id": "session-01", "position_s": -1}},
		{"a position past the end is invalid_position", "invalid_position", 400, vid, map[string]any{"session_id": "session-01", "position_s": 601.5}},
		{"a missing position is invalid_position", "invalid_position", 400, vid, map[string]any{"session_id": "session-01"}},
		{"a private video is video_not_found", "video_not_found", 404, h.video("owner", private), map[string]any{"session_id": "session-01", "position_s": 1}},
		{"an unknown video is video_not_found", "video_not_found", 404, "0000000000000000", map[string]any{"session_id": "session-01", "position_s": 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, hdr, b := h.call("POST", "/api/v1/videos/"+c.video+"/views", "", c.body, nil)
			h.problem(c.status, c.code, code, hdr, b)
		})
	}
	_ = beat
}

// TestFlushAppliesEachBatchOnce: a flush whose writes are applied but whose answers are lost
// fails; the batch stays in Redis, and the next flush applies it where it had not landed.
func TestFlushAppliesEachBatchOnce(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var vids []string
	for range 30 {
		vids = append(vids, h.video("owner"))
	}
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = h.svc.Heartbeat(ctx, "", "", vids[i%30], ViewInput{SessionID: fmt.Sprintf("sess-%04d", i), PositionS: ptr(0.0)})
		}()
	}
	wg.Wait()
	h.advance(10 * time.Second)
	for i := range 300 {
		st, err := h.svc.Heartbeat(ctx, "", "", vids[i%30], ViewInput{SessionID: fmt.Sprintf("sess-%04d", i), PositionS: ptr(10.0)})
		if err != nil || st.State != "counted" {
			t.Fatalf("heartbeat %d: %+v %v", i, st, err)
		}
	}
	h.svc.Like(ctx, "alice", vids[0])
	// Every BatchWriteRow answer is lost (after the emulator applied it), and the emulator is
	// also busy now and then: the flush fails, having applied part of the batch.
	h.lossy.set(1, "BatchWriteRow")
	h.emu.SetFaults(otsemu.Faults{Rate: 0.2, Actions: []string{"BatchWriteRow"}})
	if _, err := h.svc.Flush(ctx); err == nil {
		t.Fatal("flush with lost answers succeeded")
	}
	h.lossy.set(0)
	// Then it succeeds, under faults that the SDK and our retries absorb.
	rep, err := h.svc.Flush(ctx)
	h.emu.SetFaults(otsemu.Faults{})
	if err != nil || rep.Batches != 1 {
		t.Fatalf("second flush: %+v %v", rep, err)
	}
	for _, v := range vids {
		if got := h.counts(v).Views; got != 10 {
			t.Fatalf("video %s: %d views, want 10", v, got)
		}
		if got := h.stats(v).Int("views"); got != 10 {
			t.Fatalf("video %s: %d daily views, want 10", v, got)
		}
	}
	if h.stats(vids[0]).Int("likes") != 1 {
		t.Fatal("the like of the day was not tallied")
	}
	// Nothing pending: a flush is a no-op, and re-applying the dropped batch changes nothing.
	if rep, err := h.svc.Flush(ctx); err != nil || rep.Batches != 0 {
		t.Fatalf("idle flush: %+v %v", rep, err)
	}
}

// TestOverlappingFlushesApplyEveryViewOnce: two rollup runs overlap. Run A rotates the pending
// views into its batch and is slow to apply it; run B, which found no open batch just before,
// arrives while more views come in. Whatever B does, no view is lost or counted twice.
func TestOverlappingFlushesApplyEveryViewOnce(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	vid := h.video("owner")
	today := Day(time.UnixMilli(h.now.Load()))
	tally := func(n int64) {
		t.Helper()
		if err := h.svc.rdb.AddTallies(ctx, redis.Tally{VideoID: vid, Day: today, Column: "views", Delta: n}); err != nil {
			t.Fatal(err)
		}
	}
	tally(3)
	idA, err := h.svc.rdb.RotateTallies(ctx) // run A
	if err != nil || idA == 0 {
		t.Fatalf("rotating: %d %v", idA, err)
	}
	tally(4)
	// Run B's rotation comes after A's, while A's batch is still open.
	if idB, err := h.svc.rdb.RotateTallies(ctx); err != nil && !errors.Is(err, redis.ErrBatchOpen) {
		t.Fatal(err)
	} else if idB != 0 {
		var rep FlushReport
		if err := h.svc.applyBatch(ctx, idB, &rep); err != nil {
			t.Fatal(err)
		}
	}
	var rep FlushReport
	if err := h.svc.applyBatch(ctx, idA, &rep); err != nil { // run A goes on
		t.Fatal(err)
	}
	if _, err := h.svc.Flush(ctx); err != nil { // the next tick
		t.Fatal(err)
	}
	if got, daily := h.counts(vid).Views, h.stats(vid).Int("views"); got != 7 || daily != 7 {
		t.Fatalf("views %d, daily %d, want 7", got, daily)
	}
}

// TestConcurrentFlushesUnderLiveTrafficCountEveryViewOnce: flushes run back to back from several
// goroutines (overlapping timer runs) while views keep being counted.
func TestConcurrentFlushesUnderLiveTrafficCountEveryViewOnce(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	vids := []string{h.video("owner"), h.video("owner"), h.video("owner")}
	today := Day(time.UnixMilli(h.now.Load()))
	stop := make(chan struct{})
	var flushers sync.WaitGroup
	for range 3 {
		flushers.Add(1)
		go func() {
			defer flushers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := h.svc.Flush(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var want [3]int64
	for i := range 300 {
		v := i % 3
		if err := h.svc.rdb.AddTallies(ctx, redis.Tally{VideoID: vids[v], Day: today, Column: "views", Delta: 1}); err != nil {
			t.Fatal(err)
		}
		want[v]++
	}
	close(stop)
	flushers.Wait()
	if _, err := h.svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, v := range vids {
		if got, daily := h.counts(v).Views, h.stats(v).Int("views"); got != want[i] || daily != want[i] {
			t.Fatalf("video %d: views %d, daily %d, want %d", i, got, daily, want[i])
		}
	}
}

// The heartbeats of a window the instance has seen are answered without Redis, and only
// while Redis would answer the same: crossing the minimum watch time and a window's end go
// to Redis.
func TestKnownWindowsAreAnsweredWithoutARoundTrip(t *testing.T) {
	h := newHarness(t)
	vid := h.video("owner")
	b := h.svc.views
	rule := b.rule
	ctx := context.Background()
	hb := redis.Heartbeat{VideoID: vid, Viewer: "s:session-w1", Day: 20261126}
	beat := func(step string, want redis.HeartbeatResult, roundTrip bool) {
		t.Helper()
		before := h.mr.CommandCount()
		got, err := b.do(ctx, hb)
		if err != nil || got != want {
			t.Fatalf("%s: %v %v, want %v", step, got, err, want)
		}
		if went := h.mr.CommandCount() > before; went != roundTrip {
			t.Fatalf("%s: went to Redis %v, want %v", step, went, roundTrip)
		}
	}
	beat("first", redis.HeartbeatFirst, true)
	h.advance(5 * time.Second)
	beat("watching", redis.HeartbeatWatching, false)
	h.advance(rule.MinWatch - 5*time.Second)
	beat("crossing the minimum", redis.HeartbeatCounted, true)
	h.advance(20 * time.Minute)
	beat("counted", redis.HeartbeatAlreadyCounted, false)
	h.advance(rule.Window - 20*time.Minute - rule.MinWatch - windowMargin/2)
	beat("near the window's end", redis.HeartbeatAlreadyCounted, true)
	h.advance(windowMargin)
	beat("the next window", redis.HeartbeatFirst, true)
	h.advance(rule.MinWatch)
	beat("counted again", redis.HeartbeatCounted, true)
	if rep, err := h.svc.Flush(ctx); err != nil || rep.Views != 2 {
		t.Fatalf("flush: %+v %v", rep, err)
	}
}

// A viewer whose heartbeats land on several instances counts once per window, whatever each
// instance remembers.
func TestInstancesRememberingWindowsCountEachViewOnce(t *testing.T) {
	h := newHarness(t)
	vid := h.video("owner")
	rule := h.svc.views.rule
	now := func() time.Time { return time.UnixMilli(h.now.Load()) }
	instances := []*viewBatcher{h.svc.views}
	for range 3 {
		instances = append(instances, newViewBatcher(h.svc.Redis(), rule, now, slog.New(slog.DiscardHandler)))
	}
	ctx := context.Background()
	counted := 0
	// Two hours and a half of heartbeats every 3 s, each to the next instance in turn (or
	// back to the same one), from four viewers.
	for step := range 3000 {
		for v := range 4 {
			hb := redis.Heartbeat{VideoID: vid, Viewer: fmt.Sprintf("s:viewer-%d", v), Day: 20261126}
			got, err := instances[(step*(v+1))%len(instances)].do(ctx, hb)
			if err != nil {
				t.Fatal(err)
			}
			if got == redis.HeartbeatCounted {
				counted++
			}
		}
		h.advance(3 * time.Second)
	}
	// Each viewer's windows: [0, 1h), [1h, 2h), [2h, 2.5h): three views each.
	if counted != 12 {
		t.Fatalf("%d views counted, want 12", counted)
	}
	if rep, err := h.svc.Flush(ctx); err != nil || rep.Views != 12 {
		t.Fatalf("flush: %+v %v", rep, err)
	}
}

// One address cannot inflate a video's views by minting anonymous sessions: past
// ViewsPerAddress an hour its sessions end "capped"; signed-in viewers count as ever.
func TestAnonymousSessionsOfOneAddressAreCapped(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ViewsPerAddress = 2 })
	vid := h.video("owner")
	for i := range 4 {
		h.beat("", vid, fmt.Sprintf("minted-%04d", i), 0)
	}
	h.beat("carol", vid, "carol-phone", 0)
	h.advance(10 * time.Second)
	states := map[string]int{}
	for i := range 4 {
		states[h.beat("", vid, fmt.Sprintf("minted-%04d", i), 10).State]++
	}
	if states["counted"] != 2 || states["capped"] != 2 {
		t.Fatalf("anonymous sessions of one address: %v", states)
	}
	if st := h.beat("carol", vid, "carol-phone", 10); st.State != "counted" {
		t.Fatalf("a signed-in viewer: %+v", st)
	}
	if rep, err := h.svc.Flush(context.Background()); err != nil || rep.Views != 3 {
		t.Fatalf("flush: %+v %v", rep, err)
	}
}

func TestLoadViewEnvNamesBadValues(t *testing.T) {
	for _, bad := range []map[string]string{{"VIEWS_PER_ADDRESS": "0"}, {"VIEWS_PER_ADDRESS": "lots"}, {"TRUSTED_PROXY_HOPS": "-2"}} {
		var c Config
		if err := LoadViewEnv(func(k string) string { return bad[k] }, &c); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	var c Config
	env := map[string]string{"VIEWS_PER_ADDRESS": "-1", "TRUSTED_PROXY_HOPS": "2"}
	if err := LoadViewEnv(func(k string) string { return env[k] }, &c); err != nil || c.ViewsPerAddress != -1 || c.ProxyHops != 2 {
		t.Fatalf("%+v %v", c, err)
	}
}
