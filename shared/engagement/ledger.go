package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// Counter names one counter: a kind registered with the Ledger and the reference of the row
// holding it ("video.likes" of video V is {Kind: "video.likes", Ref: V}).
type Counter struct {
	Kind string `json:"k"`
	Ref  string `json:"r"`
}

func (c Counter) String() string { return c.Kind + ":" + c.Ref }

// Owner is the row a counter lives on. Increments go with a +1 of the row's generation, so a
// recount can commit only if nothing changed the row after it read it.
type Owner interface {
	// Increment adds delta to col and returns the row's counters (and "counter_gen") after the
	// change. A missing row is ErrOwnerGone.
	Increment(ctx context.Context, ref, col string, delta int64) (map[string]int64, error)
	// Read returns col's value and the row's generation; ok is false for a missing row.
	Read(ctx context.Context, ref, col string) (value, gen int64, ok bool, err error)
	// Adjust adds delta to col if the generation is still gen (tablestore.ErrConditionFailed
	// otherwise), and moves the generation on.
	Adjust(ctx context.Context, ref, col string, delta, gen int64) error
}

// ErrOwnerGone is returned when the row holding a counter no longer exists (a folder deleted
// under a concurrent change): there is nothing left to count.
var ErrOwnerGone = errors.New("engagement: the counter's row no longer exists")

// CounterDef says where a kind of counter lives and how to count its truth.
type CounterDef struct {
	Owner Owner
	Col   string
	// Count counts the truth the counter stands for (edge rows, live comments, ...).
	Count func(ctx context.Context, ref string) (int64, error)
}

// Task finishes work a dead request left half done (a folder deletion). It must be idempotent.
type Task func(ctx context.Context, ref string) error

// Ledger keeps counters equal to what they count without multi-row transactions.
//
// Every change is: write an intent naming the counters it will touch; change the truth (an edge
// row, with a row condition so only a real change passes); increment each counter together with
// its row's generation; delete the intent. A retried or redelivered request finds the truth
// already changed and increments nothing. A request that dies between the truth and the
// increment leaves its intent behind: once older than any request can live (DeadAfter) it is a
// drift flag, and Repair recounts the counters it names. A recount reads the counter and its
// generation, counts the truth, checks that no live intent names the counter, and commits the
// difference only if the generation did not move, so it can never race with a live change.
type Ledger struct {
	db        *tablestore.Client
	now       func() time.Time
	log       *slog.Logger
	deadAfter time.Duration
	defs      map[string]CounterDef
	tasks     map[string]Task
}

// NewLedger returns a ledger with no counters; Register adds them.
func NewLedger(db *tablestore.Client, now func() time.Time, deadAfter time.Duration, log *slog.Logger) *Ledger {
	return &Ledger{db: db, now: now, log: log, deadAfter: deadAfter, defs: map[string]CounterDef{}, tasks: map[string]Task{}}
}

// Register adds a kind of counter.
func (l *Ledger) Register(kind string, def CounterDef) { l.defs[kind] = def }

// RegisterTask adds a kind of resumable task.
func (l *Ledger) RegisterTask(kind string, t Task) { l.tasks[kind] = t }

// Intent columns.
const (
	colTargets   = "targets"
	colKind      = "kind"
	colCreatedAt = "created_at"
	colTask      = "task"
	colTaskRef   = "task_ref"
	colGen       = "counter_gen"
)

// Op is one change in flight.
type Op struct {
	l   *Ledger
	key tablestore.Key
	id  string
}

// Begin writes the intent of a change of the counters targets, together with extra writes that
// must precede the change (listing rows); they are sent as one batch.
func (l *Ledger) Begin(ctx context.Context, kind string, targets []Counter, extra ...tablestore.Write) (*Op, error) {
	for _, t := range targets {
		if _, ok := l.defs[t.Kind]; !ok {
			return nil, fmt.Errorf("engagement: no counter kind %q", t.Kind)
		}
	}
	tj, _ := json.Marshal(targets)
	return l.begin(ctx, tablestore.Cols{colTargets: string(tj), colKind: kind}, extra)
}

// BeginTask writes the intent of a task, so Repair finishes it if this request dies.
func (l *Ledger) BeginTask(ctx context.Context, task, ref string) (*Op, error) {
	if _, ok := l.tasks[task]; !ok {
		return nil, fmt.Errorf("engagement: no task kind %q", task)
	}
	return l.begin(ctx, tablestore.Cols{colTargets: "[]", colKind: task, colTask: task, colTaskRef: ref}, nil)
}

func (l *Ledger) begin(ctx context.Context, cols tablestore.Cols, extra []tablestore.Write) (*Op, error) {
	now := l.now()
	id := vodfc.NewSortableID(now)
	// The last character is random: it spreads intents over 32 partitions instead of piling
	// every write onto the newest one.
	op := &Op{l: l, id: id, key: tablestore.K("bucket", id[len(id)-1:], "op_id", id)}
	cols[colCreatedAt] = now.UnixMilli()
	writes := append([]tablestore.Write{{Table: tablestore.EngagementIntents.Name, Key: op.key, Put: cols, Cond: tablestore.Always}}, extra...)
	if err := l.db.BatchWrite(ctx, writes); err != nil {
		return nil, storageErr(err)
	}
	return op, nil
}

// Add increments counter c by delta and returns its row's counters after the change. On error
// the intent stays: the change may or may not have landed, and Repair will settle it.
func (op *Op) Add(ctx context.Context, c Counter, delta int64) (map[string]int64, error) {
	def, ok := op.l.defs[c.Kind]
	if !ok {
		return nil, fmt.Errorf("engagement: no counter kind %q", c.Kind)
	}
	snap, err := def.Owner.Increment(ctx, c.Ref, def.Col, delta)
	if err != nil && !errors.Is(err, ErrOwnerGone) {
		op.l.log.WarnContext(ctx, "counter increment failed; its intent stays as a drift flag",
			"counter", c.String(), "delta", delta, "op", op.id, "err", err)
	}
	return snap, err
}

// End deletes the intent: every counter it named is up to date. Failing to delete it only costs
// a needless recount later, so the error is logged, not returned.
func (op *Op) End(ctx context.Context, extra ...tablestore.Write) {
	writes := append([]tablestore.Write{{Table: tablestore.EngagementIntents.Name, Key: op.key, Delete: true, Cond: tablestore.Always}}, extra...)
	if err := op.l.db.BatchWrite(context.WithoutCancel(ctx), writes); err != nil {
		op.l.log.WarnContext(ctx, "deleting an intent failed; rollup will clear it", "op", op.id, "err", err)
	}
}

// intent is one row of the intents table as Repair reads it.
type intent struct {
	key     tablestore.Key
	id      string
	kind    string
	created time.Time
	targets []Counter
	task    string
	taskRef string
}

func (l *Ledger) intents(ctx context.Context) ([]intent, error) {
	var out []intent
	err := l.db.Scan(ctx, tablestore.EngagementIntents.Name, tablestore.Range{
		Start: tablestore.K("bucket", tablestore.Min, "op_id", tablestore.Min),
		End:   tablestore.K("bucket", tablestore.Max, "op_id", tablestore.Max),
	}, func(r *tablestore.Row) error {
		in := intent{key: r.Key, id: r.Key.Str("op_id"), kind: r.Str(colKind), created: time.UnixMilli(r.Int(colCreatedAt)),
			task: r.Str(colTask), taskRef: r.Str(colTaskRef)}
		if err := json.Unmarshal([]byte(r.Str(colTargets)), &in.targets); err != nil {
			l.log.ErrorContext(ctx, "unreadable intent; recounting nothing for it", "op", in.id, "err", err)
		}
		out = append(out, in)
		return nil
	})
	return out, err
}

// RepairReport says what one Repair did.
type RepairReport struct {
	Intents   int `json:"intents"`   // intents seen
	Dead      int `json:"dead"`      // older than DeadAfter (drift flags)
	Recounted int `json:"recounted"` // counters recounted
	Corrected int `json:"corrected"` // counters whose value was wrong and was fixed
	Deferred  int `json:"deferred"`  // counters left for a later run (a live change touched them)
	Tasks     int `json:"tasks"`     // tasks finished
	Cleared   int `json:"cleared"`   // intents deleted

	// fixed are the corrected counters, so cached copies of them can be dropped.
	fixed []*recount
}

// Flag asks the next Repair to recount counters now (an operator's or a handler's suspicion):
// it writes an intent that is dead from the start.
func (l *Ledger) Flag(ctx context.Context, reason string, targets ...Counter) error {
	tj, _ := json.Marshal(targets)
	id := vodfc.NewSortableID(l.now())
	return storageErr(l.db.Put(ctx, tablestore.EngagementIntents.Name, tablestore.K("bucket", id[len(id)-1:], "op_id", id),
		tablestore.Cols{colTargets: string(tj), colKind: "flag:" + reason, colCreatedAt: int64(0)}, tablestore.Always))
}

type recount struct {
	c          Counter
	def        CounterDef
	value, gen int64
	truth      int64
	ok         bool // still to commit
}

// Repair settles the intents left by dead requests: it runs their tasks, recounts the counters
// they name and deletes them. It stops early (without error) when ctx's deadline is near, leaving
// the rest for the next run; two overlapping runs are safe.
func (l *Ledger) Repair(ctx context.Context) (RepairReport, error) {
	var rep RepairReport
	all, err := l.intents(ctx)
	if err != nil {
		return rep, err
	}
	rep.Intents = len(all)
	cutoff := l.now().Add(-l.deadAfter)
	var dead []intent
	for _, in := range all {
		if in.created.Before(cutoff) {
			dead = append(dead, in)
		}
	}
	rep.Dead = len(dead)
	if len(dead) == 0 {
		return rep, nil
	}
	// Tasks first: finishing a folder deletion changes counters the recounts then see settled.
	taskDone := map[string]bool{}
	for _, in := range dead {
		if in.task == "" {
			continue
		}
		if nearDeadline(ctx) {
			break
		}
		if err := l.tasks[in.task](ctx, in.taskRef); err != nil {
			l.log.WarnContext(ctx, "resuming a task failed; it stays for the next run", "task", in.task, "ref", in.taskRef, "err", err)
			continue
		}
		taskDone[in.id] = true
		rep.Tasks++
	}
	// Phase 1: read every named counter with its generation, then count its truth.
	byName := map[string]*recount{}
	var order []*recount
	for _, in := range dead {
		for _, c := range in.targets {
			if _, seen := byName[c.String()]; seen {
				continue
			}
			def, ok := l.defs[c.Kind]
			if !ok {
				l.log.ErrorContext(ctx, "intent names an unknown counter; skipping it", "counter", c.String(), "op", in.id)
				continue
			}
			rc := &recount{c: c, def: def}
			byName[c.String()] = rc
			order = append(order, rc)
		}
	}
	for _, rc := range order {
		if nearDeadline(ctx) {
			break
		}
		v, gen, ok, err := rc.def.Owner.Read(ctx, rc.c.Ref, rc.def.Col)
		if err != nil {
			l.log.WarnContext(ctx, "reading a counter to recount failed", "counter", rc.c.String(), "err", err)
			continue
		}
		if !ok { // nothing left to count: the row went away
			rc.ok, rc.truth, rc.value = true, 0, 0
			continue
		}
		n, err := rc.def.Count(ctx, rc.c.Ref)
		if err != nil {
			l.log.WarnContext(ctx, "counting a counter's truth failed", "counter", rc.c.String(), "err", err)
			continue
		}
		rc.value, rc.gen, rc.truth, rc.ok = v, gen, n, true
	}
	// Phase 2: a counter named by a live intent may be mid-change; leave it for later.
	after, err := l.intents(ctx)
	if err != nil {
		return rep, err
	}
	cutoff = l.now().Add(-l.deadAfter)
	for _, in := range after {
		if !in.created.Before(cutoff) {
			for _, c := range in.targets {
				if rc := byName[c.String()]; rc != nil && rc.ok {
					rc.ok = false
					rep.Deferred++
				}
			}
		}
	}
	// Phase 3: commit each difference on the condition that its generation did not move.
	settled := map[string]bool{}
	for _, rc := range order {
		if !rc.ok {
			continue
		}
		rep.Recounted++
		if rc.truth != rc.value {
			err := rc.def.Owner.Adjust(ctx, rc.c.Ref, rc.def.Col, rc.truth-rc.value, rc.gen)
			switch {
			case errors.Is(err, ErrOwnerGone):
			case tablestore.IsConditionFailed(err):
				rep.Deferred++
				continue
			case err != nil:
				l.log.WarnContext(ctx, "committing a recount failed", "counter", rc.c.String(), "err", err)
				continue
			default:
				rep.Corrected++
				rep.fixed = append(rep.fixed, rc)
				l.log.InfoContext(ctx, "counter corrected by recount", "counter", rc.c.String(), "was", rc.value, "now", rc.truth)
			}
		}
		settled[rc.c.String()] = true
	}
	// Phase 4: clear the intents whose every counter (and task) is settled.
	var clear []tablestore.Write
	for _, in := range dead {
		if in.task != "" && !taskDone[in.id] {
			continue
		}
		if !slices.ContainsFunc(in.targets, func(c Counter) bool { return !settled[c.String()] }) {
			clear = append(clear, tablestore.Write{Table: tablestore.EngagementIntents.Name, Key: in.key, Delete: true, Cond: tablestore.Always})
		}
	}
	if err := l.db.BatchWrite(ctx, clear); err != nil {
		return rep, err
	}
	rep.Cleared = len(clear)
	return rep, nil
}

// nearDeadline reports whether less than a few seconds of ctx remain: work started now might be
// killed half done (harmless, but wasted).
func nearDeadline(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && time.Until(d) < 3*time.Second
}

// videoOwner keeps counters on the video row through shared/videos. Every increment returns the
// whole set of counters (the others incremented by 0), which is what the counts cache stores.
type videoOwner struct{ store *videos.Store }

var videoCounterCols = []string{videos.ColViews, videos.ColLikes, videos.ColFavourites, videos.ColComments, videos.ColDanmaku}

func (o videoOwner) Increment(ctx context.Context, ref, col string, delta int64) (map[string]int64, error) {
	d := map[string]int64{videos.ColCounterGen: 1}
	for _, c := range videoCounterCols {
		d[c] = 0
	}
	d[col] = delta
	snap, err := o.store.IncrementCounts(ctx, ref, d)
	if tablestore.IsConditionFailed(err) {
		return nil, ErrOwnerGone
	}
	return snap, storageErr(err)
}

func (o videoOwner) Read(ctx context.Context, ref, col string) (int64, int64, bool, error) {
	row, ok, err := o.store.ReadCounters(ctx, ref)
	if err != nil || !ok {
		return 0, 0, ok, err
	}
	return countsCol(row.Counts, col), row.Gen, true, nil
}

func (o videoOwner) Adjust(ctx context.Context, ref, col string, delta, gen int64) error {
	_, err := o.store.IncrementCountsIf(ctx, ref, map[string]int64{col: delta, videos.ColCounterGen: 1}, nil, genIs(gen))
	return err
}

func countsCol(c vodfc.Counts, col string) int64 {
	switch col {
	case videos.ColViews:
		return c.Views
	case videos.ColLikes:
		return c.Likes
	case videos.ColFavourites:
		return c.Favourites
	case videos.ColComments:
		return c.Comments
	case videos.ColDanmaku:
		return c.Danmaku
	}
	return 0
}

// genIs is the condition "the generation is still gen"; a row never incremented has none.
func genIs(gen int64) tablestore.Pred {
	if gen == 0 {
		return tablestore.Eq(colGen, int64(0)).OrMissing()
	}
	return tablestore.Eq(colGen, gen)
}

// rowOwner keeps counters on a row of one of the engagement tables.
type rowOwner struct {
	db    *tablestore.Client
	table string
	key   func(ref string) (tablestore.Key, error)
}

func (o rowOwner) Increment(ctx context.Context, ref, col string, delta int64) (map[string]int64, error) {
	k, err := o.key(ref)
	if err != nil {
		return nil, err
	}
	snap, err := o.db.Update(ctx, o.table, k, tablestore.Change{Incr: map[string]int64{col: delta, colGen: 1}}, tablestore.IfExists())
	if tablestore.IsConditionFailed(err) {
		return nil, ErrOwnerGone
	}
	return snap, storageErr(err)
}

func (o rowOwner) Read(ctx context.Context, ref, col string) (int64, int64, bool, error) {
	k, err := o.key(ref)
	if err != nil {
		return 0, 0, false, err
	}
	r, err := o.db.Get(ctx, o.table, k, col, colGen)
	if err != nil || r == nil {
		return 0, 0, false, err
	}
	return r.Int(col), r.Int(colGen), true, nil
}

func (o rowOwner) Adjust(ctx context.Context, ref, col string, delta, gen int64) error {
	k, err := o.key(ref)
	if err != nil {
		return err
	}
	_, err = o.db.Update(ctx, o.table, k, tablestore.Change{Incr: map[string]int64{col: delta, colGen: 1}},
		tablestore.IfExists().Where(genIs(gen)))
	return err
}

// splitRef splits a reference of n parts joined by "/".
func splitRef(ref string, n int) ([]string, error) {
	parts := strings.Split(ref, "/")
	if len(parts) != n || slices.Contains(parts, "") {
		return nil, fmt.Errorf("engagement: malformed counter reference %q", ref)
	}
	return parts, nil
}

// countRange counts the rows of a range (optionally filtered), reading one small column.
func countRange(ctx context.Context, db *tablestore.Client, table string, start, end tablestore.Key, col string, where ...tablestore.Pred) (int64, error) {
	var n int64
	err := db.Scan(ctx, table, tablestore.Range{Start: start, End: end, Cols: []string{col}, Where: where, Limit: 5000},
		func(*tablestore.Row) error { n++; return nil })
	return n, err
}
