package tiering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// Config configures a Runner.
type Config struct {
	DB     *tablestore.Client
	Media  *oss.Store
	Policy Policy
	// Concurrency is how many videos are visited at once (TIERING_CONCURRENCY, 8): the work
	// is round trips to OSS and Tablestore.
	Concurrency int
	// PageSize is how many videos one checkpoint of the cursor covers (100).
	PageSize int
	// Budget bounds one run (TIERING_BUDGET, 540s, under the function's timeout); under a
	// platform deadline the run also stops well before it. Three quarters go to visiting
	// videos, the rest to the report.
	Budget time.Duration
	// ReportZone names the day of a report (TIERING_REPORT_TZ, Asia/Shanghai: the timer's).
	ReportZone *time.Location
	// Log receives the runner's lines; nil means slog.Default at the time of logging.
	Log *slog.Logger
}

// Runner is the tiering timer's work: it walks the library from its cursor, plans every
// video's classes and applies the differences, then writes the storage report.
type Runner struct {
	cfg    Config
	videos *videos.Store
	cold   *Cold
	// planned, when set, runs after a visit has planned and before it claims: tests use it to
	// hold two visits of one video at that point, where only the claim keeps them apart.
	planned func()
}

// log is the configured logger, or slog's default at the time of logging: a function's
// runtime installs its handler after main has built the runner.
func (r *Runner) log() *slog.Logger {
	if r.cfg.Log != nil {
		return r.cfg.Log
	}
	return slog.Default()
}

// New returns a runner.
func New(cfg Config) (*Runner, error) {
	if cfg.DB == nil || cfg.Media == nil {
		return nil, errors.New("tiering: Config needs DB and Media")
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	if cfg.Budget <= 0 {
		cfg.Budget = 540 * time.Second
	}
	if cfg.ReportZone == nil {
		cfg.ReportZone = time.UTC
	}
	return &Runner{cfg: cfg, videos: videos.NewStore(cfg.DB),
		cold: NewCold(cfg.DB, cfg.Media, cfg.Policy.RestoreDays, cfg.Log)}, nil
}

// RunOptions are the knobs of one run.
type RunOptions struct {
	// RunID names the run in the lease, claims and history (the platform's request id).
	RunID string
	// DryRun plans the library from its start and logs every step, changing nothing: no
	// lease, no cursor, no moves, no restores, no report.
	DryRun bool
}

// RunResult is what a run did.
type RunResult struct {
	RunID  string    `json:"run_id"`
	Now    time.Time `json:"now"`
	DryRun bool      `json:"dry_run"`
	// Skipped says why the run did nothing (another run holds the lease).
	Skipped string `json:"skipped,omitempty"`
	// Videos visited and their objects listed.
	Videos  int `json:"videos"`
	Objects int `json:"objects"`
	// Steps planned, by action (move, defer, restore, wait).
	Planned map[string]int `json:"planned"`
	// Moves applied; Failed moves and visits that failed (logged with their reason).
	Moves  int `json:"moves"`
	Failed int `json:"failed"`
	// Restores requested for archived objects that must move up; Waiting for ones under way.
	Restores int `json:"restores"`
	Waiting  int `json:"waiting"`
	// Settled are moves of an earlier, interrupted run found made and recorded now.
	Settled int `json:"settled"`
	// Contended are videos another run was changing at the time; the next run visits them.
	Contended int `json:"contended"`
	// EarlyCharges is what this run's moves before a minimum storage duration cost (CNY).
	EarlyCharges float64 `json:"early_charges"`
	// PassComplete: the run reached the end of the library; the next one starts over.
	PassComplete bool `json:"pass_complete"`
	// Cursor is where the next run continues ("" at the start of a pass).
	Cursor string `json:"cursor"`
	// Plan is every step a dry run planned.
	Plan []Step `json:"plan,omitempty"`
	// ReportKey is where the storage report went.
	ReportKey string  `json:"report_key,omitempty"`
	Report    *Report `json:"-"`

	mu sync.Mutex
}

func (r *RunResult) add(f func(*RunResult)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

// staleClaim is when a claim on a video is surely abandoned, on the timer's clock: a run
// lasts at most its budget, and the next scheduled one comes a day later.
func (r *Runner) staleClaim() time.Duration { return r.cfg.Budget + time.Minute }

// Run does one run at now (the timer's trigger time). Within a run the cursor moves page by
// page; a run that runs out of budget stops between pages and the next continues there.
func (r *Runner) Run(ctx context.Context, now time.Time, opt RunOptions) (*RunResult, error) {
	if opt.RunID == "" {
		opt.RunID = vodfc.NewID()
	}
	res := &RunResult{RunID: opt.RunID, Now: now, DryRun: opt.DryRun, Planned: map[string]int{}}
	started := time.Now()
	budget := r.cfg.Budget
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)-10*time.Second)
	}
	work := budget * 3 / 4
	cursor := ""
	if !opt.DryRun {
		st, ok, err := r.acquire(ctx, opt.RunID, now)
		if err != nil {
			return res, fmt.Errorf("tiering: taking the lease: %w", err)
		}
		if !ok {
			res.Skipped = fmt.Sprintf("run %s holds the lease until %s", st.owner, time.UnixMilli(st.until).UTC().Format(time.RFC3339))
			r.log().InfoContext(ctx, "tiering: another run is under way; nothing to do", "run", opt.RunID, "holder", st.owner)
			return res, nil
		}
		defer r.release(context.WithoutCancel(ctx), opt.RunID)
		cursor = st.cursor
	}
	r.log().InfoContext(ctx, "tiering: run started", "run", opt.RunID, "now", now, "dry_run", opt.DryRun, "cursor", cursor)
	for {
		page, next, err := r.videos.Scan(ctx, cursor, r.cfg.PageSize)
		if err != nil {
			return res, fmt.Errorf("tiering: reading videos from %q: %w", cursor, err)
		}
		if err := r.visitPage(ctx, page, now, opt, res); err != nil {
			return res, err
		}
		cursor = next
		if !opt.DryRun {
			if err := r.checkpoint(ctx, opt.RunID, cursor, now); err != nil {
				return res, err
			}
		}
		if next == "" {
			res.PassComplete = true
			break
		}
		if time.Since(started) > work {
			r.log().InfoContext(ctx, "tiering: budget spent; the next run continues", "run", opt.RunID, "cursor", cursor)
			break
		}
	}
	res.Cursor = cursor
	r.log().InfoContext(ctx, "tiering: videos visited", "run", opt.RunID, "videos", res.Videos, "objects", res.Objects,
		"planned", res.Planned, "moves", res.Moves, "failed", res.Failed, "settled", res.Settled, "contended", res.Contended,
		"early_charges", res.EarlyCharges, "pass_complete", res.PassComplete, "dry_run", opt.DryRun)
	if opt.DryRun {
		return res, nil
	}
	rep, err := r.Report(ctx, now, res)
	if err != nil {
		return res, fmt.Errorf("tiering: report: %w", err)
	}
	res.Report, res.ReportKey = rep, ReportKey(rep.Date)
	return res, nil
}

// visitPage visits one page of videos, Concurrency at a time. A video that fails is logged
// and counted; the run goes on, and the next visits it again.
func (r *Runner) visitPage(ctx context.Context, page []*vodfc.Video, now time.Time, opt RunOptions, res *RunResult) error {
	var ready []*vodfc.Video
	for _, v := range page {
		if v.Status == vodfc.StatusReady && v.MediaPrefix != "" {
			ready = append(ready, v)
		}
	}
	if len(ready) == 0 {
		return nil
	}
	ids := make([]string, len(ready))
	for i, v := range ready {
		ids[i] = v.ID
	}
	rows, err := readRows(ctx, r.cfg.DB, ids)
	if err != nil {
		return fmt.Errorf("tiering: reading media_tiers: %w", err)
	}
	sem := make(chan struct{}, r.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, v := range ready {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := r.visit(ctx, v, rows[v.ID], now, opt, res); err != nil {
				r.log().ErrorContext(ctx, "tiering: visiting a video failed", "run", opt.RunID, "video", v.ID, "err", err)
				res.add(func(r *RunResult) { r.Failed++ })
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// objects lists what tiering manages of a video: its current attempt's outputs and its
// source. Older attempts are cleanup's.
func (r *Runner) objects(ctx context.Context, v *vodfc.Video) ([]Object, error) {
	var out []Object
	err := r.cfg.Media.List(ctx, v.MediaPrefix, func(o oss.Object) error {
		out = append(out, Object{Key: o.Key, Size: o.Size, Class: o.Class, Since: o.LastModified, Restore: o.Restore})
		return nil
	})
	if err != nil {
		return nil, err
	}
	src, err := r.cfg.Media.Head(ctx, vodfc.SourceKey(v.ID))
	switch {
	case err == nil:
		out = append(out, Object{Key: src.Key, Size: src.Size, Class: src.Class, Since: src.LastModified, Restore: src.Restore})
	case !oss.IsNotFound(err):
		return nil, err
	}
	return out, nil
}

// visit plans one video and, unless dry, applies the plan: claim the moves on the video's
// row, copy each object to its class, record the outcome. A claim left by an interrupted run
// is settled first against what OSS shows, so no move is made or counted twice.
func (r *Runner) visit(ctx context.Context, v *vodfc.Video, row tierRow, now time.Time, opt RunOptions, res *RunResult) error {
	objs, err := r.objects(ctx, v)
	if err != nil {
		return err
	}
	act, err := readActivity(ctx, r.cfg.DB, v.ID, now, r.cfg.Policy.lookback(), r.cfg.Policy.EngagementWeight)
	if err != nil {
		return err
	}
	objs = r.cfg.Policy.Roles(v, objs)
	plan := r.cfg.Policy.Plan(v, objs, act, now)
	res.add(func(res *RunResult) {
		res.Videos++
		res.Objects += len(objs)
		for _, s := range plan.Steps {
			res.Planned[s.Action]++
		}
		if opt.DryRun {
			res.Plan = append(res.Plan, plan.Steps...)
		}
	})
	if opt.DryRun {
		for _, s := range plan.Steps {
			r.logStep(ctx, "tiering: planned", opt.RunID, s)
		}
		return nil
	}
	byKey := map[string]Object{}
	for _, o := range objs {
		byKey[o.Key] = o
	}
	history := map[string][]Record{}
	for k, h := range row.History {
		history[k] = slices.Clone(h)
	}
	charges := row.Charges
	settled := 0
	if p := row.Pending; p != nil {
		if p.Run != opt.RunID && now.Sub(time.UnixMilli(p.At)) < r.staleClaim() {
			res.add(func(res *RunResult) { res.Contended++ })
			return nil // another run is on this video right now
		}
		for _, m := range p.Moves {
			if o, ok := byKey[m.Key]; ok && o.Class == m.To && !o.Since.Before(time.UnixMilli(p.At).Truncate(time.Second)) {
				addHistory(history, m.Key, Record{At: time.UnixMilli(p.At).UTC(), Run: p.Run, From: m.From, To: m.To, Size: m.Size, Reason: m.Reason, Verdict: m.Verdict})
				charges += m.Verdict.EarlyCharge
				settled++
				r.logStep(ctx, "tiering: interrupted move found made", p.Run, m)
			}
		}
		// Record the settlement before claiming anything new, so a failure further on cannot
		// lose it.
		cold := coldOf(byKey)
		if err := commit(ctx, r.cfg.DB, v.ID, row.Version, cold, history, charges, now); err != nil {
			if tablestore.IsConditionFailed(err) {
				res.add(func(res *RunResult) { res.Contended++ })
				return nil
			}
			return fmt.Errorf("settling an interrupted run's moves: %w", err)
		}
		row.Version, row.Cold, row.Pending = row.Version+1, cold, nil
	}

	moves := plan.Moves()
	if r.planned != nil {
		r.planned()
	}
	version := row.Version
	if len(moves) > 0 {
		err := claim(ctx, r.cfg.DB, v.ID, row, pending{Run: opt.RunID, At: now.UnixMilli(), Moves: moves}, plan.Cold)
		if tablestore.IsConditionFailed(err) {
			res.add(func(res *RunResult) { res.Contended++ })
			return nil
		}
		if err != nil {
			return fmt.Errorf("claiming moves: %w", err)
		}
		version++
	}
	moved, failed, early := 0, 0, 0.0
	var leftArchive []string
	for _, m := range moves {
		if err := r.cfg.Media.SetClass(ctx, m.Key, m.To); err != nil {
			failed++
			r.log().ErrorContext(ctx, "tiering: move failed", "run", opt.RunID, "video", v.ID, "key", m.Key, "from", m.From, "to", m.To, "err", err)
			continue
		}
		moved++
		o := byKey[m.Key]
		o.Class = m.To
		byKey[m.Key] = o
		addHistory(history, m.Key, Record{At: now.UTC(), Run: opt.RunID, From: m.From, To: m.To, Size: m.Size, Reason: m.Reason, Verdict: m.Verdict})
		charges += m.Verdict.EarlyCharge
		early += m.Verdict.EarlyCharge
		if Archived(m.From) {
			leftArchive = append(leftArchive, m.Key)
		}
		r.logStep(ctx, "tiering: moved", opt.RunID, m)
	}
	restores, waiting := 0, 0
	for _, s := range plan.Steps {
		switch s.Action {
		case ActDefer:
			r.logStep(ctx, "tiering: move deferred", opt.RunID, s)
		case ActWait:
			waiting++
		case ActRestore:
			o := byKey[s.Key]
			if _, err := r.cold.request(ctx, v.ID, oss.Object{Key: o.Key, Size: o.Size, Class: o.Class, LastModified: o.Since, Restore: o.Restore}, ByTiering, now); err != nil {
				failed++
				r.log().ErrorContext(ctx, "tiering: restore request failed", "run", opt.RunID, "video", v.ID, "key", s.Key, "err", err)
				continue
			}
			restores++
		}
	}

	// The cold keys as the objects now are: a failed move to Archive leaves its object where
	// it was, and a move out of Archive is done.
	cold := coldOf(byKey)
	if len(moves) > 0 || !slices.Equal(cold, sorted(row.Cold)) {
		if err := commit(ctx, r.cfg.DB, v.ID, version, cold, history, charges, now); err != nil {
			// The moves are made; the next run finds the claim and settles it from OSS.
			return fmt.Errorf("recording moves: %w", err)
		}
	}
	for _, k := range leftArchive {
		if err := r.cfg.DB.Delete(ctx, tablestore.MediaRestores.Name, tablestore.K("video_id", v.ID, "object_key", k), tablestore.Always); err != nil {
			r.log().WarnContext(ctx, "tiering: removing a restore record failed", "video", v.ID, "key", k, "err", err)
		}
	}
	res.add(func(res *RunResult) {
		res.Moves += moved
		res.Failed += failed
		res.Settled += settled
		res.EarlyCharges = round(res.EarlyCharges + early)
		res.Restores += restores
		res.Waiting += waiting
	})
	return nil
}

// coldOf are the rendition keys among objs that sit in an archived class, sorted.
func coldOf(objs map[string]Object) []string {
	cold := []string{}
	for _, o := range objs {
		if o.Role == RoleRendition && Archived(o.Class) {
			cold = append(cold, o.Key)
		}
	}
	slices.Sort(cold)
	return cold
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func (r *Runner) logStep(ctx context.Context, msg, run string, s Step) {
	r.log().InfoContext(ctx, msg, "run", run, "video", s.Video, "key", s.Key, "role", s.Role, "rung", s.Rung, "size", s.Size,
		"from", s.From, "to", s.To, "action", s.Action, "reason", s.Reason,
		"remaining_min_duration", s.Verdict.Remaining.String(), "early_charge", s.Verdict.EarlyCharge, "saving", s.Verdict.Saving)
}
