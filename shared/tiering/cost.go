package tiering

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"vodfc.dev/vodfc/oss"
)

// Day and Month are the units of OSS billing: prices are per GB-month, and OSS prorates them
// by the hour over 30-day months.
const (
	Day   = 24 * time.Hour
	Month = 30 * Day
)

// GB is the unit prices are quoted in.
const GB = 1 << 30

// MinBilledSize is what OSS bills an object under it for outside Standard (64 KiB); it is also
// why objects smaller than it are never tiered: moving them saves nothing.
const MinBilledSize = 64 << 10

// Classes in order of temperature: a move to a later one is a move down.
var Classes = []string{oss.Standard, oss.IA, oss.Archive, oss.ColdArchive}

// rank orders classes from hot to cold; unknown classes rank as Standard.
func rank(class string) int {
	for i, c := range Classes {
		if c == class {
			return i
		}
	}
	return 0
}

// Archived reports whether objects of class must be restored before they can be read.
func Archived(class string) bool {
	return class == oss.Archive || class == oss.ColdArchive || class == "DeepColdArchive"
}

// MinDuration is OSS's minimum storage duration of class: an object moved or deleted earlier
// is billed for the rest of it at once (REFERENCE §5).
func MinDuration(class string) time.Duration {
	switch class {
	case oss.IA:
		return 30 * Day
	case oss.Archive:
		return 60 * Day
	case oss.ColdArchive, "DeepColdArchive":
		return 180 * Day
	}
	return 0
}

// BilledSize is the size OSS bills an object of size bytes for in class.
func BilledSize(class string, size int64) int64 {
	if class != oss.Standard && size < MinBilledSize {
		return MinBilledSize
	}
	return size
}

// Price is what one class costs, in CNY.
type Price struct {
	// Storage per GB-month.
	Storage float64 `json:"storage_per_gb_month"`
	// Retrieval per GB read (IA) or restored (Archive, Cold Archive).
	Retrieval float64 `json:"retrieval_per_gb"`
}

// Prices is the price table the report and the early-move decisions use, by class.
type Prices map[string]Price

// DefaultPrices are OSS's list prices in mainland China regions (REFERENCE §5), CNY.
func DefaultPrices() Prices {
	return Prices{
		oss.Standard:    {Storage: 0.12},
		oss.IA:          {Storage: 0.08, Retrieval: 0.0325},
		oss.Archive:     {Storage: 0.033, Retrieval: 0.06},
		oss.ColdArchive: {Storage: 0.015, Retrieval: 0.2},
	}
}

// ParsePrices reads "Standard=0.12,IA=0.08/0.0325,Archive=0.033/0.06": storage per GB-month,
// then optionally retrieval per GB, over the defaults.
func ParsePrices(s string) (Prices, error) {
	p := DefaultPrices()
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		class, v, ok := strings.Cut(part, "=")
		if !ok || !knownClass(class) {
			return nil, fmt.Errorf("%q: want CLASS=STORAGE[/RETRIEVAL] with CLASS one of %s", part, strings.Join(Classes, ", "))
		}
		st, rt, hasRT := strings.Cut(v, "/")
		pr := p[class]
		var err error
		if pr.Storage, err = strconv.ParseFloat(st, 64); err != nil || pr.Storage < 0 {
			return nil, fmt.Errorf("%q: storage price %q is not a number ≥ 0", part, st)
		}
		if hasRT {
			if pr.Retrieval, err = strconv.ParseFloat(rt, 64); err != nil || pr.Retrieval < 0 {
				return nil, fmt.Errorf("%q: retrieval price %q is not a number ≥ 0", part, rt)
			}
		}
		p[class] = pr
	}
	return p, nil
}

func knownClass(c string) bool { return rank(c) > 0 || c == oss.Standard }

// Monthly is what size bytes cost per month in class.
func (p Prices) Monthly(class string, size int64) float64 {
	return float64(BilledSize(class, size)) / GB * p[class].Storage
}

// storage is what size bytes cost in class over d.
func (p Prices) storage(class string, size int64, d time.Duration) float64 {
	return p.Monthly(class, size) * float64(d) / float64(Month)
}

// Verdict is the early-move computation for one move: what moving now costs at once and
// what it saves compared with waiting for the minimum duration to end.
type Verdict struct {
	// Remaining is how much of the current class's minimum storage duration is left (0 when
	// it is over: the move costs nothing extra).
	Remaining time.Duration `json:"remaining"`
	// EarlyCharge is the remainder of the minimum duration, which OSS bills at once when the
	// object leaves its class now (CNY).
	EarlyCharge float64 `json:"early_charge"`
	// Saving is what the object costs if it stays until the minimum duration ends (that
	// remainder's storage, plus the retrieval expected within the horizon) minus what it
	// costs in the target class over the same time (CNY).
	Saving float64 `json:"saving"`
	// Move says whether to move now: the minimum duration is over, or Saving > EarlyCharge.
	Move bool `json:"move"`
}

// Usage is what the planner expects of an object while it stays where it is.
type Usage struct {
	// ReadBytesPerDay is how many of its bytes viewers are expected to read per day.
	ReadBytesPerDay float64
	// RestoreEvery is how long a restore lasts: an archived object that people keep
	// watching is restored again this often.
	RestoreEvery time.Duration
}

// retrievalPerDay is the expected retrieval charge per day of an object of size in class.
func (p Prices) retrievalPerDay(class string, size int64, u Usage) float64 {
	switch {
	case u.ReadBytesPerDay <= 0:
		return 0
	case Archived(class):
		// Read through restores: each is billed for the whole object and lasts RestoreEvery.
		every := u.RestoreEvery
		if every <= 0 {
			every = Day
		}
		return float64(size) / GB * p[class].Retrieval * float64(Day) / float64(every)
	default:
		return u.ReadBytesPerDay / GB * p[class].Retrieval
	}
}

// Judge decides whether moving an object of size from class `from`, in it since `since`, to
// class `to` at now pays. Reads are forecast no further than horizon. Waiting for the minimum
// duration to end costs that remainder's storage anyway, so moving early pays only when what
// the current class costs beyond it (retrieval) outweighs what the target class costs
// meanwhile; the verdict carries both sides so the decision can be logged and recorded.
func (p Prices) Judge(from, to string, size int64, since, now time.Time, horizon time.Duration, u Usage) Verdict {
	least := MinDuration(from)
	rem := least - now.Sub(since)
	if least == 0 || rem <= 0 {
		return Verdict{Move: true}
	}
	forecast := float64(min(rem, horizon)) / float64(Day)
	charge := p.storage(from, size, rem)
	stay := charge + p.retrievalPerDay(from, size, u)*forecast
	moved := p.storage(to, size, rem) + p.retrievalPerDay(to, size, u)*forecast
	return Verdict{Remaining: rem, EarlyCharge: round(charge), Saving: round(stay - moved), Move: stay-moved > charge}
}

// round keeps money to 1e-9 CNY, enough for single small objects and stable in JSON.
func round(x float64) float64 {
	const q = 1e9
	if x < 0 {
		return -float64(int64(-x*q+0.5)) / q
	}
	return float64(int64(x*q+0.5)) / q
}
