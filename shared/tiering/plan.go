package tiering

import (
	"fmt"
	"path"
	"strings"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
)

// Roles of a video's objects.
const (
	RoleSource    = "source"    // the uploaded original
	RoleRendition = "rendition" // a rung's fMP4 file
	RolePinned    = "pinned"    // playlists, cover, storyboard, pinned rungs: always Standard
)

// Object is one object of a video as OSS describes it, with its role in the video.
type Object struct {
	Key     string
	Size    int64
	Class   string
	Since   time.Time // Last-Modified: when it entered its class (a class change by copy resets it)
	Restore oss.Restore
	Role    string
	Rung    string // "1080p" for renditions
}

// Actions of a step.
const (
	ActMove    = "move"    // change the class now (a copy onto itself)
	ActDefer   = "defer"   // the move waits: leaving now costs more than it saves
	ActRestore = "restore" // an archived object must be restored before it can move up
	ActWait    = "wait"    // its restore is under way; the move follows on a later run
)

// Step is what the planner wants done to one object.
type Step struct {
	Video   string  `json:"video"`
	Key     string  `json:"key"`
	Role    string  `json:"role"`
	Rung    string  `json:"rung,omitempty"`
	Size    int64   `json:"size"`
	From    string  `json:"from"`
	To      string  `json:"to"`
	Action  string  `json:"action"`
	Reason  string  `json:"reason"`
	Verdict Verdict `json:"verdict"`
}

// Early reports whether the step leaves a class before its minimum storage duration.
func (s Step) Early() bool { return s.Verdict.Remaining > 0 }

// VideoPlan is the target state of one video's objects and the steps to get there.
type VideoPlan struct {
	Video string
	Steps []Step
	// Cold are the rendition keys that are archived or planned to be: playback checks them
	// before listing a rendition.
	Cold []string
}

// Moves are the steps that change a class now.
func (p VideoPlan) Moves() []Step {
	var out []Step
	for _, s := range p.Steps {
		if s.Action == ActMove {
			out = append(out, s)
		}
	}
	return out
}

// Roles assigns each listed object of v its role: the source, each rung's media file (pinned
// or not), and everything else under the media prefix (pinned).
func (p Policy) Roles(v *vodfc.Video, objs []Object) []Object {
	rungs := map[string]vodfc.Rendition{}
	smallest := -1
	for i, r := range v.Renditions {
		rungs[r.Media] = r
		if smallest < 0 || rungClass(r) < rungClass(v.Renditions[smallest]) {
			smallest = i
		}
	}
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		switch r, ok := rungs[o.Key]; {
		case o.Key == vodfc.SourceKey(v.ID):
			o.Role = RoleSource
		case ok:
			o.Rung = strings.TrimSuffix(path.Base(r.Playlist), ".m3u8")
			o.Role = RoleRendition
			if rungClass(r) <= p.PinnedMaxHeight || r.Media == v.Renditions[smallest].Media {
				o.Role = RolePinned
			}
		default:
			o.Role = RolePinned
		}
		out = append(out, o)
	}
	return out
}

// rungClass is a rendition's class, its shorter side (what "480p" means in any orientation).
func rungClass(r vodfc.Rendition) int { return min(r.Width, r.Height) }

// Plan decides the class of every object of a ready video at now, given its activity.
// Objects must carry their roles (Roles).
func (p Policy) Plan(v *vodfc.Video, objs []Object, act Activity, now time.Time) VideoPlan {
	plan := VideoPlan{Video: v.ID}
	age := now.Sub(v.PublishedAt)
	views7, hot := act.Window(now, p.HotWindow)
	_, cold := act.Window(now, p.ColdWindow)
	_, touched := act.Window(now, p.ArchiveWindow)
	for _, o := range objs {
		to, reason := o.Class, ""
		switch {
		case o.Size < MinBilledSize:
			continue // never tiered: OSS bills it as 64 KiB anywhere but Standard
		case o.Role == RolePinned:
			to, reason = oss.Standard, "pinned: every video starts playing at once"
		case o.Role == RoleSource:
			if age >= p.SourceArchiveAfter && !v.PublishedAt.IsZero() {
				to, reason = oss.Archive, fmt.Sprintf("source, transcoded %s ago", age.Round(time.Hour))
			}
		case o.Role == RoleRendition:
			switch {
			case hot >= p.HotAtLeast:
				to, reason = oss.Standard, fmt.Sprintf("hot: activity %g over %s", hot, p.HotWindow)
			case age >= p.ArchiveWindow && touched == 0:
				to, reason = colder(o.Class, oss.Archive), fmt.Sprintf("untouched for %s", p.ArchiveWindow)
			case age >= p.ColdWindow && cold < p.ColdBelow:
				to, reason = colder(o.Class, oss.IA), fmt.Sprintf("cold: activity %g over %s", cold, p.ColdWindow)
			}
		}
		if to == o.Class {
			if o.Role == RoleRendition && Archived(o.Class) {
				plan.Cold = append(plan.Cold, o.Key)
			}
			continue
		}
		st := Step{Video: v.ID, Key: o.Key, Role: o.Role, Rung: o.Rung, Size: o.Size, From: o.Class, To: to, Reason: reason}
		u := Usage{RestoreEvery: time.Duration(p.RestoreDays) * Day}
		if o.Rung != "" { // a rung's media, pinned or not: viewers read it
			u.ReadBytesPerDay = float64(views7) / float64(p.HotWindow/Day) * p.ReadShare * float64(o.Size)
		}
		st.Verdict = p.Prices.Judge(o.Class, to, o.Size, o.Since, now, p.Horizon, u)
		if o.Role == RolePinned && Archived(o.Class) {
			// Playability is not weighed against money: a pinned object that cannot be read
			// (an Archive one) goes back whatever the charge, which is still computed and
			// recorded. One found in IA still plays at once, so it waits like any other move.
			st.Verdict.Move = true
		}
		switch {
		case !st.Verdict.Move:
			st.Action = ActDefer
		case Archived(o.Class) && o.Restore.Ongoing:
			st.Action = ActWait
		case Archived(o.Class) && !o.Restore.Requested:
			st.Action = ActRestore
		default:
			st.Action = ActMove
		}
		if o.Role == RoleRendition && (Archived(o.Class) || Archived(to) && st.Action == ActMove) {
			plan.Cold = append(plan.Cold, o.Key)
		}
		plan.Steps = append(plan.Steps, st)
	}
	return plan
}

// colder is the colder of two classes: a rung is never warmed up by being merely cold.
func colder(a, b string) string {
	if rank(a) > rank(b) {
		return a
	}
	return b
}
