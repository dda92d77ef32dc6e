package tiering

import (
	"context"
	"time"

	"vodfc.dev/vodfc/tablestore"
)

// Activity is a video's popularity by day, from video_stats_daily (written by rollup).
type Activity struct {
	// Views and Score by day (yyyymmdd, UTC). Score is views plus weighted engagement.
	Views map[int]int64
	Score map[int]float64
}

// Window sums the views and the score of the last d up to and including now's day.
func (a Activity) Window(now time.Time, d time.Duration) (views int64, score float64) {
	n := int(d / Day)
	day := now.UTC()
	for range n {
		k := DayKey(day)
		views += a.Views[k]
		score += a.Score[k]
		day = day.AddDate(0, 0, -1)
	}
	return views, score
}

// DayKey is the UTC day of t as video_stats_daily keys it (yyyymmdd).
func DayKey(t time.Time) int {
	t = t.UTC()
	return t.Year()*10000 + int(t.Month())*100 + t.Day()
}

// statsColumns are the daily figures that make up activity.
var statsColumns = []string{"views", "likes", "favourites", "comments", "danmaku"}

// readActivity reads the last days of a video's daily stats (one range read).
func readActivity(ctx context.Context, db *tablestore.Client, videoID string, now time.Time, days int, weight float64) (Activity, error) {
	a := Activity{Views: map[int]int64{}, Score: map[int]float64{}}
	from := DayKey(now.UTC().AddDate(0, 0, -(days - 1)))
	to := DayKey(now.UTC().AddDate(0, 0, 1))
	rng := tablestore.Range{
		Start: tablestore.K("video_id", videoID, "day", int64(from)),
		End:   tablestore.K("video_id", videoID, "day", int64(to)),
		Cols:  statsColumns,
	}
	err := db.Scan(ctx, tablestore.VideoStatsDaily.Name, rng, func(r *tablestore.Row) error {
		d := int(r.Key.Int("day"))
		v := max(r.Int("views"), 0)
		// Engagement columns are net changes of the day (an unlike is -1): only what is
		// left counts as interest.
		e := max(r.Int("likes")+r.Int("favourites")+r.Int("comments")+r.Int("danmaku"), 0)
		a.Views[d] += v
		a.Score[d] += float64(v) + weight*float64(e)
		return nil
	})
	return a, err
}
