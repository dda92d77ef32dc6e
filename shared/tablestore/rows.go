package tablestore

import (
	"context"
	"fmt"
	"sort"

	ts "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore/otsprotocol"
)

// Key is a primary key: its columns in schema order. Values are string, int64 (or int), or
// []byte; Min and Max stand for the infinite bounds of a range.
type Key []KeyCol

// KeyCol is one primary-key column.
type KeyCol struct {
	Name  string
	Value any
}

type bound int

// Min and Max are the infinite bounds of a range read.
const (
	Min bound = -1
	Max bound = 1
)

// K builds a key from name/value pairs: K("video_id", id, "user_id", uid).
func K(nameValues ...any) Key {
	if len(nameValues)%2 != 0 {
		panic("tablestore.K: odd number of arguments")
	}
	k := make(Key, 0, len(nameValues)/2)
	for i := 0; i < len(nameValues); i += 2 {
		k = append(k, KeyCol{Name: nameValues[i].(string), Value: normalize(nameValues[i+1])})
	}
	return k
}

func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint32:
		return int64(x)
	}
	return v
}

func (k Key) sdk() *ts.PrimaryKey {
	pk := &ts.PrimaryKey{}
	for _, c := range k {
		switch c.Value {
		case Min:
			pk.AddPrimaryKeyColumnWithMinValue(c.Name)
		case Max:
			pk.AddPrimaryKeyColumnWithMaxValue(c.Name)
		default:
			pk.AddPrimaryKeyColumn(c.Name, c.Value)
		}
	}
	return pk
}

func keyFromSDK(pk *ts.PrimaryKey) Key {
	if pk == nil {
		return nil
	}
	k := make(Key, 0, len(pk.PrimaryKeys))
	for _, c := range pk.PrimaryKeys {
		switch c.PrimaryKeyOption {
		case ts.MIN:
			k = append(k, KeyCol{Name: c.ColumnName, Value: Min})
		case ts.MAX:
			k = append(k, KeyCol{Name: c.ColumnName, Value: Max})
		default:
			k = append(k, KeyCol{Name: c.ColumnName, Value: c.Value})
		}
	}
	return k
}

// Str returns the string value of key column name ("" when absent).
func (k Key) Str(name string) string {
	for _, c := range k {
		if c.Name == name {
			s, _ := c.Value.(string)
			return s
		}
	}
	return ""
}

// Int returns the integer value of key column name (0 when absent).
func (k Key) Int(name string) int64 {
	for _, c := range k {
		if c.Name == name {
			n, _ := c.Value.(int64)
			return n
		}
	}
	return 0
}

// Cols are attribute columns to write. Values are string, int64/int, float64, bool or []byte.
type Cols map[string]any

// Row is a row read back: its key and its attribute columns (latest version of each).
type Row struct {
	Key  Key
	Cols Cols
}

func rowFromSDK(pk *ts.PrimaryKey, cols []*ts.AttributeColumn) *Row {
	r := &Row{Key: keyFromSDK(pk), Cols: make(Cols, len(cols))}
	// Columns arrive newest version first within a name; keep the first one seen.
	for _, c := range cols {
		if _, seen := r.Cols[c.ColumnName]; !seen {
			r.Cols[c.ColumnName] = c.Value
		}
	}
	return r
}

// Has reports whether column name is present.
func (r *Row) Has(name string) bool { _, ok := r.Cols[name]; return ok }

// Str returns column name as a string ("" when absent or of another type).
func (r *Row) Str(name string) string { s, _ := r.Cols[name].(string); return s }

// Int returns column name as an integer (0 when absent).
func (r *Row) Int(name string) int64 { n, _ := r.Cols[name].(int64); return n }

// Float returns column name as a float (0 when absent).
func (r *Row) Float(name string) float64 { f, _ := r.Cols[name].(float64); return f }

// Bool returns column name as a bool (false when absent).
func (r *Row) Bool(name string) bool { b, _ := r.Cols[name].(bool); return b }

// Bytes returns column name as bytes (nil when absent).
func (r *Row) Bytes(name string) []byte { b, _ := r.Cols[name].([]byte); return b }

// Cond is the condition a write must meet. The zero value writes unconditionally.
type Cond struct {
	exist  ts.RowExistenceExpectation
	filter ts.ColumnFilter
}

// Always writes whatever the row's state.
var Always = Cond{exist: ts.RowExistenceExpectation_IGNORE}

// IfExists writes only when the row exists.
func IfExists() Cond { return Cond{exist: ts.RowExistenceExpectation_EXPECT_EXIST} }

// IfNotExists writes only when the row does not exist; this is how uniqueness is enforced.
func IfNotExists() Cond { return Cond{exist: ts.RowExistenceExpectation_EXPECT_NOT_EXIST} }

// Where adds column predicates that must all hold (AND). A predicate on a missing column fails,
// unlike the service's default, which lets it pass: a missing status must never satisfy
// "status = awaiting_upload".
func (c Cond) Where(preds ...Pred) Cond {
	all := append(predicates(c.filter), preds...)
	switch len(all) {
	case 0:
		c.filter = nil
	case 1:
		c.filter = all[0].filter()
	default:
		comp := ts.NewCompositeColumnCondition(ts.LO_AND)
		for _, p := range all {
			comp.AddFilter(p.filter())
		}
		c.filter = &predicateSet{comp: comp, preds: all}
	}
	return c
}

// predicateSet remembers the predicates of a composite filter so Where can be called again.
type predicateSet struct {
	comp  *ts.CompositeColumnValueFilter
	preds []Pred
}

func (p *predicateSet) Serialize() []byte { return p.comp.Serialize() }

func (p *predicateSet) ToFilter() *otsprotocol.Filter { return p.comp.ToFilter() }

func predicates(f ts.ColumnFilter) []Pred {
	switch x := f.(type) {
	case *predicateSet:
		return append([]Pred(nil), x.preds...)
	case *singlePred:
		return []Pred{x.p}
	}
	return nil
}

// Pred is a predicate on one column's latest version.
type Pred struct {
	col       string
	op        ts.ComparatorType
	value     any
	orMissing bool
}

// Eq, Ne, Lt, Le, Gt, Ge compare column col with value.
func Eq(col string, value any) Pred { return Pred{col: col, op: ts.CT_EQUAL, value: normalize(value)} }
func Ne(col string, value any) Pred {
	return Pred{col: col, op: ts.CT_NOT_EQUAL, value: normalize(value)}
}
func Lt(col string, value any) Pred {
	return Pred{col: col, op: ts.CT_LESS_THAN, value: normalize(value)}
}
func Le(col string, value any) Pred {
	return Pred{col: col, op: ts.CT_LESS_EQUAL, value: normalize(value)}
}
func Gt(col string, value any) Pred {
	return Pred{col: col, op: ts.CT_GREATER_THAN, value: normalize(value)}
}
func Ge(col string, value any) Pred {
	return Pred{col: col, op: ts.CT_GREATER_EQUAL, value: normalize(value)}
}

// OrMissing makes the predicate also pass when the column is absent.
func (p Pred) OrMissing() Pred { p.orMissing = true; return p }

type singlePred struct {
	p   Pred
	scc *ts.SingleColumnCondition
}

func (s *singlePred) Serialize() []byte             { return s.scc.Serialize() }
func (s *singlePred) ToFilter() *otsprotocol.Filter { return s.scc.ToFilter() }
func (p Pred) filter() ts.ColumnFilter {
	scc := ts.NewSingleColumnCondition(p.col, p.op, p.value)
	scc.FilterIfMissing = !p.orMissing
	scc.LatestVersionOnly = true
	return &singlePred{p: p, scc: scc}
}

func (c Cond) sdk() *ts.RowCondition {
	rc := &ts.RowCondition{RowExistenceExpectation: c.exist, ColumnCondition: c.filter}
	return rc
}

// Get reads one row; it returns nil (and no error) when the row does not exist.
func (c *Client) Get(ctx context.Context, table string, key Key, cols ...string) (*Row, error) {
	cl, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	q := &ts.SingleRowQueryCriteria{TableName: table, PrimaryKey: key.sdk(), MaxVersion: 1, ColumnsToGet: cols}
	resp, err := cl.GetRow(&ts.GetRowRequest{SingleRowQueryCriteria: q})
	if err != nil {
		return nil, wrapErr("GetRow", table, err)
	}
	if len(resp.PrimaryKey.PrimaryKeys) == 0 {
		return nil, nil
	}
	return rowFromSDK(&resp.PrimaryKey, resp.Columns), nil
}

// Put writes a whole row (replacing its columns) if cond holds.
func (c *Client) Put(ctx context.Context, table string, key Key, cols Cols, cond Cond) error {
	return c.retryWrite(ctx, func(cl *ts.TableStoreClient) error {
		_, err := cl.PutRow(&ts.PutRowRequest{PutRowChange: putChange(table, key, cols, cond)})
		return wrapErr("PutRow", table, err)
	})
}

func putChange(table string, key Key, cols Cols, cond Cond) *ts.PutRowChange {
	ch := &ts.PutRowChange{TableName: table, PrimaryKey: key.sdk(), Condition: cond.sdk()}
	for _, name := range sortedNames(cols) {
		ch.AddColumn(name, normalize(cols[name]))
	}
	return ch
}

// Change is an in-place update of some columns of a row.
type Change struct {
	Set    Cols             // columns to write
	Delete []string         // columns to remove (all versions)
	Incr   map[string]int64 // atomic increments; the new values are returned by Update
}

// Update applies ch to the row if cond holds and returns the values of incremented columns
// after the change. An update creates the row when it does not exist and cond allows it.
func (c *Client) Update(ctx context.Context, table string, key Key, ch Change, cond Cond) (map[string]int64, error) {
	var resp *ts.UpdateRowResponse
	err := c.retryWrite(ctx, func(cl *ts.TableStoreClient) error {
		var err error
		resp, err = cl.UpdateRow(&ts.UpdateRowRequest{UpdateRowChange: updateChange(table, key, ch, cond)})
		return wrapErr("UpdateRow", table, err)
	})
	if err != nil {
		return nil, err
	}
	if len(ch.Incr) == 0 {
		return nil, nil
	}
	out := make(map[string]int64, len(ch.Incr))
	for _, col := range resp.Columns {
		if n, ok := col.Value.(int64); ok {
			out[col.ColumnName] = n
		}
	}
	return out, nil
}

func updateChange(table string, key Key, ch Change, cond Cond) *ts.UpdateRowChange {
	uc := &ts.UpdateRowChange{TableName: table, PrimaryKey: key.sdk(), Condition: cond.sdk()}
	for _, name := range sortedNames(ch.Set) {
		uc.PutColumn(name, normalize(ch.Set[name]))
	}
	for _, name := range ch.Delete {
		uc.DeleteColumn(name)
	}
	if len(ch.Incr) > 0 {
		names := make([]string, 0, len(ch.Incr))
		for n := range ch.Incr {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			uc.IncrementColumn(n, ch.Incr[n])
			uc.AppendIncrementColumnToReturn(n)
		}
		uc.SetReturnIncrementValue()
	}
	return uc
}

// Delete removes a row if cond holds. Deleting a missing row with Always is not an error.
func (c *Client) Delete(ctx context.Context, table string, key Key, cond Cond) error {
	return c.retryWrite(ctx, func(cl *ts.TableStoreClient) error {
		_, err := cl.DeleteRow(&ts.DeleteRowRequest{DeleteRowChange: &ts.DeleteRowChange{TableName: table, PrimaryKey: key.sdk(), Condition: cond.sdk()}})
		return wrapErr("DeleteRow", table, err)
	})
}

func sortedNames(cols Cols) []string {
	names := make([]string, 0, len(cols))
	for n := range cols {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// fmtKey renders a key for logs.
func fmtKey(k Key) string {
	s := ""
	for i, c := range k {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("%s=%v", c.Name, c.Value)
	}
	return s
}
