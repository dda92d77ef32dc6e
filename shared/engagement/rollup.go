package engagement

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// The flush: counted views and the daily tallies go from Redis to Tablestore exactly once.
//
// Redis keeps increments in a pending hash; a flush rotates it into a batch whose id is larger
// than every earlier batch's, applies it, and drops it. Applying batch b to a row is one
// conditional update: add the batch's increments and set the row's batch column to b, only if
// that column is below b. A run killed half way leaves the batch in Redis; the next run applies
// it again and the rows that already took it refuse. A new batch is only rotated when no batch
// is open (Redis refuses otherwise), and a batch is dropped only once applied to every row, so
// "below b" means "not yet applied": two overlapping runs may both apply a batch, and each row
// takes it once.

// Columns of the batch bookkeeping on the daily stats row.
const colFlushBatch = "flush_batch"

// FlushReport says what one flush did.
type FlushReport struct {
	Batches     int   `json:"batches"`      // batches applied and dropped
	Videos      int   `json:"videos"`       // video rows given views
	Views       int64 `json:"views"`        // views added to video rows
	StatsRows   int   `json:"stats_rows"`   // daily rows updated
	AlreadyDone int   `json:"already_done"` // row updates refused because the row had the batch
	Vanished    int   `json:"vanished"`     // views of videos whose row is gone (dropped)
}

// RollupReport is what the rollup timer reports.
type RollupReport struct {
	Flush  FlushReport  `json:"flush"`
	Repair RepairReport `json:"repair"`
}

// Rollup flushes the tallies and repairs drifted counters. It is idempotent and safe to run
// twice at once; ctx's deadline bounds it (work left over waits for the next run).
func (s *Service) Rollup(ctx context.Context) (RollupReport, error) {
	var rep RollupReport
	var err error
	rep.Flush, err = s.Flush(ctx)
	if err != nil {
		return rep, fmt.Errorf("flush: %w", err)
	}
	rep.Repair, err = s.Ledger.Repair(ctx)
	if err != nil {
		return rep, fmt.Errorf("repair: %w", err)
	}
	// A corrected video counter is cached with its wrong value under an older generation that
	// nothing newer may come to replace: drop it, and the next read takes the row's.
	var vids []string
	for _, rc := range rep.Repair.fixed {
		if _, ok := rc.def.Owner.(videoOwner); ok {
			vids = append(vids, rc.c.Ref)
		}
	}
	if err := s.ForgetCounts(ctx, vids...); err != nil {
		s.log.WarnContext(ctx, "dropping cached counters after a recount failed; they expire on their own", "err", err)
	}
	return rep, nil
}

// Flush applies every open batch, then rotates the pending tallies into a new batch and
// applies that. A rotation is refused while a batch is open (an overlapping run rotated one
// since this run listed them): this run then helps apply it, and tries again.
func (s *Service) Flush(ctx context.Context) (FlushReport, error) {
	var rep FlushReport
	for attempt := 0; ; attempt++ {
		open, err := s.rdb.OpenBatches(ctx)
		if err != nil {
			return rep, err
		}
		for _, id := range open {
			if err := s.applyBatch(ctx, id, &rep); err != nil {
				return rep, err
			}
		}
		id, err := s.rdb.RotateTallies(ctx)
		if errors.Is(err, redis.ErrBatchOpen) {
			if attempt < 3 {
				continue
			}
			return rep, nil // the runs rotating meanwhile apply what they rotated
		}
		if err != nil || id == 0 {
			return rep, err
		}
		return rep, s.applyBatch(ctx, id, &rep)
	}
}

// chunk is how many row updates go in one BatchWriteRow (the service's limit).
const chunk = 200

func (s *Service) applyBatch(ctx context.Context, id int64, rep *FlushReport) error {
	if nearDeadline(ctx) {
		return errors.New("too close to the deadline to start a batch; the next run takes it")
	}
	tallies, err := s.rdb.ReadBatch(ctx, id)
	if err != nil {
		return err
	}
	type dayKey struct {
		video string
		day   int
	}
	views := map[string]int64{}
	daily := map[dayKey]map[string]int64{}
	for f, n := range tallies {
		vid, d, col, err := redis.ParseTallyField(f)
		if err != nil {
			s.log.ErrorContext(ctx, "skipping a malformed tally", "batch", id, "field", f, "err", err)
			continue
		}
		if n == 0 {
			continue
		}
		if col == videos.ColViews {
			views[vid] += n
		}
		k := dayKey{vid, d}
		if daily[k] == nil {
			daily[k] = map[string]int64{}
		}
		daily[k][col] += n
	}
	// Stable order: a re-run after a crash retraces the same chunks.
	var writes []tablestore.Write
	var kinds []string
	vids := make([]string, 0, len(views))
	for v := range views {
		vids = append(vids, v)
	}
	sort.Strings(vids)
	for _, v := range vids {
		writes = append(writes, videos.CountsWrite(v, map[string]int64{videos.ColViews: views[v]},
			map[string]any{videos.ColViewsBatch: id}, tablestore.Lt(videos.ColViewsBatch, id).OrMissing()))
		kinds = append(kinds, "video")
	}
	days := make([]dayKey, 0, len(daily))
	for k := range daily {
		days = append(days, k)
	}
	sort.Slice(days, func(i, j int) bool {
		if days[i].video != days[j].video {
			return days[i].video < days[j].video
		}
		return days[i].day < days[j].day
	})
	for _, k := range days {
		writes = append(writes, tablestore.Write{Table: tablestore.VideoStatsDaily.Name,
			Key:    tablestore.K("video_id", k.video, "day", int64(k.day)),
			Update: &tablestore.Change{Incr: daily[k], Set: tablestore.Cols{colFlushBatch: id}},
			Cond:   tablestore.Always.Where(tablestore.Lt(colFlushBatch, id).OrMissing())})
		kinds = append(kinds, "stats")
	}
	for start := 0; start < len(writes); start += chunk {
		end := min(start+chunk, len(writes))
		err := s.db.BatchWrite(ctx, writes[start:end])
		var be *tablestore.BatchError
		if err != nil && !errors.As(err, &be) {
			return err
		}
		failed := map[int]error{}
		if be != nil {
			failed = be.Failed
		}
		for i := start; i < end; i++ {
			ferr, bad := failed[i-start]
			switch {
			case bad && !tablestore.IsConditionFailed(ferr):
				return fmt.Errorf("batch %d: %w", id, ferr)
			case bad && kinds[i] == "video" && !s.videoExists(ctx, writes[i].Key.Str("video_id")):
				rep.Vanished++
			case bad:
				rep.AlreadyDone++
			case kinds[i] == "video":
				rep.Videos++
				rep.Views += views[writes[i].Key.Str("video_id")]
			default:
				rep.StatsRows++
			}
		}
		s.log.InfoContext(ctx, "flush chunk applied", "batch", id, "rows", end, "of", len(writes))
	}
	if err := s.ForgetCounts(ctx, vids...); err != nil {
		s.log.WarnContext(ctx, "dropping cached counters after a flush failed; they expire on their own", "err", err)
	}
	if err := s.rdb.DropBatch(ctx, id); err != nil {
		return err
	}
	rep.Batches++
	return nil
}

func (s *Service) videoExists(ctx context.Context, id string) bool {
	_, ok, err := s.videos.ReadCounters(ctx, id)
	return err != nil || ok // when unsure, call it applied rather than vanished
}
