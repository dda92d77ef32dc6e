package playback

import (
	"context"
	"slices"

	"vodfc.dev/vodfc"
)

// Availability is whether a rendition's media can be read right now. The storage-lifecycle
// work plugs in its view (Archive rungs are Archived until a restore finishes); until then
// every published rendition is Available.
type Availability int

const (
	Available Availability = iota
	Restoring              // a restore is under way; try again later
	Archived               // cold storage, not restored; playing it needs a restore first
)

// AvailabilityFunc reports the availability of each of v's renditions, in v.Renditions order.
type AvailabilityFunc func(ctx context.Context, v *vodfc.Video) ([]Availability, error)

// RestoreFunc asks storage to make the renditions at idx of v readable (restore them from
// cold storage) and reports their availability afterwards, aligned with idx. It must be cheap
// to call again for a rendition whose restore is under way.
type RestoreFunc func(ctx context.Context, v *vodfc.Video, idx []int) ([]Availability, error)

// AllAvailable is the availability of a video whose media all sit in readable storage.
func AllAvailable(_ context.Context, v *vodfc.Video) ([]Availability, error) {
	return make([]Availability, len(v.Renditions)), nil
}

// Policy says who may watch what.
type Policy struct {
	// FreeMaxHeight is the largest rendition class non-members may watch (720: up to 720p).
	// A rendition's class is its shorter side, so a 1080×1920 portrait video's top rung is
	// 1080p like a landscape 1920×1080 one.
	FreeMaxHeight int
}

// DefaultPolicy lets non-members watch up to 720p and members everything.
func DefaultPolicy() Policy { return Policy{FreeMaxHeight: 720} }

// Class is a rendition's class, its shorter side: what "720p" means for any orientation.
func Class(r vodfc.Rendition) int { return min(r.Width, r.Height) }

// Selection is what one viewer gets of a video's renditions; each list holds indexes into
// v.Renditions.
type Selection struct {
	// Playable are the renditions to list in the viewer's master playlist, in the order a
	// player should try them: the best one up to 720p first (a safe start on most
	// connections), then the others from the highest down.
	Playable []int
	// MembersOnly are renditions the viewer's tier does not include.
	MembersOnly []int
	// Unavailable are renditions the tier includes but storage cannot serve now.
	Unavailable []int
}

// Allowed reports whether rendition i is playable in s.
func (s Selection) Allowed(i int) bool { return slices.Contains(s.Playable, i) }

// Select decides which renditions of rs a viewer of tier may watch, given each rendition's
// availability (nil means all available). It is the one place where tier and storage decide
// together: a non-member never gets a rendition above Policy.FreeMaxHeight, except that a
// video whose every rendition is larger still plays its smallest one, and renditions that are
// not available now are left out (and reported) rather than listed to fail in the player.
func Select(rs []vodfc.Rendition, tier vodfc.Tier, p Policy, avail []Availability) Selection {
	var s Selection
	smallest := -1
	for i, r := range rs {
		if smallest < 0 || Class(r) < Class(rs[smallest]) {
			smallest = i
		}
	}
	for i, r := range rs {
		if tier != vodfc.TierMember && Class(r) > p.FreeMaxHeight && i != smallest {
			s.MembersOnly = append(s.MembersOnly, i)
			continue
		}
		if avail != nil && i < len(avail) && avail[i] != Available {
			s.Unavailable = append(s.Unavailable, i)
			continue
		}
		s.Playable = append(s.Playable, i)
	}
	// Highest first, then move the best rendition up to 720p to the front.
	slices.SortStableFunc(s.Playable, func(a, b int) int { return rs[b].Bandwidth - rs[a].Bandwidth })
	for k, i := range s.Playable {
		if Class(rs[i]) <= DefaultPolicy().FreeMaxHeight {
			s.Playable = append([]int{i}, slices.Delete(s.Playable, k, k+1)...)
			break
		}
	}
	return s
}
