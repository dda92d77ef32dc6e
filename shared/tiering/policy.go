package tiering

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Policy is what decides each object's class. Every field has an environment variable (see
// PolicyFromEnv); the defaults are the issue's.
type Policy struct {
	// SourceArchiveAfter is how long after a successful transcode the uploaded original moves
	// to Archive (TIERING_SOURCE_ARCHIVE_AFTER, 24h): nothing reads it once the ladder exists.
	SourceArchiveAfter time.Duration
	// PinnedMaxHeight: rungs of this class or lower (480 = up to 480p) stay Standard, as does
	// the smallest rung of every ladder, so every video starts playing at once
	// (TIERING_PINNED_MAX_HEIGHT). The master playlist, variant playlists, cover and storyboard
	// always stay Standard.
	PinnedMaxHeight int
	// ColdWindow and ColdBelow: a rung whose activity over the last ColdWindow is below
	// ColdBelow goes to IA, once the video is at least ColdWindow old
	// (TIERING_COLD_WINDOW 720h, TIERING_COLD_BELOW 10).
	ColdWindow time.Duration
	ColdBelow  float64
	// ArchiveWindow: a rung untouched (no activity at all) for ArchiveWindow goes to Archive,
	// once the video is at least that old (TIERING_ARCHIVE_WINDOW, 2160h = 90 days).
	ArchiveWindow time.Duration
	// HotWindow and HotAtLeast: a rung in IA or Archive whose activity over the last
	// HotWindow reaches HotAtLeast returns to Standard (TIERING_HOT_WINDOW 168h,
	// TIERING_HOT_AT_LEAST 50). The gap between ColdBelow and HotAtLeast keeps rungs from
	// flapping between classes.
	HotWindow  time.Duration
	HotAtLeast float64
	// EngagementWeight is how many views a like, favourite, comment or danmaku of the day
	// counts for in a video's activity (TIERING_ENGAGEMENT_WEIGHT, 5).
	EngagementWeight float64
	// ReadShare is the share of a rendition's bytes one view is expected to read
	// (TIERING_READ_SHARE, 0.5): viewers stop early and players switch rungs.
	ReadShare float64
	// Horizon is how far ahead reads are forecast when an early move is weighed against its
	// charge (TIERING_HORIZON, 720h).
	Horizon time.Duration
	// RestoreDays is how long a restored Archive object stays readable (TIERING_RESTORE_DAYS,
	// 2; OSS allows 1 to 7).
	RestoreDays int
	// Prices is the price table in CNY (TIERING_PRICES, e.g. "Standard=0.12,IA=0.08/0.0325").
	Prices Prices
}

// DefaultPolicy is the policy with OSS's list prices.
func DefaultPolicy() Policy {
	return Policy{
		SourceArchiveAfter: Day,
		PinnedMaxHeight:    480,
		ColdWindow:         30 * Day,
		ColdBelow:          10,
		ArchiveWindow:      90 * Day,
		HotWindow:          7 * Day,
		HotAtLeast:         50,
		EngagementWeight:   5,
		ReadShare:          0.5,
		Horizon:            30 * Day,
		RestoreDays:        2,
		Prices:             DefaultPrices(),
	}
}

// lookback is how many days of stats a decision needs.
func (p Policy) lookback() int {
	return int(max(p.ColdWindow, p.ArchiveWindow, p.HotWindow) / Day)
}

// Validate reports what is wrong with p, all at once.
func (p Policy) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	for name, d := range map[string]time.Duration{"TIERING_COLD_WINDOW": p.ColdWindow, "TIERING_ARCHIVE_WINDOW": p.ArchiveWindow,
		"TIERING_HOT_WINDOW": p.HotWindow, "TIERING_HORIZON": p.Horizon} {
		if d < Day || d%Day != 0 {
			bad(name, "%s is not a whole number of days (e.g. 720h)", d)
		}
	}
	if p.SourceArchiveAfter < 0 {
		bad("TIERING_SOURCE_ARCHIVE_AFTER", "%s is negative", p.SourceArchiveAfter)
	}
	if p.ArchiveWindow < p.ColdWindow {
		bad("TIERING_ARCHIVE_WINDOW", "%s is shorter than TIERING_COLD_WINDOW %s", p.ArchiveWindow, p.ColdWindow)
	}
	if p.HotAtLeast <= p.ColdBelow*float64(p.HotWindow)/float64(max(p.ColdWindow, Day)) {
		bad("TIERING_HOT_AT_LEAST", "%g is not above the cold threshold's rate (%g over %s): rungs would flap", p.HotAtLeast, p.ColdBelow, p.ColdWindow)
	}
	if p.PinnedMaxHeight < 0 {
		bad("TIERING_PINNED_MAX_HEIGHT", "%d is negative", p.PinnedMaxHeight)
	}
	if p.ColdBelow < 0 || p.EngagementWeight < 0 {
		bad("TIERING_COLD_BELOW/TIERING_ENGAGEMENT_WEIGHT", "must not be negative")
	}
	if p.ReadShare <= 0 || p.ReadShare > 1 {
		bad("TIERING_READ_SHARE", "%g is not in (0, 1]", p.ReadShare)
	}
	if p.RestoreDays < 1 || p.RestoreDays > 7 {
		bad("TIERING_RESTORE_DAYS", "%d is not 1 to 7 (what OSS allows for Archive)", p.RestoreDays)
	}
	if p.Prices == nil {
		bad("TIERING_PRICES", "no price table")
	}
	return errors.Join(errs...)
}

// PolicyFromEnv reads the TIERING_* variables over DefaultPolicy, naming every problem.
func PolicyFromEnv(getenv func(string) string) (Policy, error) {
	p := DefaultPolicy()
	var errs []error
	dur := func(name string, d *time.Duration) {
		if v := getenv(name); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: want a Go duration such as 720h", name, v))
				return
			}
			*d = x
		}
	}
	num := func(name string, f *float64) {
		if v := getenv(name); v != "" {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: want a number", name, v))
				return
			}
			*f = x
		}
	}
	integer := func(name string, n *int) {
		if v := getenv(name); v != "" {
			x, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: want a whole number", name, v))
				return
			}
			*n = x
		}
	}
	dur("TIERING_SOURCE_ARCHIVE_AFTER", &p.SourceArchiveAfter)
	integer("TIERING_PINNED_MAX_HEIGHT", &p.PinnedMaxHeight)
	dur("TIERING_COLD_WINDOW", &p.ColdWindow)
	num("TIERING_COLD_BELOW", &p.ColdBelow)
	dur("TIERING_ARCHIVE_WINDOW", &p.ArchiveWindow)
	dur("TIERING_HOT_WINDOW", &p.HotWindow)
	num("TIERING_HOT_AT_LEAST", &p.HotAtLeast)
	num("TIERING_ENGAGEMENT_WEIGHT", &p.EngagementWeight)
	num("TIERING_READ_SHARE", &p.ReadShare)
	dur("TIERING_HORIZON", &p.Horizon)
	integer("TIERING_RESTORE_DAYS", &p.RestoreDays)
	if v := getenv("TIERING_PRICES"); v != "" {
		pr, err := ParsePrices(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("TIERING_PRICES: %w", err))
		} else {
			p.Prices = pr
		}
	}
	if len(errs) == 0 {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return p, errors.Join(errs...)
}
