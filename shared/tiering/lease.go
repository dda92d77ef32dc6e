package tiering

import (
	"context"
	"errors"
	"time"

	"vodfc.dev/vodfc/tablestore"
)

// The tiering_runs row of the library, and its columns.
const (
	runRow         = "library"
	colLeaseOwner  = "lease_owner"
	colLeaseUntil  = "lease_until"
	colCursor      = "cursor"
	colPassStarted = "pass_started"
	colPasses      = "passes"
)

// errLeaseLost stops a run whose lease another run took over (it outlived its budget).
var errLeaseLost = errors.New("tiering: the lease passed to another run")

type runState struct {
	owner  string
	until  int64 // unix ms on the timer's clock
	cursor string
}

func runKey() tablestore.Key { return tablestore.K("name", runRow) }

// acquire takes the lease for run at now unless a live one is held. Of runs racing for it,
// the conditional write lets exactly one through. The lease is on the timer's clock, so it
// expires by the trigger times of later runs, not by wall time.
func (r *Runner) acquire(ctx context.Context, run string, now time.Time) (runState, bool, error) {
	row, err := r.cfg.DB.Get(ctx, tablestore.TieringRuns.Name, runKey())
	if err != nil {
		return runState{}, false, err
	}
	var st runState
	if row != nil {
		st = runState{owner: row.Str(colLeaseOwner), until: row.Int(colLeaseUntil), cursor: row.Str(colCursor)}
	}
	if st.owner != "" && st.owner != run && st.until > now.UnixMilli() {
		return st, false, nil
	}
	set := tablestore.Cols{colLeaseOwner: run, colLeaseUntil: now.Add(r.staleClaim()).UnixMilli()}
	if st.cursor == "" {
		set[colPassStarted] = now.UnixMilli()
	}
	_, err = r.cfg.DB.Update(ctx, tablestore.TieringRuns.Name, runKey(), tablestore.Change{Set: set},
		tablestore.Always.Where(tablestore.Eq(colLeaseUntil, st.until).OrMissing()))
	if tablestore.IsConditionFailed(err) {
		return st, false, nil
	}
	return st, err == nil, err
}

// checkpoint records where the pass stands, only while run holds the lease.
func (r *Runner) checkpoint(ctx context.Context, run, cursor string, now time.Time) error {
	ch := tablestore.Change{Set: tablestore.Cols{colCursor: cursor}}
	if cursor == "" {
		ch.Incr = map[string]int64{colPasses: 1}
	}
	_, err := r.cfg.DB.Update(ctx, tablestore.TieringRuns.Name, runKey(), ch,
		tablestore.IfExists().Where(tablestore.Eq(colLeaseOwner, run)))
	if tablestore.IsConditionFailed(err) {
		return errLeaseLost
	}
	return err
}

// release gives the lease back, so a run fired by hand right after this one need not wait.
func (r *Runner) release(ctx context.Context, run string) {
	_, err := r.cfg.DB.Update(ctx, tablestore.TieringRuns.Name, runKey(), tablestore.Change{Set: tablestore.Cols{colLeaseUntil: int64(0)}},
		tablestore.IfExists().Where(tablestore.Eq(colLeaseOwner, run)))
	if err != nil && !tablestore.IsConditionFailed(err) {
		r.log().WarnContext(ctx, "tiering: releasing the lease failed; it expires by itself", "run", run, "err", err)
	}
}
