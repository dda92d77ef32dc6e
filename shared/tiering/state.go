package tiering

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"vodfc.dev/vodfc/tablestore"
)

// Columns of media_tiers (shared/tablestore/tables.go).
const (
	colVersion   = "version"
	colCold      = "cold"
	colPending   = "pending"
	colHistory   = "history"
	colCharges   = "charges"
	colCheckedAt = "checked_at"
)

// historyPerObject is how many past moves of one object the row keeps.
const historyPerObject = 4

// Record is one applied move, as the history keeps it.
type Record struct {
	At      time.Time `json:"at"`
	Run     string    `json:"run"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Size    int64     `json:"size"`
	Reason  string    `json:"reason"`
	Verdict Verdict   `json:"verdict"`
}

// pending is the set of moves a run claimed on a video before making them.
type pending struct {
	Run   string `json:"run"`
	At    int64  `json:"at"` // unix ms on the timer's clock
	Moves []Step `json:"moves"`
}

// tierRow is a media_tiers row.
type tierRow struct {
	exists  bool
	Version int64
	Cold    []string
	Pending *pending
	History map[string][]Record
	Charges float64
}

func tierKey(video string) tablestore.Key { return tablestore.K("video_id", video) }

func rowFrom(r *tablestore.Row) tierRow {
	t := tierRow{History: map[string][]Record{}}
	if r == nil {
		return t
	}
	t.exists = true
	t.Version = r.Int(colVersion)
	t.Charges = r.Float(colCharges)
	// A column that does not decode is treated as empty: the next commit rewrites it, and
	// OSS stays the truth of every class.
	_ = json.Unmarshal([]byte(r.Str(colCold)), &t.Cold)
	if s := r.Str(colPending); s != "" {
		var p pending
		if json.Unmarshal([]byte(s), &p) == nil {
			t.Pending = &p
		}
	}
	if s := r.Str(colHistory); s != "" {
		_ = json.Unmarshal([]byte(s), &t.History)
		if t.History == nil {
			t.History = map[string][]Record{}
		}
	}
	return t
}

// readRows reads the media_tiers rows of videos (one batch read), keyed by video id.
func readRows(ctx context.Context, db *tablestore.Client, ids []string) (map[string]tierRow, error) {
	keys := make([]tablestore.Key, len(ids))
	for i, id := range ids {
		keys[i] = tierKey(id)
	}
	rows, err := db.BatchGet(ctx, tablestore.MediaTiers.Name, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]tierRow, len(ids))
	for i, id := range ids {
		out[id] = rowFrom(rows[i])
	}
	return out, nil
}

// versionCond holds while the row is still at version v (v = 0: no row yet).
func versionCond(v int64) tablestore.Cond {
	if v == 0 {
		return tablestore.Always.Where(tablestore.Eq(colVersion, int64(0)).OrMissing())
	}
	return tablestore.Always.Where(tablestore.Eq(colVersion, v))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain structs are marshalled
	}
	return string(b)
}

// claim records the moves a run is about to make, and the keys that will be cold once they
// are made, so playback checks them from now on. It fails with tablestore.ErrConditionFailed
// when another run changed the row since it was read.
func claim(ctx context.Context, db *tablestore.Client, video string, row tierRow, p pending, cold []string) error {
	union := slices.Clone(row.Cold)
	for _, k := range cold {
		if !slices.Contains(union, k) {
			union = append(union, k)
		}
	}
	slices.Sort(union)
	_, err := db.Update(ctx, tablestore.MediaTiers.Name, tierKey(video), tablestore.Change{
		Set: tablestore.Cols{colVersion: row.Version + 1, colPending: mustJSON(p), colCold: mustJSON(union)},
	}, versionCond(row.Version))
	return err
}

// commit records the outcome of a visit: the cold keys as they now are, the moves made (with
// their computations) and the early-move charges paid, and clears any claim. It is
// conditional on the version the visit saw (or set by its claim).
func commit(ctx context.Context, db *tablestore.Client, video string, version int64, cold []string, history map[string][]Record, charges float64, now time.Time) error {
	slices.Sort(cold)
	if cold == nil {
		cold = []string{}
	}
	_, err := db.Update(ctx, tablestore.MediaTiers.Name, tierKey(video), tablestore.Change{
		Set: tablestore.Cols{colVersion: version + 1, colCold: mustJSON(cold), colHistory: mustJSON(history),
			colCharges: charges, colCheckedAt: now.UnixMilli()},
		Delete: []string{colPending},
	}, versionCond(version))
	return err
}

// addHistory appends recs to h, keeping the last historyPerObject moves of each object.
func addHistory(h map[string][]Record, key string, recs ...Record) {
	l := append(h[key], recs...)
	if len(l) > historyPerObject {
		l = l[len(l)-historyPerObject:]
	}
	h[key] = l
}
