// Package cleanup owns the hourly removal of what nobody will use again: multipart uploads
// abandoned for a day, videos whose file never arrived (and their partial sources), the media
// and sources of deleted videos once their grace period is over, the outputs of processing
// attempts a video no longer points at, objects of videos that do not exist, and accounts
// never verified. Every rule is idempotent (a rerun finds nothing more to do) and logs what
// it did with counts. The two bucket sweeps keep their position in cleanup_runs, so a large
// bucket spans several runs.
package cleanup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/accounts"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// Rules are the ages and grace periods of the rules; every one has an environment variable.
type Rules struct {
	// MultipartMaxAge: multipart uploads started longer ago are aborted
	// (CLEANUP_MULTIPART_MAX_AGE, 24h).
	MultipartMaxAge time.Duration
	// UploadExpiry: videos waiting for their file this long become failed/upload_expired and
	// lose what was uploaded (CLEANUP_UPLOAD_EXPIRY, 24h).
	UploadExpiry time.Duration
	// DeletedGrace: a deleted video's media and source go this long after the deletion
	// (CLEANUP_DELETED_GRACE, 168h).
	DeletedGrace time.Duration
	// AttemptGrace: outputs of attempts a video does not point at, sources of failed videos
	// and objects of videos that do not exist go once untouched this long, which is longer
	// than any processing attempt runs (CLEANUP_ATTEMPT_GRACE, 24h).
	AttemptGrace time.Duration
	// UnverifiedMaxAge: accounts never verified are removed this long after sign-up
	// (CLEANUP_UNVERIFIED_MAX_AGE, 168h).
	UnverifiedMaxAge time.Duration
}

// DefaultRules are the issue's.
func DefaultRules() Rules {
	return Rules{MultipartMaxAge: 24 * time.Hour, UploadExpiry: 24 * time.Hour, DeletedGrace: 7 * 24 * time.Hour,
		AttemptGrace: 24 * time.Hour, UnverifiedMaxAge: 7 * 24 * time.Hour}
}

// RulesFromEnv reads the CLEANUP_* variables over DefaultRules, naming every problem.
func RulesFromEnv(getenv func(string) string) (Rules, error) {
	r := DefaultRules()
	var errs []error
	for name, d := range map[string]*time.Duration{
		"CLEANUP_MULTIPART_MAX_AGE": &r.MultipartMaxAge, "CLEANUP_UPLOAD_EXPIRY": &r.UploadExpiry,
		"CLEANUP_DELETED_GRACE": &r.DeletedGrace, "CLEANUP_ATTEMPT_GRACE": &r.AttemptGrace,
		"CLEANUP_UNVERIFIED_MAX_AGE": &r.UnverifiedMaxAge,
	} {
		if v := getenv(name); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil || x < time.Hour {
				errs = append(errs, fmt.Errorf("%s=%q: want a duration of at least 1h, such as 24h", name, v))
				continue
			}
			*d = x
		}
	}
	return r, errors.Join(errs...)
}

// Config configures a Cleaner.
type Config struct {
	DB    *tablestore.Client
	Media *oss.Store
	Rules Rules
	// Budget bounds one run (CLEANUP_BUDGET, 240s); the sweeps stop between batches when it
	// is spent and continue on the next run.
	Budget time.Duration
	// Log receives the rules' lines; nil means slog.Default at the time of logging.
	Log *slog.Logger
}

// Cleaner runs the rules.
type Cleaner struct {
	cfg    Config
	videos *videos.Store
}

// log is the configured logger, or slog's default at the time of logging: a function's
// runtime installs its handler after main has built the cleaner.
func (c *Cleaner) log() *slog.Logger {
	if c.cfg.Log != nil {
		return c.cfg.Log
	}
	return slog.Default()
}

// New returns a cleaner.
func New(cfg Config) (*Cleaner, error) {
	if cfg.DB == nil || cfg.Media == nil {
		return nil, errors.New("cleanup: Config needs DB and Media")
	}
	if cfg.Budget <= 0 {
		cfg.Budget = 240 * time.Second
	}
	return &Cleaner{cfg: cfg, videos: videos.NewStore(cfg.DB)}, nil
}

// Report is what one run did, rule by rule.
type Report struct {
	AbortedUploads int `json:"aborted_uploads"`
	ExpiredVideos  int `json:"expired_videos"`
	// Sweep results per prefix: objects removed by reason.
	Media   Sweep `json:"media"`
	Uploads Sweep `json:"uploads"`
	// UnverifiedAccounts removed with their address rows.
	UnverifiedAccounts int `json:"unverified_accounts"`
}

// Sweep is what a sweep of one prefix removed, by reason, and where it stands.
type Sweep struct {
	Listed int `json:"listed"`
	// Objects removed: of deleted videos past their grace, of attempts the video does not
	// point at (older attempts, failed videos), of videos that do not exist.
	Deleted     int    `json:"deleted"`
	OldAttempts int    `json:"old_attempts"`
	Orphans     int    `json:"orphans"`
	Complete    bool   `json:"complete"`
	Cursor      string `json:"cursor"`
}

// Run applies every rule at now (the timer's trigger time). A rule that fails is logged and
// the others still run; the error names every failure.
func (c *Cleaner) Run(ctx context.Context, now time.Time) (*Report, error) {
	rep := &Report{}
	deadline := time.Now().Add(c.cfg.Budget)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-10*time.Second).Before(deadline) {
		deadline = dl.Add(-10 * time.Second)
	}
	var errs []error
	rule := func(name string, fn func() error) {
		if err := fn(); err != nil {
			c.log().ErrorContext(ctx, "cleanup: rule failed", "rule", name, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	rule("stale multipart uploads", func() error { return c.abortStaleUploads(ctx, now, rep) })
	rule("expired uploads", func() error { return c.expireUploads(ctx, now, rep) })
	rule("uploads sweep", func() error { return c.sweep(ctx, now, vodfc.UploadsPrefix, deadline, &rep.Uploads) })
	rule("media sweep", func() error { return c.sweep(ctx, now, vodfc.MediaPrefix, deadline, &rep.Media) })
	rule("unverified accounts", func() error {
		n, err := accounts.DeleteUnverified(ctx, c.cfg.DB, now.Add(-c.cfg.Rules.UnverifiedMaxAge), c.log())
		rep.UnverifiedAccounts = n
		c.log().InfoContext(ctx, "cleanup: unverified accounts removed", "accounts", n, "older_than", c.cfg.Rules.UnverifiedMaxAge.String())
		return err
	})
	return rep, errors.Join(errs...)
}

// abortStaleUploads aborts multipart uploads started more than MultipartMaxAge ago: their
// parts are billed storage nobody can see.
func (c *Cleaner) abortStaleUploads(ctx context.Context, now time.Time, rep *Report) error {
	cutoff := now.Add(-c.cfg.Rules.MultipartMaxAge)
	var stale []oss.Upload
	err := c.cfg.Media.ListUploads(ctx, "", func(u oss.Upload) error {
		if u.Initiated.Before(cutoff) {
			stale = append(stale, u)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range stale {
		if err := c.cfg.Media.AbortMultipart(ctx, u.Key, u.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.AbortedUploads++
		c.log().InfoContext(ctx, "cleanup: multipart upload aborted", "key", u.Key, "upload_id", u.ID, "initiated", u.Initiated)
	}
	c.log().InfoContext(ctx, "cleanup: stale multipart uploads aborted", "uploads", rep.AbortedUploads, "older_than", c.cfg.Rules.MultipartMaxAge.String())
	return errors.Join(errs...)
}

// expireUploads ends videos waiting for their file since before UploadExpiry ago: the row
// becomes failed/upload_expired first (so a late upload can no longer be claimed), then
// whatever was uploaded goes. A crash in between leaves a source of a failed video, which the
// uploads sweep removes.
func (c *Cleaner) expireUploads(ctx context.Context, now time.Time, rep *Report) error {
	cutoff := now.Add(-c.cfg.Rules.UploadExpiry)
	from := ""
	removed := 0
	for {
		page, next, err := c.videos.Scan(ctx, from, 100,
			tablestore.Eq(videos.ColStatus, string(vodfc.StatusAwaitingUpload)), tablestore.Lt(videos.ColUpdatedAt, cutoff.UnixMilli()))
		if err != nil {
			return err
		}
		for _, v := range page {
			ok, err := c.videos.ExpireUpload(ctx, v.ID, cutoff, now)
			if err != nil {
				return err
			}
			if !ok {
				continue // uploaded or restarted meanwhile
			}
			rep.ExpiredVideos++
			if v.UploadID != "" {
				if err := c.cfg.Media.AbortMultipart(ctx, vodfc.SourceKey(v.ID), v.UploadID); err != nil {
					return err
				}
			}
			n, err := c.cfg.Media.DeletePrefix(ctx, vodfc.UploadsPrefix+v.ID+"/")
			if err != nil {
				return err
			}
			removed += n
			c.log().InfoContext(ctx, "cleanup: upload expired", "video", v.ID, "waiting_since", v.UpdatedAt, "objects", n)
		}
		if next == "" {
			break
		}
		from = next
	}
	c.log().InfoContext(ctx, "cleanup: videos whose upload expired", "videos", rep.ExpiredVideos, "objects", removed, "older_than", c.cfg.Rules.UploadExpiry.String())
	return nil
}

// Columns of cleanup_runs.
const (
	colCursor       = "cursor"
	colSweepStarted = "sweep_started"
	colSweeps       = "sweeps"
)

// sweep walks prefix (uploads/ or media/) from its saved position, a batch of listed keys at
// a time: it reads the videos the keys belong to and removes what no video needs. The
// position is saved after each batch.
func (c *Cleaner) sweep(ctx context.Context, now time.Time, prefix string, deadline time.Time, out *Sweep) error {
	key := tablestore.K("name", prefix)
	row, err := c.cfg.DB.Get(ctx, tablestore.CleanupRuns.Name, key, colCursor)
	if err != nil {
		return err
	}
	cursor := ""
	if row != nil {
		cursor = row.Str(colCursor)
	}
	var batch []oss.Object
	flush := func(last string) error {
		if err := c.sweepBatch(ctx, now, prefix, batch, out); err != nil {
			return err
		}
		batch = batch[:0]
		set := tablestore.Cols{colCursor: last}
		if cursor == "" {
			set[colSweepStarted] = now.UnixMilli()
		}
		cursor = last
		_, err := c.cfg.DB.Update(ctx, tablestore.CleanupRuns.Name, key, tablestore.Change{Set: set}, tablestore.Always)
		return err
	}
	errStop := errors.New("budget spent")
	err = c.cfg.Media.ListAfter(ctx, prefix, cursor, func(o oss.Object) error {
		out.Listed++
		batch = append(batch, o)
		if len(batch) < 1000 {
			return nil
		}
		if err := flush(o.Key); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errStop
		}
		return nil
	})
	switch {
	case errors.Is(err, errStop):
		out.Cursor = cursor
		c.logSweep(ctx, prefix, out)
		return nil
	case err != nil:
		return err
	}
	if len(batch) > 0 {
		if err := c.sweepBatch(ctx, now, prefix, batch, out); err != nil {
			return err
		}
	}
	// The sweep is complete: the next one starts over.
	_, err = c.cfg.DB.Update(ctx, tablestore.CleanupRuns.Name, key, tablestore.Change{
		Set: tablestore.Cols{colCursor: ""}, Incr: map[string]int64{colSweeps: 1}}, tablestore.Always)
	out.Complete, out.Cursor = true, ""
	c.logSweep(ctx, prefix, out)
	return err
}

func (c *Cleaner) logSweep(ctx context.Context, prefix string, s *Sweep) {
	c.log().InfoContext(ctx, "cleanup: swept", "prefix", prefix, "listed", s.Listed, "deleted_videos_objects", s.Deleted,
		"old_attempt_objects", s.OldAttempts, "orphan_objects", s.Orphans, "complete", s.Complete, "cursor", s.Cursor)
}

// group is the objects of one video's attempt (media/{id}/{attempt}/) or source directory
// (uploads/{id}/) in a batch.
type group struct {
	video, attempt string
	keys           []string
	newest         time.Time
}

// sweepBatch decides, for each video directory among objs, whether anything still needs it.
func (c *Cleaner) sweepBatch(ctx context.Context, now time.Time, prefix string, objs []oss.Object, out *Sweep) error {
	var groups []*group
	byDir := map[string]*group{}
	var ids []string
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Key, prefix)
		video, tail, _ := strings.Cut(rest, "/")
		attempt := ""
		if prefix == vodfc.MediaPrefix {
			attempt, _, _ = strings.Cut(tail, "/")
		}
		dir := video + "/" + attempt
		g := byDir[dir]
		if g == nil {
			g = &group{video: video, attempt: attempt}
			byDir[dir] = g
			groups = append(groups, g)
			ids = append(ids, video)
		}
		g.keys = append(g.keys, o.Key)
		if o.LastModified.After(g.newest) {
			g.newest = o.LastModified
		}
	}
	vids, err := c.videos.BatchGet(ctx, ids)
	if err != nil {
		return err
	}
	for _, g := range groups {
		v := vids[g.video]
		reason := c.verdict(v, g, prefix, now)
		if reason == "" {
			continue
		}
		if err := c.cfg.Media.DeleteKeys(ctx, g.keys); err != nil {
			return err
		}
		switch reason {
		case "deleted":
			out.Deleted += len(g.keys)
		case "orphan":
			out.Orphans += len(g.keys)
		default:
			out.OldAttempts += len(g.keys)
		}
		c.log().InfoContext(ctx, "cleanup: objects removed", "prefix", prefix+g.video+"/"+g.attempt, "objects", len(g.keys), "reason", reason)
	}
	return nil
}

// verdict says why a directory's objects can go ("" to keep them).
func (c *Cleaner) verdict(v *vodfc.Video, g *group, prefix string, now time.Time) string {
	settled := now.Sub(g.newest) >= c.cfg.Rules.AttemptGrace
	switch {
	case v == nil:
		if settled {
			return "orphan"
		}
	case v.Status == vodfc.StatusDeleted:
		if !v.DeletedAt.IsZero() && now.Sub(v.DeletedAt) >= c.cfg.Rules.DeletedGrace {
			return "deleted"
		}
	case v.Status == vodfc.StatusFailed:
		// A refused or expired upload: transcode removes refused files itself, so what is
		// left is a crash's leftovers.
		if settled {
			return "failed"
		}
	case prefix == vodfc.UploadsPrefix:
		// Sources of videos waiting, processing or published stay (tiering archives them).
	case g.attempt != "" && vodfc.VideoMediaPrefix(v.ID, g.attempt) == v.MediaPrefix:
		// The published attempt.
	case v.Status == vodfc.StatusProcessing && g.attempt == v.AttemptID:
		// The attempt at work.
	default:
		if settled {
			return "old_attempt"
		}
	}
	return ""
}
