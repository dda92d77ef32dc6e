package engagement

import (
	"context"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// The counts cache: one Redis hash per video holding its five counters and the generation of
// the row they were read from. Every counter change in this package writes the snapshot its
// increment returned (the increment returns all five, the others moved by 0), tagged with the
// new generation; racing writers cannot roll the cache back because an older generation never
// overwrites a newer one. Views are flushed by rollup without moving the generation, so rollup
// drops the cache of the videos it flushed and the next read refills it from the row; it does
// the same for a video whose counter a recount corrected.
//
// How stale a cached count can be: likes, favourites, comments and danmaku are written through
// on every change, so they are current unless a cache write failed, and then at most CountsTTL
// (60 s) old. Views lag by up to one rollup interval (the flush period), plus nothing.

func countsKey(id string) string { return "cnt:" + id }

var countFields = []string{videos.ColViews, videos.ColLikes, videos.ColFavourites, videos.ColComments, videos.ColDanmaku}

func countsFrom(m map[string]int64) vodfc.Counts {
	return vodfc.Counts{Views: m[videos.ColViews], Likes: m[videos.ColLikes], Favourites: m[videos.ColFavourites],
		Comments: m[videos.ColComments], Danmaku: m[videos.ColDanmaku]}
}

// CacheSnapshot stores the counters an increment of video id returned.
func (s *Service) CacheSnapshot(ctx context.Context, id string, snap map[string]int64) {
	if snap == nil {
		return
	}
	fields := make(map[string]int64, len(countFields))
	for _, f := range countFields {
		fields[f] = snap[f]
	}
	if _, err := s.rdb.SetIfNewer(ctx, countsKey(id), snap[videos.ColCounterGen], fields, s.cfg.CountsTTL); err != nil {
		s.log.WarnContext(ctx, "caching counters failed", "video", id, "err", err)
	}
}

// Counts returns the counters of videos, from the cache where it has them and from the video
// rows (one batched read) for the rest, which then fill the cache. Missing videos are absent.
func (s *Service) Counts(ctx context.Context, ids []string) (map[string]vodfc.Counts, error) {
	out := make(map[string]vodfc.Counts, len(ids))
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = countsKey(id)
	}
	cached, err := s.rdb.GetVersioned(ctx, keys, countFields...)
	if err != nil {
		s.log.WarnContext(ctx, "counts cache unavailable; reading the rows", "err", err)
		cached = make([]*redis.Versioned, len(ids))
	}
	var missing []string
	for i, id := range ids {
		if cached[i] != nil {
			out[id] = countsFrom(cached[i].Fields)
		} else if vodfc.ValidID(id) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	tkeys := make([]tablestore.Key, len(missing))
	for i, id := range missing {
		tkeys[i] = tablestore.K("video_id", id)
	}
	rows, err := s.db.BatchGet(ctx, tablestore.Videos.Name, tkeys, append(countFields, videos.ColCounterGen)...)
	if err != nil {
		return nil, storageErr(err)
	}
	for i, r := range rows {
		if r == nil {
			continue
		}
		fields := make(map[string]int64, len(countFields))
		for _, f := range countFields {
			fields[f] = r.Int(f)
		}
		out[missing[i]] = countsFrom(fields)
		if _, err := s.rdb.SetIfNewer(ctx, countsKey(missing[i]), r.Int(videos.ColCounterGen), fields, s.cfg.CountsTTL); err != nil {
			s.log.WarnContext(ctx, "caching counters failed", "video", missing[i], "err", err)
		}
	}
	return out, nil
}

// count returns one video's counters (zero for a missing video).
func (s *Service) count(ctx context.Context, id string) (vodfc.Counts, error) {
	m, err := s.Counts(ctx, []string{id})
	return m[id], err
}

// ForgetCounts drops cached counters (after rollup flushed views into the rows).
func (s *Service) ForgetCounts(ctx context.Context, ids ...string) error {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = countsKey(id)
	}
	for start := 0; start < len(keys); start += 500 {
		if err := s.rdb.Delete(ctx, keys[start:min(start+500, len(keys))]...); err != nil {
			return err
		}
	}
	return nil
}
