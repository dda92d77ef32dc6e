package otsemu

import (
	"math"
	"slices"
	"strings"

	"vodfc.dev/local/otsemu/plainbuffer"
)

// version is one timestamped value of a column.
type version struct {
	ts  int64 // milliseconds since the epoch
	val plainbuffer.Value
}

// column is an attribute column with its versions, newest first.
type column struct {
	name     string
	versions []version
}

// row is one stored row. Rows are immutable once in the index: a write builds a new row and
// swaps it in, so readers can hold a *row outside the table lock and snapshots can copy the
// index by pointer.
type row struct {
	key    []byte              // order-preserving encoding of pk
	pk     []plainbuffer.Value // primary-key values in schema order
	marker int64               // ms of the last write that made the row exist (PutRow or a putting UpdateRow)
	cols   []column            // sorted by name
}

// retention is what a read or write sees of the stored versions at one instant: versions
// beyond the table's max_versions and versions older than its TTL are invisible at once and
// purged later.
type retention struct {
	nowMs       int64
	ttlMs       int64 // <= 0: keep forever
	maxVersions int
}

func (rt retention) alive(ts int64) bool {
	return rt.ttlMs <= 0 || rt.nowMs-ts < rt.ttlMs
}

// visible returns the prefix of vs that is visible: versions are sorted newest first, so
// both the version limit and the TTL cut a prefix.
func (rt retention) visible(vs []version) []version {
	if len(vs) > rt.maxVersions {
		vs = vs[:rt.maxVersions]
	}
	n := 0
	for n < len(vs) && rt.alive(vs[n].ts) {
		n++
	}
	return vs[:n]
}

// exists reports whether the row is visible at all.
func (rt retention) exists(r *row) bool {
	if r == nil {
		return false
	}
	if rt.alive(r.marker) {
		return true
	}
	for i := range r.cols {
		if len(rt.visible(r.cols[i].versions)) > 0 {
			return true
		}
	}
	return false
}

// purgeable reports whether the row holds anything retention hides, i.e. whether a purge
// would change it.
func (rt retention) purgeable(r *row) bool {
	if !rt.exists(r) {
		return true
	}
	for i := range r.cols {
		if len(rt.visible(r.cols[i].versions)) != len(r.cols[i].versions) {
			return true
		}
	}
	return false
}

// purged returns the row without invisible versions, or nil when nothing of it is visible.
func (rt retention) purged(r *row) *row {
	if !rt.exists(r) {
		return nil
	}
	out := &row{key: r.key, pk: r.pk, marker: r.marker, cols: make([]column, 0, len(r.cols))}
	for i := range r.cols {
		if vs := rt.visible(r.cols[i].versions); len(vs) > 0 {
			out.cols = append(out.cols, column{name: r.cols[i].name, versions: slices.Clone(vs)})
		}
	}
	return out
}

// pkSize is the primary key's data size as Tablestore bills it: names plus values.
func (t *table) pkSize(pk []plainbuffer.Value) int {
	n := 0
	for i, v := range pk {
		n += len(t.schema[i].name) + v.Size()
	}
	return n
}

// ---------------------------------------------------------------------------------------------
// Building rows from writes.

// columnSet accumulates versions per column while a write is applied.
type columnSet struct {
	names       []string
	byName      map[string][]version
	maxVersions int
}

func newColumnSet(maxVersions int) *columnSet {
	return &columnSet{byName: map[string][]version{}, maxVersions: maxVersions}
}

// seed copies the visible part of an existing row.
func (cs *columnSet) seed(r *row, rt retention) {
	for i := range r.cols {
		if vs := rt.visible(r.cols[i].versions); len(vs) > 0 {
			cs.names = append(cs.names, r.cols[i].name)
			cs.byName[r.cols[i].name] = slices.Clone(vs)
		}
	}
}

// put stores a version, replacing one with the same timestamp, and trims to max versions.
func (cs *columnSet) put(name string, v version) {
	vs, ok := cs.byName[name]
	if !ok {
		cs.names = append(cs.names, name)
	}
	i, found := slices.BinarySearchFunc(vs, v.ts, func(x version, ts int64) int {
		// newest first: larger timestamps sort earlier
		switch {
		case x.ts > ts:
			return -1
		case x.ts < ts:
			return 1
		}
		return 0
	})
	if found {
		vs[i] = v
	} else {
		vs = slices.Insert(vs, i, v)
	}
	if len(vs) > cs.maxVersions {
		vs = vs[:cs.maxVersions]
	}
	cs.byName[name] = vs
}

func (cs *columnSet) deleteOne(name string, ts int64) {
	vs := cs.byName[name]
	for i := range vs {
		if vs[i].ts == ts {
			cs.byName[name] = slices.Delete(slices.Clone(vs), i, i+1)
			return
		}
	}
}

func (cs *columnSet) deleteAll(name string) { cs.byName[name] = nil }

func (cs *columnSet) latest(name string) (version, bool) {
	if vs := cs.byName[name]; len(vs) > 0 {
		return vs[0], true
	}
	return version{}, false
}

// columns returns the non-empty columns sorted by name.
func (cs *columnSet) columns() []column {
	slices.Sort(cs.names)
	out := make([]column, 0, len(cs.names))
	for i, name := range cs.names {
		if i > 0 && cs.names[i-1] == name {
			continue
		}
		if vs := cs.byName[name]; len(vs) > 0 {
			out = append(out, column{name: name, versions: vs})
		}
	}
	return out
}

// ---------------------------------------------------------------------------------------------
// Reading rows.

// readSpec is what a GetRow, BatchGetRow table entry or GetRange asks to see of each row.
type readSpec struct {
	columns     []string // sorted, deduplicated; empty means all
	wantPK      bool     // columns names a primary-key column
	wantAttrs   bool     // columns names an attribute column (or is empty)
	start, end  string   // [start_column, end_column)
	hasStart    bool
	hasEnd      bool
	hasTime     bool
	timeStart   int64 // [timeStart, timeEnd)
	timeEnd     int64
	maxVersions int // 0: no limit beyond the table's
	filter      filter
	page        *pagination
}

// restricts reports whether the request narrows the attribute columns, in which case a row
// left with none of them is not returned (Tablestore returns no row rather than a bare key).
func (rs *readSpec) restricts() bool {
	return (len(rs.columns) > 0 && !rs.wantPK) || rs.hasStart || rs.hasEnd || rs.hasTime || rs.page != nil
}

func (rs *readSpec) wants(name string) bool {
	if len(rs.columns) > 0 {
		if _, ok := slices.BinarySearch(rs.columns, name); !ok {
			return false
		}
	}
	if rs.hasStart && name < rs.start {
		return false
	}
	if rs.hasEnd && name >= rs.end {
		return false
	}
	return true
}

// project returns what rs shows of r, whether the row is returned at all, and its billed size.
func (t *table) project(r *row, rs *readSpec, rt retention) (plainbuffer.Row, bool, int) {
	if !rt.exists(r) {
		return plainbuffer.Row{}, false, 0
	}
	view := rowView{t: t, pk: r.pk}
	for i := range r.cols {
		c := &r.cols[i]
		if !rs.wants(c.name) {
			continue
		}
		vs := rt.visible(c.versions)
		if rs.hasTime {
			vs = timeSlice(vs, rs.timeStart, rs.timeEnd)
		}
		if rs.maxVersions > 0 && len(vs) > rs.maxVersions {
			vs = vs[:rs.maxVersions]
		}
		if len(vs) > 0 {
			view.cols = append(view.cols, column{name: c.name, versions: vs})
		}
	}
	if rs.filter != nil && !rs.filter.match(&view) {
		return plainbuffer.Row{}, false, 0
	}
	if rs.page != nil {
		view.cols = rs.page.apply(view.cols)
	}
	if len(view.cols) == 0 && rs.restricts() {
		return plainbuffer.Row{}, false, 0
	}
	out := plainbuffer.Row{PrimaryKey: t.pkCells(r.pk)}
	size := t.pkSize(r.pk)
	if rs.wantAttrs {
		n := 0
		for i := range view.cols {
			n += len(view.cols[i].versions)
		}
		out.Cells = make([]plainbuffer.Cell, 0, n)
		for _, c := range view.cols {
			for _, v := range c.versions {
				out.Cells = append(out.Cells, plainbuffer.Cell{Name: c.name, Value: v.val, HasValue: true, Timestamp: v.ts, HasTimestamp: true})
				size += len(c.name) + v.val.Size()
			}
		}
	}
	return out, true, size
}

// timeSlice keeps versions with start <= ts < end; vs is sorted newest first.
func timeSlice(vs []version, start, end int64) []version {
	i := 0
	for i < len(vs) && vs[i].ts >= end {
		i++
	}
	j := i
	for j < len(vs) && vs[j].ts >= start {
		j++
	}
	return vs[i:j]
}

func (t *table) pkCells(pk []plainbuffer.Value) []plainbuffer.Cell {
	cells := make([]plainbuffer.Cell, len(pk))
	for i, v := range pk {
		cells[i] = plainbuffer.Cell{Name: t.schema[i].name, Value: v, HasValue: true}
	}
	return cells
}

// rowView is what filters and column conditions look at: the primary key and, per column, the
// versions the read or write considers, newest first.
type rowView struct {
	t    *table
	pk   []plainbuffer.Value
	cols []column // sorted by name
}

func (v *rowView) lookup(name string) []version {
	for i, s := range v.t.schema {
		if s.name == name {
			return []version{{val: v.pk[i]}}
		}
	}
	i, ok := slices.BinarySearchFunc(v.cols, name, func(c column, n string) int { return strings.Compare(c.name, n) })
	if !ok {
		return nil
	}
	return v.cols[i].versions
}

// conditionView is the view a write condition checks: every visible version of the row.
func (t *table) conditionView(pk []plainbuffer.Value, r *row, rt retention) *rowView {
	v := &rowView{t: t, pk: pk}
	if !rt.exists(r) {
		return v
	}
	for i := range r.cols {
		if vs := rt.visible(r.cols[i].versions); len(vs) > 0 {
			v.cols = append(v.cols, column{name: r.cols[i].name, versions: vs})
		}
	}
	return v
}

// addInt adds with overflow detection.
func addInt(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

const maxTimestamp = math.MaxInt64 / 1000
