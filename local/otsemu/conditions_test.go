package otsemu_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
)

func cond(col string, op tablestore.ComparatorType, v any, filterIfMissing, latestOnly bool) *tablestore.SingleColumnCondition {
	c := tablestore.NewSingleColumnCondition(col, op, v)
	c.FilterIfMissing = filterIfMissing
	c.LatestVersionOnly = latestOnly
	return c
}

func and(fs ...tablestore.ColumnFilter) *tablestore.CompositeColumnValueFilter {
	c := tablestore.NewCompositeColumnCondition(tablestore.LO_AND)
	for _, f := range fs {
		c.AddFilter(f)
	}
	return c
}

func or(fs ...tablestore.ColumnFilter) *tablestore.CompositeColumnValueFilter {
	c := tablestore.NewCompositeColumnCondition(tablestore.LO_OR)
	for _, f := range fs {
		c.AddFilter(f)
	}
	return c
}

func not(f tablestore.ColumnFilter) *tablestore.CompositeColumnValueFilter {
	c := tablestore.NewCompositeColumnCondition(tablestore.LO_NOT)
	c.AddFilter(f)
	return c
}

func TestRowExistenceConditions(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_STRING, false}}, tableOpts{})
	putWith := func(id string, exp tablestore.RowExistenceExpectation) error {
		ch := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("id", id)}
		ch.AddColumn("v", int64(1))
		ch.SetCondition(exp)
		_, err := c.PutRow(&tablestore.PutRowRequest{PutRowChange: ch})
		return err
	}
	updateWith := func(id string, exp tablestore.RowExistenceExpectation) error {
		u := &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk1("id", id)}
		u.PutColumn("v", int64(2))
		u.SetCondition(exp)
		_, err := c.UpdateRow(&tablestore.UpdateRowRequest{UpdateRowChange: u})
		return err
	}
	deleteWith := func(id string, exp tablestore.RowExistenceExpectation) error {
		d := &tablestore.DeleteRowChange{TableName: name, PrimaryKey: pk1("id", id)}
		d.SetCondition(exp)
		_, err := c.DeleteRow(&tablestore.DeleteRowRequest{DeleteRowChange: d})
		return err
	}
	const fail, failMsg = "OTSConditionCheckFail", "Condition check failed."
	wantErr(t, putWith("a", tablestore.RowExistenceExpectation_EXPECT_EXIST), fail, 403, failMsg)
	wantErr(t, updateWith("a", tablestore.RowExistenceExpectation_EXPECT_EXIST), fail, 403, failMsg)
	wantErr(t, deleteWith("a", tablestore.RowExistenceExpectation_EXPECT_EXIST), fail, 403, failMsg)
	if err := putWith("a", tablestore.RowExistenceExpectation_EXPECT_NOT_EXIST); err != nil {
		t.Fatal(err)
	}
	wantErr(t, putWith("a", tablestore.RowExistenceExpectation_EXPECT_NOT_EXIST), fail, 403, failMsg)
	wantErr(t, updateWith("a", tablestore.RowExistenceExpectation_EXPECT_NOT_EXIST), fail, 403, failMsg)
	if err := putWith("a", tablestore.RowExistenceExpectation_EXPECT_EXIST); err != nil {
		t.Fatal(err)
	}
	if err := updateWith("a", tablestore.RowExistenceExpectation_EXPECT_EXIST); err != nil {
		t.Fatal(err)
	}
	if err := updateWith("b", tablestore.RowExistenceExpectation_EXPECT_NOT_EXIST); err != nil {
		t.Fatal(err)
	}
	if err := deleteWith("a", tablestore.RowExistenceExpectation_EXPECT_EXIST); err != nil {
		t.Fatal(err)
	}
	wantErr(t, deleteWith("a", tablestore.RowExistenceExpectation_EXPECT_EXIST), fail, 403, failMsg)
	wantErr(t, deleteWith("a", tablestore.RowExistenceExpectation_EXPECT_NOT_EXIST), "OTSParameterInvalid", 400, "")
}

func TestColumnConditions(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"gid", tablestore.PrimaryKeyType_INTEGER, false}, {"uid", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{maxVersions: 3})
	pk := pk1("gid", int64(0))
	pk.AddPrimaryKeyColumn("uid", int64(0))
	now := time.Now().UnixMilli()
	ch := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk}
	ch.AddColumnWithTimestamp("index", int64(0), now-2000)
	ch.AddColumnWithTimestamp("index", int64(5), now-1000) // latest version
	ch.AddColumn("addr", "china")
	put(t, c, ch)

	try := func(f tablestore.ColumnFilter) error {
		u := &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk}
		u.PutColumn("touched", int64(1))
		u.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
		u.SetColumnCondition(f)
		_, err := c.UpdateRow(&tablestore.UpdateRowRequest{UpdateRowChange: u})
		return err
	}
	cases := []struct {
		name string
		f    tablestore.ColumnFilter
		pass bool
	}{
		{"equal latest", cond("index", tablestore.CT_EQUAL, int64(5), false, true), true},
		{"equal old version, latest only", cond("index", tablestore.CT_EQUAL, int64(0), false, true), false},
		{"equal old version, any version", cond("index", tablestore.CT_EQUAL, int64(0), false, false), true},
		{"not equal", cond("index", tablestore.CT_NOT_EQUAL, int64(5), false, true), false},
		{"greater", cond("index", tablestore.CT_GREATER_THAN, int64(4), false, true), true},
		{"greater equal", cond("index", tablestore.CT_GREATER_EQUAL, int64(6), false, true), false},
		{"less", cond("index", tablestore.CT_LESS_THAN, int64(6), false, true), true},
		{"less equal", cond("index", tablestore.CT_LESS_EQUAL, int64(4), false, true), false},
		{"string", cond("addr", tablestore.CT_EQUAL, "china", false, true), true},
		{"type mismatch", cond("index", tablestore.CT_EQUAL, "5", false, true), false},
		{"missing, pass if missing", cond("nope", tablestore.CT_EQUAL, "x", false, true), true},
		{"missing, filter if missing", cond("nope", tablestore.CT_EQUAL, "x", true, true), false},
		{"primary key column", cond("uid", tablestore.CT_EQUAL, int64(0), true, true), true},
		{"and", and(cond("index", tablestore.CT_EQUAL, int64(5), false, true), cond("addr", tablestore.CT_NOT_EQUAL, "china", false, true)), false},
		{"and true", and(cond("index", tablestore.CT_EQUAL, int64(5), false, true), cond("addr", tablestore.CT_EQUAL, "china", false, true)), true},
		{"or", or(cond("index", tablestore.CT_NOT_EQUAL, int64(5), false, true), cond("addr", tablestore.CT_NOT_EQUAL, "china", false, true)), false},
		{"or true", or(cond("index", tablestore.CT_EQUAL, int64(5), false, true), cond("addr", tablestore.CT_NOT_EQUAL, "china", false, true)), true},
		{"not", not(and(cond("index", tablestore.CT_EQUAL, int64(5), false, true), cond("addr", tablestore.CT_EQUAL, "china", false, true))), false},
		{"nested", or(not(cond("index", tablestore.CT_LESS_THAN, int64(0), false, true)), cond("nope", tablestore.CT_EQUAL, int64(1), true, true)), true},
	}
	for _, tc := range cases {
		err := try(tc.f)
		if tc.pass && err != nil {
			t.Errorf("%s: want pass, got %v", tc.name, err)
		}
		if !tc.pass {
			wantErr(t, err, "OTSConditionCheckFail", 403, "Condition check failed.")
		}
	}

	// Column conditions apply to PutRow and DeleteRow too, and to a missing row (whose
	// columns are all missing).
	p := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk}
	p.AddColumn("index", int64(9))
	p.SetCondition(tablestore.RowExistenceExpectation_EXPECT_EXIST)
	p.SetColumnCondition(cond("addr", tablestore.CT_EQUAL, "elsewhere", false, true))
	_, err := c.PutRow(&tablestore.PutRowRequest{PutRowChange: p})
	wantErr(t, err, "OTSConditionCheckFail", 403, "Condition check failed.")
	d := &tablestore.DeleteRowChange{TableName: name, PrimaryKey: pk}
	d.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	d.SetColumnCondition(cond("index", tablestore.CT_GREATER_THAN, int64(100), false, true))
	_, err = c.DeleteRow(&tablestore.DeleteRowRequest{DeleteRowChange: d})
	wantErr(t, err, "OTSConditionCheckFail", 403, "Condition check failed.")
	other := pk1("gid", int64(1))
	other.AddPrimaryKeyColumn("uid", int64(1))
	p = &tablestore.PutRowChange{TableName: name, PrimaryKey: other}
	p.AddColumn("index", int64(1))
	p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	p.SetColumnCondition(cond("index", tablestore.CT_EQUAL, int64(1), true, true))
	_, err = c.PutRow(&tablestore.PutRowRequest{PutRowChange: p})
	wantErr(t, err, "OTSConditionCheckFail", 403, "Condition check failed.")
	p.SetColumnCondition(cond("index", tablestore.CT_EQUAL, int64(1), false, true))
	if _, err := c.PutRow(&tablestore.PutRowRequest{PutRowChange: p}); err != nil {
		t.Fatalf("pass-if-missing put on a missing row: %v", err)
	}

	// Composite conditions are bounded.
	many := tablestore.NewCompositeColumnCondition(tablestore.LO_AND)
	for i := range 33 {
		many.AddFilter(cond(fmt.Sprintf("c%d", i), tablestore.CT_EQUAL, int64(i), false, true))
	}
	wantErr(t, try(many), "OTSParameterInvalid", 400, "The count of filter exceeds the max: 32.")
}

func TestReadFilters(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"k", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{maxVersions: 2})
	now := time.Now().UnixMilli()
	for i := int64(0); i < 6; i++ {
		ch := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("k", i)}
		ch.AddColumnWithTimestamp("score", i, now-1000)
		ch.AddColumnWithTimestamp("score", i*10, now) // latest
		if i%2 == 0 {
			ch.AddColumn("tag", "even")
		}
		ch.AddColumn("json", fmt.Sprintf(`{"age":%d}`, 20+i))
		put(t, c, ch)
	}

	// GetRow: a filter that fails returns no row.
	q := &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("k", int64(2)), MaxVersion: 1}
	q.SetFilter(cond("score", tablestore.CT_EQUAL, int64(20), true, true))
	if g := getRow(t, c, q); len(g.Columns) == 0 {
		t.Fatal("matching filter dropped the row")
	}
	q.SetFilter(cond("score", tablestore.CT_EQUAL, int64(2), true, true))
	if g := getRow(t, c, q); g.PrimaryKey.PrimaryKeys != nil {
		t.Fatalf("failing filter returned %v", g.Columns)
	}
	q.SetFilter(cond("score", tablestore.CT_EQUAL, int64(2), true, false))
	q.MaxVersion = 2
	if g := getRow(t, c, q); len(g.Columns) == 0 {
		t.Fatal("any-version filter should match the older version")
	}
	// The filter sees only the columns read: a column left out of columns_to_get is missing.
	q = &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("k", int64(2)), MaxVersion: 1}
	q.AddColumnToGet("json")
	q.SetFilter(cond("score", tablestore.CT_EQUAL, int64(20), true, true))
	if g := getRow(t, c, q); g.PrimaryKey.PrimaryKeys != nil {
		t.Fatalf("filter on an unread column matched: %v", g.Columns)
	}

	rangeKeys := func(f tablestore.ColumnFilter) []int64 {
		start, end := &tablestore.PrimaryKey{}, &tablestore.PrimaryKey{}
		start.AddPrimaryKeyColumnWithMinValue("k")
		end.AddPrimaryKeyColumnWithMaxValue("k")
		crit := &tablestore.RangeRowQueryCriteria{TableName: name, StartPrimaryKey: start, EndPrimaryKey: end, Direction: tablestore.FORWARD, MaxVersion: 1, Filter: f}
		r := must[*tablestore.GetRangeResponse](t)(c.GetRange(&tablestore.GetRangeRequest{RangeRowQueryCriteria: crit}))
		var keys []int64
		for _, row := range r.Rows {
			keys = append(keys, row.PrimaryKey.PrimaryKeys[0].Value.(int64))
		}
		return keys
	}
	if got := rangeKeys(cond("tag", tablestore.CT_EQUAL, "even", true, true)); fmt.Sprint(got) != "[0 2 4]" {
		t.Fatalf("range with filter: %v", got)
	}
	if got := rangeKeys(or(cond("score", tablestore.CT_GREATER_EQUAL, int64(40), false, true), cond("k", tablestore.CT_EQUAL, int64(1), false, true))); fmt.Sprint(got) != "[1 4 5]" {
		t.Fatalf("range with composite filter: %v", got)
	}
	// Value transfer rule: a regex picks a field out of a string and casts it.
	rule := tablestore.NewSingleColumnValueRegexFilter("json", tablestore.CT_GREATER_THAN, tablestore.NewValueTransferRule(`"age":(\d+)`, tablestore.Variant_INTEGER), int64(23))
	if got := rangeKeys(rule); fmt.Sprint(got) != "[4 5]" {
		t.Fatalf("range with regex filter: %v", got)
	}

	// BatchGetRow applies the filter per row.
	crit := &tablestore.MultiRowQueryCriteria{TableName: name, MaxVersion: 1}
	for i := int64(0); i < 4; i++ {
		crit.AddRow(pk1("k", i))
	}
	crit.SetFilter(cond("tag", tablestore.CT_EQUAL, "even", true, true))
	b := must[*tablestore.BatchGetRowResponse](t)(c.BatchGetRow(&tablestore.BatchGetRowRequest{MultiRowQueryCriteria: []*tablestore.MultiRowQueryCriteria{crit}}))
	var found []string
	for _, r := range b.TableToRowsResult[name] {
		found = append(found, fmt.Sprintf("%v:%d", r.IsSucceed, len(r.PrimaryKey.PrimaryKeys)))
	}
	if fmt.Sprint(found) != "[true:1 true:0 true:1 true:0]" {
		t.Fatalf("batch get with filter: %v", found)
	}

	// Column pagination: skip one column, return one.
	q = &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("k", int64(0)), MaxVersion: 1}
	q.SetFilter(&tablestore.PaginationFilter{Offset: 1, Limit: 1})
	if g := getRow(t, c, q); fmt.Sprint(cols(g.Columns, false)) != "[score=0]" {
		t.Fatalf("pagination: %v", cols(g.Columns, false))
	}
}
