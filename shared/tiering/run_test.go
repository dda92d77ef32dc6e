package tiering

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/playback"
	"vodfc.dev/vodfc/tablestore"
)

// Tests here share one bucket and one clock that only moves forward; each starts from an
// empty library (resetLibrary) and publishes its own videos.

func TestRunAppliesTheDifferencesOnceAndRecordsThem(t *testing.T) {
	resetLibrary(t)
	v := publish(t)
	r := newRunner(t, nil, nil)
	if res := runAt(t, r, RunOptions{}); res.Moves != 0 || res.Videos != 1 || !res.PassComplete {
		t.Fatalf("fresh video: %+v", res)
	}
	clock.Advance(25 * time.Hour)
	res := runAt(t, r, RunOptions{})
	if res.Moves != 1 || class(t, vodfc.SourceKey(v.ID)) != oss.Archive {
		t.Fatalf("a day after transcoding the source should be archived: %+v", res)
	}
	// Same state, same time: nothing left to do, and nothing written.
	before := tierRowOf(t, v.ID)
	if res := runAt(t, r, RunOptions{}); res.Moves != 0 || res.Failed != 0 {
		t.Fatalf("second run: %+v", res)
	}
	if after := tierRowOf(t, v.ID); after.Version != before.Version {
		t.Fatalf("an idle visit rewrote the row: version %d → %d", before.Version, after.Version)
	}
	h := before.History[vodfc.SourceKey(v.ID)]
	if len(h) != 1 || h[0].From != oss.Standard || h[0].To != oss.Archive || h[0].Verdict.EarlyCharge != 0 {
		t.Fatalf("history: %+v", h)
	}
}

func tierRowOf(t *testing.T, video string) tierRow {
	t.Helper()
	r, err := db.Get(context.Background(), tablestore.MediaTiers.Name, tierKey(video))
	if err != nil {
		t.Fatal(err)
	}
	return rowFrom(r)
}

// snapshot is everything a run could change: each object's class and Last-Modified, the
// tiering tables and the reports.
func snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{}
	if err := media.List(ctx, "", func(o oss.Object) error {
		out[o.Key] = o.Class + "@" + o.LastModified.String()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tb := range []tablestore.Table{tablestore.MediaTiers, tablestore.MediaRestores, tablestore.TieringRuns} {
		start, end := tablestore.Key{}, tablestore.Key{}
		for _, k := range tb.Key {
			start = append(start, tablestore.KeyCol{Name: k.Name, Value: tablestore.Min})
			end = append(end, tablestore.KeyCol{Name: k.Name, Value: tablestore.Max})
		}
		if err := db.Scan(ctx, tb.Name, tablestore.Range{Start: start, End: end}, func(r *tablestore.Row) error {
			b, _ := json.Marshal(r)
			out[tb.Name+string(b)] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func TestDryRunChangesNothing(t *testing.T) {
	resetLibrary(t)
	v := publish(t)
	clock.Advance(40 * Day) // source due for Archive, the top rungs for IA
	before := snapshot(t)
	var l logs
	res := runAt(t, newRunner(t, &l, nil), RunOptions{DryRun: true})
	if after := snapshot(t); after != before {
		t.Fatal("a dry run changed objects or records")
	}
	if res.Planned[ActMove] != 3 || len(res.Plan) != 3 || res.Moves != 0 || res.ReportKey != "" {
		t.Fatalf("dry run: %+v", res)
	}
	if n := l.count("tiering: planned"); n != 3 {
		t.Fatalf("the plan logged %d steps, want 3", n)
	}
	if c := class(t, v.Renditions[0].Media); c != oss.Standard {
		t.Fatalf("the 1080p rung is %s after a dry run", c)
	}
}

func TestConcurrentRunsEndInOneStateWithoutDoubleMoves(t *testing.T) {
	resetLibrary(t)
	var vs []*vodfc.Video
	for range 6 {
		vs = append(vs, publish(t))
	}
	clock.Advance(40 * Day)
	var l logs
	r1, r2 := newRunner(t, &l, nil), newRunner(t, &l, nil)
	var wg sync.WaitGroup
	results := make([]*RunResult, 2)
	for i, r := range []*Runner{r1, r2} {
		wg.Go(func() { results[i] = runAt(t, r, RunOptions{}) })
	}
	wg.Wait()
	moves := results[0].Moves + results[1].Moves
	if moves != 3*len(vs) || l.count("tiering: moved") != moves {
		t.Fatalf("moves %d (%d logged), want %d: %+v %+v", moves, l.count("tiering: moved"), 3*len(vs), results[0], results[1])
	}
	for _, v := range vs {
		for key, recs := range tierRowOf(t, v.ID).History {
			if len(recs) != 1 {
				t.Errorf("%s moved %d times", key, len(recs))
			}
		}
	}
}

func TestTwoRunsOnOneVideoMoveEachObjectOnce(t *testing.T) {
	// Beyond the lease: should two runs ever visit one video at once (a run that outlived
	// its lease), the claim on the video's row lets one of them move.
	resetLibrary(t)
	v := publish(t)
	clock.Advance(40 * Day)
	var l logs
	r := newRunner(t, &l, nil)
	rows, err := readRows(context.Background(), db, []string{v.ID})
	if err != nil {
		t.Fatal(err)
	}
	res := &RunResult{Planned: map[string]int{}}
	// Both visits have listed the objects and planned before either claims.
	var atClaim sync.WaitGroup
	atClaim.Add(2)
	r.planned = func() { atClaim.Done(); atClaim.Wait() }
	var wg sync.WaitGroup
	for _, id := range []string{"run-a", "run-b"} {
		wg.Go(func() {
			if err := r.visit(context.Background(), v, rows[v.ID], clock.Now(), RunOptions{RunID: id}, res); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if res.Planned[ActMove] != 6 || res.Moves != 3 || res.Contended != 1 || l.count("tiering: moved") != 3 {
		t.Fatalf("two visits at once: %+v", res)
	}
}

func TestAnInterruptedRunsMovesAreSettledNotRepeated(t *testing.T) {
	resetLibrary(t)
	v := publish(t)
	clock.Advance(40 * Day)
	ctx := context.Background()
	r := newRunner(t, nil, nil)
	// A run planned, claimed and made the moves, then died before recording them.
	objs, err := r.objects(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	plan := r.cfg.Policy.Plan(v, r.cfg.Policy.Roles(v, objs), Activity{}, clock.Now())
	moves := plan.Moves()
	if len(moves) != 3 {
		t.Fatalf("plan: %+v", plan.Steps)
	}
	if err := claim(ctx, db, v.ID, tierRow{}, pending{Run: "dead", At: clock.Now().UnixMilli(), Moves: moves}, plan.Cold); err != nil {
		t.Fatal(err)
	}
	for _, m := range moves[:2] { // the third never happened
		if err := media.SetClass(ctx, m.Key, m.To); err != nil {
			t.Fatal(err)
		}
	}
	// A retry at the same trigger time sees a live claim and leaves the video alone.
	if res := runAt(t, r, RunOptions{}); res.Contended != 1 || res.Moves != 0 {
		t.Fatalf("while the claim is live: %+v", res)
	}
	modified := map[string]time.Time{}
	for k, o := range classes(t, v) {
		modified[k] = o.LastModified
	}
	clock.Advance(Day)
	res := runAt(t, r, RunOptions{})
	if res.Settled != 2 || res.Moves != 1 {
		t.Fatalf("the next night: %+v", res)
	}
	for _, m := range moves[:2] {
		if o := classes(t, v)[m.Key]; !o.LastModified.Equal(modified[m.Key]) || o.Class != m.To {
			t.Errorf("%s was moved again", m.Key)
		}
	}
	row := tierRowOf(t, v.ID)
	if row.Pending != nil || len(row.History) != 3 {
		t.Fatalf("after settling: pending %+v, history %+v", row.Pending, row.History)
	}
	if row.History[moves[0].Key][0].Run != "dead" {
		t.Fatalf("a settled move is recorded for its own run: %+v", row.History[moves[0].Key])
	}
}

func TestTheCursorCarriesALargeLibraryAcrossRuns(t *testing.T) {
	resetLibrary(t)
	for range 5 {
		publish(t)
	}
	clock.Advance(25 * time.Hour)
	// A budget spent after the first page: every run does one page of two videos.
	r := newRunner(t, nil, func(c *Config) { c.PageSize, c.Budget = 2, time.Nanosecond })
	var visited []int
	for i := range 3 {
		res := runAt(t, r, RunOptions{})
		visited = append(visited, res.Videos)
		if res.PassComplete != (i == 2) || (i < 2) == (res.Cursor == "") {
			t.Fatalf("run %d: %+v", i, res)
		}
		clock.Advance(time.Hour)
	}
	if visited[0] != 2 || visited[1] != 2 || visited[2] != 1 {
		t.Fatalf("videos per run %v, want [2 2 1]", visited)
	}
	// The next pass starts at the beginning.
	if res := runAt(t, r, RunOptions{}); res.Videos != 2 || res.PassComplete {
		t.Fatalf("next pass: %+v", res)
	}
}

func TestTheLeaseKeepsASecondRunOutUntilItIsReleasedOrExpires(t *testing.T) {
	resetLibrary(t)
	r := newRunner(t, nil, nil)
	ctx := context.Background()
	now := clock.Now()
	if _, ok, err := r.acquire(ctx, "first", now); !ok || err != nil {
		t.Fatalf("first: %v %v", ok, err)
	}
	if st, ok, _ := r.acquire(ctx, "second", now.Add(time.Minute)); ok || st.owner != "first" {
		t.Fatalf("second got a held lease: %+v", st)
	}
	res := runAt(t, r, RunOptions{RunID: "third"})
	if res.Skipped == "" || res.Videos != 0 {
		t.Fatalf("a run under a held lease: %+v", res)
	}
	if _, ok, _ := r.acquire(ctx, "second", now.Add(r.staleClaim()+time.Second)); !ok {
		t.Fatal("an expired lease was not taken over")
	}
	if err := r.checkpoint(ctx, "first", "x", now); err != errLeaseLost {
		t.Fatalf("the first run's checkpoint after losing the lease: %v", err)
	}
	r.release(ctx, "second")
	if _, ok, _ := r.acquire(ctx, "fourth", now.Add(r.staleClaim()+2*time.Second)); !ok {
		t.Fatal("a released lease was not free")
	}
	r.release(ctx, "fourth")
}

func TestAnEarlyMoveIsMadeOnlyWhenItPaysAndOSSBillsWhatWasComputed(t *testing.T) {
	resetLibrary(t)
	v := publish(t)
	top := v.Renditions[0].Media
	r := newRunner(t, nil, nil)
	clock.Advance(31 * Day)
	runAt(t, r, RunOptions{})
	if c := class(t, top); c != oss.IA {
		t.Fatalf("cold for 30 days: %s", c)
	}
	usage := func() float64 {
		u, err := emu.Usage("media")
		if err != nil {
			t.Fatal(err)
		}
		return u.EarlyDeletionByteHours[oss.IA]
	}
	early0 := usage()
	// Ten days later it is hot: leaving IA 20 days early pays.
	clock.Advance(10 * Day)
	views(t, v.ID, 200)
	res := runAt(t, r, RunOptions{})
	if c := class(t, top); c != oss.Standard || res.EarlyCharges <= 0 {
		t.Fatalf("hot after 10 days in IA: %s, %+v", c, res)
	}
	computed := 0.0
	for key, recs := range tierRowOf(t, v.ID).History {
		last := recs[len(recs)-1]
		if last.From != oss.IA {
			continue
		}
		if last.Verdict.Saving <= last.Verdict.EarlyCharge || last.Verdict.Remaining != 20*Day {
			t.Fatalf("the recorded justification of %s: %+v", key, last)
		}
		computed += last.Verdict.EarlyCharge
	}
	// OSS billed the 20 remaining days of both rungs: exactly the charges computed.
	billed := (usage() - early0) / GB / 24 / 30 * DefaultPrices()[oss.IA].Storage
	if math.Abs(billed-computed) > 1e-6 || math.Abs(computed-res.EarlyCharges) > 1e-6 {
		t.Fatalf("OSS billed %v early, tiering computed %v (run says %v)", billed, computed, res.EarlyCharges)
	}
}

func TestColdRenditionsAreRestoredOnceAndPlayWhenReady(t *testing.T) {
	resetLibrary(t)
	v := publish(t)
	r := newRunner(t, nil, nil)
	clock.Advance(31 * Day)
	runAt(t, r, RunOptions{})
	clock.Advance(61 * Day) // untouched for 92 days, 61 of them in IA
	res := runAt(t, r, RunOptions{})
	top, mid := v.Renditions[0].Media, v.Renditions[1].Media
	if class(t, top) != oss.Archive || class(t, mid) != oss.Archive {
		t.Fatalf("untouched for 90 days: %+v", res)
	}
	cold := NewCold(db, media, 2, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	av, err := cold.Availability(ctx, v)
	if err != nil || av[0] != playback.Archived || av[1] != playback.Archived || av[2] != playback.Available || av[3] != playback.Available {
		t.Fatalf("availability %v %v", av, err)
	}
	u0, _ := emu.Usage("media")
	// Many viewers ask at once: one restore each.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			after, err := cold.Restore(ctx, v, []int{0, 1})
			if err != nil || after[0] != playback.Restoring || after[1] != playback.Restoring {
				t.Errorf("restore: %v %v", after, err)
			}
		})
	}
	wg.Wait()
	u1, _ := emu.Usage("media")
	if got, want := u1.RetrievedBytes[oss.Archive]-u0.RetrievedBytes[oss.Archive], v.Renditions[0].Size+v.Renditions[1].Size; got != want {
		t.Fatalf("restored %d bytes, want %d (one restore per rendition)", got, want)
	}
	if av, _ := cold.Availability(ctx, v); av[0] != playback.Restoring {
		t.Fatalf("while restoring: %v", av)
	}
	clock.Advance(2 * time.Minute)
	if av, _ := cold.Availability(ctx, v); av[0] != playback.Available || av[1] != playback.Available {
		t.Fatalf("after the restore: %v", av)
	}
	// Restored but not hot: the timer leaves them in Archive; the report counts them.
	res = runAt(t, r, RunOptions{})
	if class(t, top) != oss.Archive || res.Report.Restores.Restored < 2 {
		t.Fatalf("restored, not hot: %+v %+v", res, res.Report.Restores)
	}
	// Hot: moved back to Standard while the restored copy is readable.
	views(t, v.ID, 300)
	res = runAt(t, r, RunOptions{})
	if class(t, top) != oss.Standard || class(t, mid) != oss.Standard {
		t.Fatalf("restored and hot: %+v", res)
	}
	if row := tierRowOf(t, v.ID); len(row.Cold) != 0 {
		t.Fatalf("cold keys after moving back: %v", row.Cold)
	}
}

func TestTheReportShowsTheClassesHeld(t *testing.T) {
	resetLibrary(t)
	publish(t)
	clock.Advance(40 * Day)
	r := newRunner(t, nil, nil)
	res := runAt(t, r, RunOptions{})
	// Recompute from a listing.
	p := DefaultPrices()
	var cost, std float64
	perClass := map[string]int64{}
	if err := media.List(context.Background(), "", func(o oss.Object) error {
		if o.Key == res.ReportKey {
			return nil // the report itself was written after it listed
		}
		cost += p.Monthly(o.Class, o.Size)
		std += p.Monthly(oss.Standard, o.Size)
		perClass[o.Class] += o.Size
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if math.Abs(rep.MonthlyCost-cost) > 1e-6 || math.Abs(rep.AllStandardMonthlyCost-std) > 1e-6 || rep.MonthlySaving <= 0 {
		t.Fatalf("report %v / %v, listing %v / %v", rep.MonthlyCost, rep.AllStandardMonthlyCost, cost, std)
	}
	for c, b := range perClass {
		if rep.Classes[c].Bytes != b {
			t.Errorf("%s: report %d bytes, listing %d", c, rep.Classes[c].Bytes, b)
		}
	}
	stored, err := NewReports(media).Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(stored, &back); err != nil || back.Date != rep.Date || back.MonthlyCost != rep.MonthlyCost {
		t.Fatalf("stored report: %v %+v", err, back)
	}
}

// A library all in Standard saves exactly nothing: no rounding residue in the report.
func TestAnAllStandardLibrarySavesExactlyNothing(t *testing.T) {
	resetLibrary(t)
	for _, prefix := range []string{"media/", "uploads/", ReportPrefix} {
		if _, err := media.DeletePrefix(context.Background(), prefix); err != nil {
			t.Fatal(err)
		}
	}
	for range 40 {
		publish(t)
	}
	r := newRunner(t, nil, nil)
	rep, err := r.Build(context.Background(), clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for c, tot := range rep.Classes {
		if c != oss.Standard && tot.Objects != 0 {
			t.Fatalf("%d objects in %s", tot.Objects, c)
		}
	}
	if rep.MonthlySaving != 0 || rep.SavingRatio != 0 || rep.MonthlyCost != rep.AllStandardMonthlyCost {
		t.Fatalf("cost %v, all Standard %v, saving %v (%v)", rep.MonthlyCost, rep.AllStandardMonthlyCost, rep.MonthlySaving, rep.SavingRatio)
	}
}

// A rendition archived and then watched again is restored by the timer itself (once, however
// many runs see it on the way), stamped on the timer's clock, and moved up once readable.
func TestTheTimerRestoresAHotArchivedRenditionOnceThenMovesItUp(t *testing.T) {
	resetLibrary(t)
	v := publish(t)
	r := newRunner(t, nil, nil)
	clock.Advance(31 * Day)
	runAt(t, r, RunOptions{})
	clock.Advance(61 * Day)
	runAt(t, r, RunOptions{})
	top, mid := v.Renditions[0].Media, v.Renditions[1].Media
	if class(t, top) != oss.Archive || class(t, mid) != oss.Archive {
		t.Fatal("untouched for 90 days, the top rungs should be archived")
	}
	views(t, v.ID, 300)
	u0, _ := emu.Usage("media")
	res := runAt(t, r, RunOptions{})
	if res.Restores != 2 || res.Moves != 0 || class(t, top) != oss.Archive {
		t.Fatalf("hot and archived: %+v", res)
	}
	row, err := db.Get(context.Background(), tablestore.MediaRestores.Name, tablestore.K("video_id", v.ID, "object_key", top))
	if err != nil || row == nil {
		t.Fatalf("no restore record: %v", err)
	}
	if by, at := row.Str(colRequestedBy), row.Int(colRequestedAt); by != ByTiering || at != clock.Now().UnixMilli() {
		t.Fatalf("restore recorded by %q at %v, want %q at the run's time %v", by, time.UnixMilli(at).UTC(), ByTiering, clock.Now())
	}
	// A run while the restores are under way waits for them and asks for nothing more.
	if res := runAt(t, r, RunOptions{}); res.Restores != 0 || res.Waiting != 2 || res.Moves != 0 {
		t.Fatalf("while restoring: %+v", res)
	}
	if u1, _ := emu.Usage("media"); u1.RetrievedBytes[oss.Archive]-u0.RetrievedBytes[oss.Archive] != v.Renditions[0].Size+v.Renditions[1].Size {
		t.Fatal("a rendition was restored more than once")
	}
	clock.Advance(2 * time.Minute)
	if res := runAt(t, r, RunOptions{}); res.Moves != 2 || class(t, top) != oss.Standard || class(t, mid) != oss.Standard {
		t.Fatalf("restored and hot: %+v", res)
	}
	if row, _ := db.Get(context.Background(), tablestore.MediaRestores.Name, tablestore.K("video_id", v.ID, "object_key", top)); row != nil {
		t.Fatal("the restore record outlived the move out of Archive")
	}
}

// A restore OSS refuses is not remembered as requested: the next viewer asks again at once
// rather than being told "restoring" for the grace period.
func TestARefusedRestoreIsAskedAgainAtOnce(t *testing.T) {
	ctx := context.Background()
	cold := NewCold(db, media, 2, slog.New(slog.DiscardHandler))
	gone := oss.Object{Key: "media/gone/1/1080p.mp4", Size: 1 << 20, Class: oss.Archive, LastModified: clock.Now()}
	for try := range 2 {
		a, err := cold.request(ctx, "gone", gone, ByPlay, clock.Now())
		if err == nil || a != playback.Archived {
			t.Fatalf("try %d: %v %v, want the refusal", try, a, err)
		}
	}
	row, err := db.Get(ctx, tablestore.MediaRestores.Name, tablestore.K("video_id", "gone", "object_key", gone.Key))
	if err != nil || row != nil {
		t.Fatalf("a refused restore left %+v %v", row, err)
	}
}
