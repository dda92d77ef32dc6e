package tiering

import (
	"fmt"
	"testing"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
)

// ladderVideo is a published video (not stored) and its objects, all Standard since publish.
func ladderVideo(published time.Time, heights ...int) (*vodfc.Video, []Object) {
	v := &vodfc.Video{ID: "01JVIDEO000000000000000000", Status: vodfc.StatusReady, PublishedAt: published,
		MediaPrefix: "media/01JVIDEO000000000000000000/a/"}
	objs := []Object{
		{Key: vodfc.SourceKey(v.ID), Size: 10 << 20},
		{Key: v.MediaPrefix + "master.m3u8", Size: 600},
		{Key: v.MediaPrefix + "cover.jpg", Size: 40 << 10},
		{Key: v.MediaPrefix + "storyboard-0.jpg", Size: 200 << 10},
	}
	for _, h := range heights {
		r := vodfc.Rendition{Height: h, Width: h * 16 / 9, Playlist: fmt.Sprintf("%s%dp.m3u8", v.MediaPrefix, h), Media: fmt.Sprintf("%s%dp.mp4", v.MediaPrefix, h)}
		v.Renditions = append(v.Renditions, r)
		objs = append(objs, Object{Key: r.Playlist, Size: 700}, Object{Key: r.Media, Size: int64(h) << 12})
	}
	for i := range objs {
		objs[i].Class, objs[i].Since = oss.Standard, published
	}
	return v, objs
}

func stepsByKey(p VideoPlan) map[string]Step {
	out := map[string]Step{}
	for _, s := range p.Steps {
		out[s.Key] = s
	}
	return out
}

// quiet is activity with n views on each of the last days up to now.
func activity(now time.Time, perDay map[int]int64) Activity {
	a := Activity{Views: map[int]int64{}, Score: map[int]float64{}}
	for daysAgo, n := range perDay {
		k := DayKey(now.AddDate(0, 0, -daysAgo))
		a.Views[k], a.Score[k] = n, float64(n)
	}
	return a
}

func TestRolesPinTheSmallRungsTheSmallestAndEverythingButMedia(t *testing.T) {
	p := DefaultPolicy()
	v, objs := ladderVideo(t0, 1080, 720, 480, 360)
	roles := map[string]string{}
	for _, o := range p.Roles(v, objs) {
		roles[o.Key] = o.Role
	}
	want := map[string]string{
		vodfc.SourceKey(v.ID): RoleSource, v.MediaPrefix + "master.m3u8": RolePinned, v.MediaPrefix + "cover.jpg": RolePinned,
		v.MediaPrefix + "1080p.mp4": RoleRendition, v.MediaPrefix + "720p.mp4": RoleRendition,
		v.MediaPrefix + "480p.mp4": RolePinned, v.MediaPrefix + "360p.mp4": RolePinned, v.MediaPrefix + "720p.m3u8": RolePinned,
	}
	for k, r := range want {
		if roles[k] != r {
			t.Errorf("%s: role %q, want %q", k, roles[k], r)
		}
	}
	// A ladder whose every rung is above 480p still keeps its smallest one Standard.
	v, objs = ladderVideo(t0, 1080, 720)
	for _, o := range p.Roles(v, objs) {
		if o.Key == v.MediaPrefix+"720p.mp4" && o.Role != RolePinned {
			t.Errorf("the smallest rung of a 1080/720 ladder is %s", o.Role)
		}
	}
}

func TestPlanFollowsTheVideosLife(t *testing.T) {
	p := DefaultPolicy()
	v, objs := ladderVideo(t0, 1080, 720, 480, 360)
	objs = p.Roles(v, objs)
	src, top, mid := vodfc.SourceKey(v.ID), v.MediaPrefix+"1080p.mp4", v.MediaPrefix+"720p.mp4"

	// Fresh: nothing moves.
	if plan := p.Plan(v, objs, Activity{}, t0.Add(time.Hour)); len(plan.Steps) != 0 {
		t.Fatalf("a fresh video: %+v", plan.Steps)
	}
	// A day after transcoding, the source goes to Archive, whatever people watch.
	plan := p.Plan(v, objs, activity(t0.Add(25*time.Hour), map[int]int64{0: 1000}), t0.Add(25*time.Hour))
	if s := stepsByKey(plan); len(plan.Steps) != 1 || s[src].To != oss.Archive || s[src].Action != ActMove {
		t.Fatalf("day 1: %+v", plan.Steps)
	}
	// 31 days, barely watched: the rungs above 480p go to IA; nothing else.
	now := t0.Add(31 * Day)
	plan = p.Plan(v, objs, activity(now, map[int]int64{3: 2, 10: 3}), now)
	s := stepsByKey(plan)
	if s[top].To != oss.IA || s[mid].To != oss.IA || s[top].Action != ActMove || len(plan.Steps) != 3 {
		t.Fatalf("day 31, cold: %+v", plan.Steps)
	}
	// 31 days and watched enough: they stay.
	plan = p.Plan(v, objs, activity(now, map[int]int64{3: 20}), now)
	if s := stepsByKey(plan); s[top].Action != "" {
		t.Fatalf("day 31, warm: %+v", plan.Steps)
	}
	// 91 days untouched, in IA for 60: Archive; playback must check them.
	for i := range objs {
		if objs[i].Key == top || objs[i].Key == mid {
			objs[i].Class, objs[i].Since = oss.IA, t0.Add(31*Day)
		}
	}
	now = t0.Add(91 * Day)
	plan = p.Plan(v, objs, Activity{}, now)
	s = stepsByKey(plan)
	if s[top].To != oss.Archive || s[top].Action != ActMove || len(plan.Cold) != 2 {
		t.Fatalf("day 91, untouched: %+v cold %v", plan.Steps, plan.Cold)
	}
	// ...but only 10 days in IA: the move waits, with its computation.
	for i := range objs {
		if objs[i].Key == top {
			objs[i].Since = now.Add(-10 * Day)
		}
	}
	plan = p.Plan(v, objs, Activity{}, now)
	s = stepsByKey(plan)
	if s[top].Action != ActDefer || s[top].Verdict.EarlyCharge <= 0 || s[top].Verdict.Remaining != 20*Day {
		t.Fatalf("10 days in IA: %+v", s[top])
	}
	if len(plan.Cold) != 1 || plan.Cold[0] != mid {
		t.Fatalf("a deferred move to Archive is not cold yet: %v", plan.Cold)
	}
	// Hot again: back to Standard, early if need be.
	plan = p.Plan(v, objs, activity(now, map[int]int64{0: 40, 1: 40}), now)
	s = stepsByKey(plan)
	if s[top].To != oss.Standard || s[top].Action != ActMove || !s[top].Early() {
		t.Fatalf("hot after 10 days in IA: %+v", s[top])
	}
}

func TestPlanRestoresAnArchivedRenditionBeforeMovingItUp(t *testing.T) {
	p := DefaultPolicy()
	v, objs := ladderVideo(t0, 1080, 720, 480)
	objs = p.Roles(v, objs)
	top := v.MediaPrefix + "1080p.mp4"
	now := t0.Add(120 * Day)
	hot := activity(now, map[int]int64{0: 30, 1: 30})
	set := func(r oss.Restore) {
		for i := range objs {
			if objs[i].Key == top {
				objs[i].Class, objs[i].Since, objs[i].Restore = oss.Archive, t0.Add(95*Day), r
			}
		}
	}
	for _, c := range []struct {
		restore oss.Restore
		action  string
	}{
		{oss.Restore{}, ActRestore},
		{oss.Restore{Requested: true, Ongoing: true}, ActWait},
		{oss.Restore{Requested: true}, ActMove},
	} {
		set(c.restore)
		s := stepsByKey(p.Plan(v, objs, hot, now))[top]
		if s.Action != c.action || s.To != oss.Standard {
			t.Errorf("restore %+v: %+v, want %s", c.restore, s, c.action)
		}
	}
	// Lukewarm (watched, not hot): it stays in Archive rather than being warmed a little.
	set(oss.Restore{Requested: true})
	if s, ok := stepsByKey(p.Plan(v, objs, activity(now, map[int]int64{2: 5}), now))[top]; ok {
		t.Errorf("a lukewarm archived rendition moved: %+v", s)
	}
}

func TestPlanNeverTiersSmallObjectsAndBringsPinnedOnesBack(t *testing.T) {
	p := DefaultPolicy()
	v, objs := ladderVideo(t0, 1080, 480)
	objs = p.Roles(v, objs)
	for i := range objs {
		objs[i].Class = oss.IA // someone moved everything by hand
	}
	s := stepsByKey(p.Plan(v, objs, Activity{}, t0.Add(40*Day)))
	if _, ok := s[v.MediaPrefix+"master.m3u8"]; ok {
		t.Error("a 600-byte playlist was tiered")
	}
	for _, k := range []string{v.MediaPrefix + "480p.mp4", v.MediaPrefix + "storyboard-0.jpg"} {
		if s[k].To != oss.Standard || s[k].Action != ActMove {
			t.Errorf("pinned %s found in IA: %+v", k, s[k])
		}
	}
}

// A pinned object found in IA still plays at once, so it waits for IA's minimum duration like
// any move that does not pay; one found in Archive cannot be read, so it comes back whatever
// the charge (restored first), with the charge computed.
func TestPinnedObjectsLeaveIAEarlyOnlyWhenItPaysButArchiveAlways(t *testing.T) {
	p := DefaultPolicy()
	v, objs := ladderVideo(t0, 1080, 480)
	objs = p.Roles(v, objs)
	now := t0.Add(40 * Day)
	cover, low := v.MediaPrefix+"storyboard-0.jpg", v.MediaPrefix+"480p.mp4"
	for i := range objs {
		switch objs[i].Key {
		case cover:
			objs[i].Class, objs[i].Since = oss.IA, now.Add(-10*Day)
		case low:
			objs[i].Class, objs[i].Since = oss.Archive, now.Add(-10*Day)
		}
	}
	s := stepsByKey(p.Plan(v, objs, Activity{}, now))
	if st := s[cover]; st.Action != ActDefer || st.Verdict.Remaining != 20*Day || st.Verdict.EarlyCharge <= 0 {
		t.Errorf("a pinned object 10 days into IA, nobody watching: %+v", st)
	}
	if st := s[low]; st.To != oss.Standard || st.Action != ActRestore || st.Verdict.Remaining != 50*Day || st.Verdict.EarlyCharge <= 0 {
		t.Errorf("a pinned rung 10 days into Archive: %+v", st)
	}
	// Watched, the pinned rung in IA pays its way back early.
	for i := range objs {
		if objs[i].Key == low {
			objs[i].Class = oss.IA
		}
	}
	hot := map[int]int64{}
	for d := range 7 {
		hot[d] = 5000
	}
	if st := stepsByKey(p.Plan(v, objs, activity(now, hot), now))[low]; st.Action != ActMove || st.Verdict.Saving <= st.Verdict.EarlyCharge {
		t.Errorf("a watched pinned rung 10 days into IA: %+v", st)
	}
}
