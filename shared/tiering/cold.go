package tiering

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/playback"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// Columns of media_restores.
const (
	colObjectModified = "object_modified"
	colRequestedAt    = "requested_at"
	colRequestedBy    = "requested_by"
	colDays           = "days"
)

// Who asked for a restore.
const (
	ByPlay    = "play"
	ByTiering = "tiering"
)

// requestGrace is how long a restore request recorded in media_restores stands for one in
// flight: within it, other viewers wait for it instead of asking OSS again.
const requestGrace = 10 * time.Minute

// Cold is playback's view of cold storage: which renditions can be read now, and restores of
// archived ones requested once however many viewers ask. The videos function (the play route)
// and the playback function (playlists) plug it into playback.Service.
type Cold struct {
	db    *tablestore.Client
	media *oss.Store
	days  int
	logTo *slog.Logger
	now   func() time.Time
}

func (c *Cold) log() *slog.Logger {
	if c.logTo != nil {
		return c.logTo
	}
	return slog.Default()
}

// NewCold returns the cold-storage view over tiering's records and the media bucket;
// restored copies stay readable for restoreDays. log nil means slog.Default at the time of
// logging.
func NewCold(db *tablestore.Client, media *oss.Store, restoreDays int, log *slog.Logger) *Cold {
	return &Cold{db: db, media: media, days: max(restoreDays, 1), logTo: log, now: runtime.Now}
}

// coldKeys reads which media keys of a video tiering has archived or is archiving.
func (c *Cold) coldKeys(ctx context.Context, video string) ([]string, error) {
	r, err := c.db.Get(ctx, tablestore.MediaTiers.Name, tierKey(video), colCold)
	if err != nil || r == nil {
		return nil, err
	}
	return rowFrom(r).Cold, nil
}

// Availability reports, in v.Renditions order, whether each rendition can be read now. A
// video tiering never archived costs one row read; each archived rendition one HEAD, which
// says whether its restore is done (OSS drops the restore state when the copy expires).
func (c *Cold) Availability(ctx context.Context, v *vodfc.Video) ([]playback.Availability, error) {
	out := make([]playback.Availability, len(v.Renditions))
	cold, err := c.coldKeys(ctx, v.ID)
	if err != nil || len(cold) == 0 {
		return out, err
	}
	var wg sync.WaitGroup
	for i, r := range v.Renditions {
		if !slices.Contains(cold, r.Media) {
			continue
		}
		wg.Go(func() {
			o, err := c.media.Head(ctx, r.Media)
			if err != nil {
				// Left out rather than listed to fail in the player; the other rungs play.
				c.log().WarnContext(ctx, "tiering: reading a cold rendition's state failed", "video", v.ID, "key", r.Media, "err", err)
				out[i] = playback.Archived
				return
			}
			out[i] = availabilityOf(o)
		})
	}
	wg.Wait()
	return out, nil
}

func availabilityOf(o oss.Object) playback.Availability {
	switch {
	case !Archived(o.Class) || o.Readable():
		return playback.Available
	case o.Restore.Ongoing:
		return playback.Restoring
	}
	return playback.Archived
}

// Restore asks for the restore of each of v's renditions at idx that is archived, and
// returns their availability afterwards, aligned with idx.
func (c *Cold) Restore(ctx context.Context, v *vodfc.Video, idx []int) ([]playback.Availability, error) {
	out := make([]playback.Availability, len(idx))
	var errs []error
	for n, i := range idx {
		if i < 0 || i >= len(v.Renditions) {
			continue
		}
		o, err := c.media.Head(ctx, v.Renditions[i].Media)
		if err != nil {
			errs = append(errs, err)
			out[n] = playback.Archived
			continue
		}
		out[n], err = c.request(ctx, v.ID, o, ByPlay, c.now())
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// request starts the restore of archived object o of video at now, unless it is readable,
// already being restored, or was asked for moments ago. A conditional write in media_restores
// elects one requester among concurrent ones; the others report the restore as under way.
// now is the caller's clock: the timer's trigger time for tiering, so its records agree with
// the play route's even where the two runtimes see different clocks (the local cloud's go1).
func (c *Cold) request(ctx context.Context, video string, o oss.Object, by string, now time.Time) (playback.Availability, error) {
	if a := availabilityOf(o); a != playback.Archived {
		return a, nil
	}
	key := tablestore.K("video_id", video, "object_key", o.Key)
	row, err := c.db.Get(ctx, tablestore.MediaRestores.Name, key)
	if err != nil {
		return playback.Archived, err
	}
	modified := o.LastModified.UnixMilli()
	cond := tablestore.IfNotExists()
	if row != nil {
		at := row.Int(colRequestedAt)
		if row.Int(colObjectModified) == modified && now.Sub(time.UnixMilli(at)) < requestGrace {
			return playback.Restoring, nil // asked for moments ago; OSS will show it shortly
		}
		cond = tablestore.IfExists().Where(tablestore.Eq(colRequestedAt, at))
	}
	err = c.db.Put(ctx, tablestore.MediaRestores.Name, key, tablestore.Cols{
		colObjectModified: modified, colRequestedAt: now.UnixMilli(), colRequestedBy: by, colDays: int64(c.days),
	}, cond)
	if tablestore.IsConditionFailed(err) {
		return playback.Restoring, nil // another requester won the election
	}
	if err != nil {
		return playback.Archived, err
	}
	started, err := c.media.StartRestore(ctx, o.Key, c.days)
	if err != nil {
		// Give the election back, so that the next viewer (or the next night) asks again at
		// once instead of being told "restoring" for the grace period.
		if derr := c.db.Delete(ctx, tablestore.MediaRestores.Name, key,
			tablestore.IfExists().Where(tablestore.Eq(colRequestedAt, now.UnixMilli()))); derr != nil && !tablestore.IsConditionFailed(derr) {
			c.log().WarnContext(ctx, "tiering: withdrawing a failed restore request failed", "video", video, "key", o.Key, "err", derr)
		}
		return playback.Archived, err
	}
	c.log().InfoContext(ctx, "tiering: restore requested", "video", video, "key", o.Key, "by", by, "days", c.days, "oss", started)
	if started == oss.RestoreDone {
		return playback.Available, nil
	}
	return playback.Restoring, nil
}
