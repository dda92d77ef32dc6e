package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/tiering"
)

// The tests of this file run in order on one cloud and one clock that only moves forward.

func TestADryRunPrintsThePlanAndChangesNothing(t *testing.T) {
	// Published 40 days ago: the source is due for Archive and the top rungs for IA.
	for range 3 {
		synth(t, cl.Clock.Now().Add(-40*24*time.Hour))
	}
	beforeObjects, beforeTables := objects(t), tables(t)
	admin := token(t, "admin", vodfc.TierFree, vodfc.RoleAdmin)
	noReport := func(when string) {
		t.Helper()
		code, b := call(t, "GET", "/api/v1/admin/storage/report", admin, nil)
		var p struct{ Code string }
		json.Unmarshal(b, &p)
		if code != 404 || p.Code != "report_not_found" {
			t.Fatalf("the report %s: %d %s, want 404 report_not_found", when, code, b)
		}
	}
	noReport("before any run")
	inv := invokeTimer(t, `{"dryRun":true}`)
	noReport("after a dry run")
	after := objects(t)
	for k, o := range beforeObjects {
		if a := after[k]; a.Class != o.Class || !a.LastModified.Equal(o.LastModified) {
			t.Errorf("%s changed: %s → %s", k, o.Class, a.Class)
		}
	}
	if len(after) != len(beforeObjects) || tables(t) != beforeTables {
		t.Fatal("a dry run wrote objects or records")
	}
	if n := strings.Count(inv.Log, "tiering: planned"); n != 9 {
		t.Fatalf("the plan has %d steps, want 9 (3 per video):\n%s", n, inv.Log)
	}
	var summary struct {
		DryRun  bool           `json:"dry_run"`
		Planned map[string]int `json:"planned"`
		Plan    []tiering.Step `json:"plan"`
	}
	for _, line := range strings.Split(inv.Log, "\n") {
		if strings.HasPrefix(line, `{"run_id"`) {
			json.Unmarshal([]byte(line), &summary)
		}
	}
	if !summary.DryRun || summary.Planned["move"] != 9 || len(summary.Plan) != 9 {
		t.Fatalf("the printed plan: %+v\n%s", summary, inv.Log)
	}
}

// A restore a viewer starts (the videos function) lasts as long as one tiering starts: both
// read TIERING_RESTORE_DAYS, so s.yaml must give both the same value.
func TestViewersRestoresLastAsLongAsTieringsOwn(t *testing.T) {
	play, tier := cl.Manifest.Function(fnVideos).Env["TIERING_RESTORE_DAYS"], cl.Manifest.Function(fnTiering).Env["TIERING_RESTORE_DAYS"]
	if play == "" || play != tier {
		t.Fatalf("s.yaml: TIERING_RESTORE_DAYS is %q for videos (play) and %q for tiering", play, tier)
	}
}

func TestConcurrentRunsEndInTheSameStateWithoutDoubleMoves(t *testing.T) {
	// The dry run's videos are still due; fire the timer twice at once.
	before := runs()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if code, b := call(t, "POST", "/_local/timers/"+fnTiering+"/nightly", "", nil); code != 202 {
				t.Errorf("firing: %d %s", code, b)
			}
		})
	}
	wg.Wait()
	invs := awaitRuns(t, before, 2)
	moved := map[string]int{}
	for _, inv := range invs {
		for _, line := range strings.Split(inv.Log, "\n") {
			if !strings.Contains(line, `"msg":"tiering: moved"`) {
				continue
			}
			var l struct{ Key string }
			json.Unmarshal([]byte(line), &l)
			moved[l.Key]++
		}
	}
	if len(moved) != 9 {
		t.Fatalf("%d objects moved, want 9: %v", len(moved), moved)
	}
	for k, n := range moved {
		if n != 1 {
			t.Errorf("%s moved %d times", k, n)
		}
	}
	// A third run finds nothing left to do: the two ended where one run would have.
	inv := invokeTimer(t, "{}")
	if strings.Contains(inv.Log, "tiering: moved") {
		t.Fatalf("a later run still moved objects:\n%s", inv.Log)
	}
}

// A pattern is how a group of the simulated library is watched, by day since publishing.
type pattern struct {
	name  string
	views func(day int) int64
	// want is the class of the rungs above 480p at the end.
	want string
}

var patterns = []pattern{
	{"hot", func(int) int64 { return 30 }, oss.Standard},
	{"cooling", func(d int) int64 {
		switch {
		case d < 20:
			return 40
		case d%10 == 0:
			return 1
		}
		return 0
	}, oss.IA},
	{"dead", func(int) int64 { return 0 }, oss.Archive},
	{"revived", func(d int) int64 { // archived at 90, hot again from 110
		if d >= 110 {
			return 30
		}
		return 0
	}, oss.Standard},
	{"bounced", func(d int) int64 { // in IA at 30, hot again from 40, well before IA's 30 days
		if d >= 40 {
			return 25
		}
		return 0
	}, oss.Standard},
}

type simVideo struct {
	*vodfc.Video
	pattern pattern
}

const simDays = 150

func TestAHundredAndFiftyDaysOfALibrary(t *testing.T) {
	ctx := context.Background()
	// Live a minute after the nightly 03:30 (Asia/Shanghai): each day's step passes exactly one
	// timer, which the scheduler fires at once, as the cloud would.
	now := cl.Clock.Now()
	sh, _ := time.LoadLocation("Asia/Shanghai")
	local := now.In(sh)
	start := time.Date(local.Year(), local.Month(), local.Day(), 3, 31, 0, 0, sh)
	fires := 1
	if !start.After(now) {
		start = start.Add(24 * time.Hour)
	} else if now.After(start.Add(-time.Minute)) {
		fires = 0 // already past today's 03:30
	}
	before := runs()
	advance(t, start.Sub(now))
	awaitRuns(t, before, fires)

	var lib []simVideo
	for i := range 55 {
		p := patterns[i%len(patterns)]
		lib = append(lib, simVideo{synth(t, cl.Clock.Now()), p})
	}
	free, member := token(t, "viewer-free", vodfc.TierFree), token(t, "viewer-member", vodfc.TierMember)
	var restoreChecked bool
	var restored *simVideo

	for day := 0; day < simDays; day++ {
		// The day's activity, as rollup would have written it, on the UTC day of the next run.
		var writes []tablestore.Write
		dayKey := int64(tiering.DayKey(cl.Clock.Now().Add(23 * time.Hour)))
		for i, v := range lib {
			if n := v.pattern.views(day); n > 0 {
				writes = append(writes, tablestore.Write{Table: tablestore.VideoStatsDaily.Name,
					Key: tablestore.K("video_id", v.ID, "day", dayKey), Put: tablestore.Cols{"views": n + int64(i%3)}, Cond: tablestore.Always})
			}
		}
		if err := db.BatchWrite(ctx, writes); err != nil {
			t.Fatal(err)
		}
		// An archived rung goes through request → restore → playable.
		if day == 100 && !restoreChecked {
			for i := range lib {
				if lib[i].pattern.name == "dead" {
					restored = &lib[i]
					break
				}
			}
			p := play(t, restored.Video, member)
			if got := namesOf(p.Restoring); !slices.Equal(got, []string{"1080p", "720p"}) || !slices.Equal(namesOf(p.Renditions), []string{"360p", "480p"}) {
				t.Fatalf("day %d, an archived video: playable %v, restoring %v", day, namesOf(p.Renditions), got)
			}
			watch(t, restored.Video, p, "360p")
			if again := play(t, restored.Video, member); !slices.Equal(namesOf(again.Restoring), []string{"1080p", "720p"}) {
				t.Fatalf("asking again: %+v", again)
			}
			advance(t, 2*time.Minute) // Archive restores take about a minute
			p = play(t, restored.Video, member)
			if len(p.Restoring) != 0 || !slices.Equal(namesOf(p.Renditions), []string{"1080p", "360p", "480p", "720p"}) {
				t.Fatalf("after the restore: playable %v, restoring %v", namesOf(p.Renditions), namesOf(p.Restoring))
			}
			watch(t, restored.Video, p, "1080p")
			restoreChecked = true
		}
		nextNight(t)

		// Throughout: every video's master, playlists, cover, storyboard and lowest rungs are
		// Standard, and every ready video plays from its lowest rung.
		all := objects(t)
		for _, v := range lib {
			for _, r := range v.Renditions[2:] {
				if c := all[r.Media].Class; c != oss.Standard {
					t.Fatalf("day %d: %s %s is %s", day, v.ID, r.Media, c)
				}
			}
			for _, k := range []string{v.MediaPrefix + "master.m3u8", v.CoverKey, v.StoryboardKey, v.Renditions[0].Playlist} {
				if c := all[k].Class; c != oss.Standard {
					t.Fatalf("day %d: %s is %s", day, k, c)
				}
			}
		}
		if day%25 == 0 || day == simDays-1 {
			for _, v := range lib {
				watch(t, v.Video, play(t, v.Video, free), "360p")
			}
		}
	}
	if !restoreChecked {
		t.Fatal("the restore was never exercised")
	}

	// The end state is what the policy expects of each pattern.
	all := objects(t)
	for _, v := range lib {
		if c := all[vodfc.SourceKey(v.ID)].Class; c != oss.Archive {
			t.Errorf("%s (%s): source is %s", v.ID, v.pattern.name, c)
		}
		for _, r := range v.Renditions[:2] {
			if c := all[r.Media].Class; c != v.pattern.want {
				t.Errorf("%s (%s): %dp is %s, want %s", v.ID, v.pattern.name, r.Height, c, v.pattern.want)
			}
		}
		h := history(t, v.ID)
		top := h[v.Renditions[0].Media]
		switch v.pattern.name {
		case "revived":
			// Standard → IA → Archive → Standard, the last move early and justified.
			if len(top) != 3 || top[1].To != oss.Archive || top[2].From != oss.Archive || top[2].Verdict.Remaining <= 0 {
				t.Errorf("%s (revived): history %+v", v.ID, top)
			}
		case "bounced":
			if len(top) != 2 || top[1].From != oss.IA || top[1].Verdict.Remaining <= 0 {
				t.Errorf("%s (bounced): history %+v", v.ID, top)
			}
		}
	}

	// No minimum storage duration was broken without its computed justification: every
	// early move recorded says it paid, and OSS billed early exactly those.
	expected := map[string]float64{}
	err := db.Scan(ctx, tablestore.MediaTiers.Name, tablestore.Range{
		Start: tablestore.K("video_id", tablestore.Min), End: tablestore.K("video_id", tablestore.Max), Cols: []string{"history"},
	}, func(r *tablestore.Row) error {
		var h map[string][]tiering.Record
		json.Unmarshal([]byte(r.Str("history")), &h)
		for key, recs := range h {
			for _, rec := range recs {
				if rec.Verdict.Remaining <= 0 {
					continue
				}
				if rec.Verdict.Saving <= rec.Verdict.EarlyCharge {
					t.Errorf("%s: early move %s → %s without justification: %+v", key, rec.From, rec.To, rec.Verdict)
				}
				expected[rec.From] += float64(tiering.BilledSize(rec.From, rec.Size)) * rec.Verdict.Remaining.Hours()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	usage, err := cl.OSS().Usage(bucket.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	for _, class := range []string{oss.IA, oss.Archive} {
		got, want := usage.EarlyDeletionByteHours[class], expected[class]
		if want == 0 || math.Abs(got-want) > want*1e-4 {
			t.Errorf("%s: OSS billed %.0f byte-hours early, tiering's justified moves account for %.0f", class, got, want)
		}
	}

	// The report: admins only, and its figures are those of the classes held.
	latest := objects(t)
	var reportKey string
	for k := range latest {
		if strings.HasPrefix(k, tiering.ReportPrefix) && k > reportKey {
			reportKey = k
		}
	}
	if code, _ := call(t, "GET", "/api/v1/admin/storage/report", free, nil); code != 403 {
		t.Fatalf("a non-admin got the report: %d", code)
	}
	if code, _ := call(t, "GET", "/api/v1/admin/storage/report", "", nil); code != 401 {
		t.Fatalf("an anonymous caller got the report: %d", code)
	}
	code, b := call(t, "GET", "/api/v1/admin/storage/report", token(t, "admin", vodfc.TierFree, vodfc.RoleAdmin), nil)
	if code != 200 {
		t.Fatalf("report: %d %s", code, b)
	}
	var rep tiering.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	prices := tiering.DefaultPrices()
	var cost, std float64
	perClass := map[string]int64{}
	for k, o := range latest {
		if k == reportKey {
			continue // written after the run listed the bucket
		}
		cost += prices.Monthly(o.Class, o.Size)
		std += prices.Monthly(oss.Standard, o.Size)
		perClass[o.Class] += o.Size
	}
	if math.Abs(rep.MonthlyCost-cost) > 1e-6 || math.Abs(rep.AllStandardMonthlyCost-std) > 1e-6 || math.Abs(rep.MonthlySaving-(std-cost)) > 1e-6 {
		t.Fatalf("report: cost %v, all-Standard %v, saving %v; the classes held: %v, %v", rep.MonthlyCost, rep.AllStandardMonthlyCost, rep.MonthlySaving, cost, std)
	}
	for c, n := range perClass {
		if rep.Classes[c] == nil || rep.Classes[c].Bytes != n {
			t.Errorf("report %s bytes %+v, held %d", c, rep.Classes[c], n)
		}
	}
	if rep.EarlyMoveCharges.Total <= 0 || rep.Run == nil {
		t.Errorf("report early charges %+v, run %+v", rep.EarlyMoveCharges, rep.Run)
	}
	t.Logf("after %d days, %d videos (%d objects, %.1f MiB): %.6f CNY/month with tiering, %.6f all Standard: ratio %.3f (saving %.1f%%); early-move charges paid %.6f CNY",
		simDays, len(lib), rep.Total.Objects, float64(rep.Total.Bytes)/(1<<20), rep.MonthlyCost, rep.AllStandardMonthlyCost,
		rep.MonthlyCost/rep.AllStandardMonthlyCost, 100*rep.SavingRatio, rep.EarlyMoveCharges.Total)
	fmt.Printf("SIM_COST tiering=%.6f all_standard=%.6f ratio=%.4f\n", rep.MonthlyCost, rep.AllStandardMonthlyCost, rep.MonthlyCost/rep.AllStandardMonthlyCost)
}
