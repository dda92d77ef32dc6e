package videos

import (
	"context"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/tablestore"
)

// Bookkeeping columns of the counters, written only by the engagement feature together with
// an increment (docs/architecture.md "Video row").
const (
	// ColCounterGen counts the changes made to likes, favourites, comments and danmaku. Each
	// such increment adds 1 to it in the same row update, so a recount that read the row can
	// commit its correction on the condition that the generation did not move.
	ColCounterGen = "counter_gen"
	// ColViewsBatch is the id of the last view-flush batch applied to the row; a flush applies
	// batch b only where it is smaller than b, so a re-run applies nothing twice.
	ColViewsBatch = "views_batch"
)

// CountersRow is the counters of a video as one read of its row saw them.
type CountersRow struct {
	Counts vodfc.Counts
	Gen    int64
}

// ReadCounters reads the counters of video id and their generation; ok is false when the
// video does not exist.
func (s *Store) ReadCounters(ctx context.Context, id string) (row CountersRow, ok bool, err error) {
	r, err := s.db.Get(ctx, tablestore.Videos.Name, key(id), ColViews, ColLikes, ColFavourites, ColComments, ColDanmaku, ColCounterGen)
	if err != nil || r == nil {
		return CountersRow{}, false, err
	}
	return CountersRow{Gen: r.Int(ColCounterGen), Counts: vodfc.Counts{Views: r.Int(ColViews), Likes: r.Int(ColLikes),
		Favourites: r.Int(ColFavourites), Comments: r.Int(ColComments), Danmaku: r.Int(ColDanmaku)}}, true, nil
}

// IncrementCountsIf is IncrementCounts under extra column predicates (the video must exist
// too), also setting the columns in set. A predicate that does not hold is
// tablestore.ErrConditionFailed.
func (s *Store) IncrementCountsIf(ctx context.Context, id string, deltas map[string]int64, set tablestore.Cols, where ...tablestore.Pred) (map[string]int64, error) {
	return s.db.Update(ctx, tablestore.Videos.Name, key(id), tablestore.Change{Incr: deltas, Set: set}, tablestore.IfExists().Where(where...))
}

// CountsWrite is IncrementCountsIf as one write of a tablestore.BatchWrite, for flushes that
// touch many videos at once (increments are not returned in batches).
func CountsWrite(id string, deltas map[string]int64, set tablestore.Cols, where ...tablestore.Pred) tablestore.Write {
	return tablestore.Write{Table: tablestore.Videos.Name, Key: key(id),
		Update: &tablestore.Change{Incr: deltas, Set: set}, Cond: tablestore.IfExists().Where(where...)}
}
