package otsemu_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
)

// bound builds a range bound: each part is a value, "MIN" or "MAX".
func bound(names []string, parts ...any) *tablestore.PrimaryKey {
	pk := &tablestore.PrimaryKey{}
	for i, p := range parts {
		switch p {
		case "MIN":
			pk.AddPrimaryKeyColumnWithMinValue(names[i])
		case "MAX":
			pk.AddPrimaryKeyColumnWithMaxValue(names[i])
		default:
			pk.AddPrimaryKeyColumn(names[i], p)
		}
	}
	return pk
}

func rowKey(r *tablestore.Row) string {
	var parts []string
	for _, c := range r.PrimaryKey.PrimaryKeys {
		parts = append(parts, fmt.Sprint(c.Value))
	}
	return strings.Join(parts, "/")
}

func scan(t testing.TB, c *tablestore.TableStoreClient, crit *tablestore.RangeRowQueryCriteria) ([]string, *tablestore.GetRangeResponse) {
	t.Helper()
	if crit.MaxVersion == 0 {
		crit.MaxVersion = 1
	}
	r := must[*tablestore.GetRangeResponse](t)(c.GetRange(&tablestore.GetRangeRequest{RangeRowQueryCriteria: crit}))
	var keys []string
	for _, row := range r.Rows {
		keys = append(keys, rowKey(row))
	}
	return keys, r
}

func TestGetRangeBoundsAndDirections(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	names := []string{"a", "b"}
	name := tg.newTable(t, []pkDef{{"a", tablestore.PrimaryKeyType_STRING, false}, {"b", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{})
	req := &tablestore.BatchWriteRowRequest{}
	for _, a := range []string{"a", "b", "c"} {
		for _, b := range []int64{-1, 7} {
			p := &tablestore.PutRowChange{TableName: name, PrimaryKey: bound(names, a, b)}
			p.AddColumn("v", a+fmt.Sprint(b))
			p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
			req.AddRowChange(p)
		}
	}
	must[*tablestore.BatchWriteRowResponse](t)(c.BatchWriteRow(req))

	cases := []struct {
		start, end []any
		dir        tablestore.Direction
		want       string
	}{
		{[]any{"MIN", "MIN"}, []any{"MAX", "MAX"}, tablestore.FORWARD, "a/-1 a/7 b/-1 b/7 c/-1 c/7"},
		{[]any{"MAX", "MAX"}, []any{"MIN", "MIN"}, tablestore.BACKWARD, "c/7 c/-1 b/7 b/-1 a/7 a/-1"},
		{[]any{"a", "MIN"}, []any{"b", "MAX"}, tablestore.FORWARD, "a/-1 a/7 b/-1 b/7"},
		{[]any{"a", "MAX"}, []any{"c", "MIN"}, tablestore.FORWARD, "b/-1 b/7"},
		{[]any{"a", int64(7)}, []any{"c", int64(-1)}, tablestore.FORWARD, "a/7 b/-1 b/7"},
		{[]any{"c", int64(-1)}, []any{"a", int64(7)}, tablestore.BACKWARD, "c/-1 b/7 b/-1"},
		{[]any{"b", "MAX"}, []any{"b", "MIN"}, tablestore.BACKWARD, "b/7 b/-1"},
		{[]any{"a", int64(0)}, []any{"a", "MAX"}, tablestore.FORWARD, "a/7"},
		{[]any{"zz", "MIN"}, []any{"MAX", "MAX"}, tablestore.FORWARD, ""},
	}
	for _, tc := range cases {
		keys, res := scan(t, c, &tablestore.RangeRowQueryCriteria{TableName: name, StartPrimaryKey: bound(names, tc.start...), EndPrimaryKey: bound(names, tc.end...), Direction: tc.dir})
		if got := strings.Join(keys, " "); got != tc.want {
			t.Errorf("%v..%v %v: got %q want %q", tc.start, tc.end, tc.dir, got, tc.want)
		}
		if res.NextStartPrimaryKey != nil {
			t.Errorf("%v..%v: unexpected next key %v", tc.start, tc.end, res.NextStartPrimaryKey)
		}
		if res.ConsumedCapacityUnit.Read < 1 {
			t.Errorf("consumed %+v", res.ConsumedCapacityUnit)
		}
	}

	bad := []struct {
		start, end []any
		dir        tablestore.Direction
		msg        string
	}{
		{[]any{"b", "MIN"}, []any{"a", "MAX"}, tablestore.FORWARD, "Begin key must less than end key in FORWARD"},
		{[]any{"a", int64(7)}, []any{"a", int64(7)}, tablestore.FORWARD, "Begin key must less than end key in FORWARD"},
		{[]any{"a", "MIN"}, []any{"b", "MIN"}, tablestore.BACKWARD, "Begin key must more than end key in BACKWARD"},
	}
	for _, tc := range bad {
		_, err := c.GetRange(&tablestore.GetRangeRequest{RangeRowQueryCriteria: &tablestore.RangeRowQueryCriteria{
			TableName: name, StartPrimaryKey: bound(names, tc.start...), EndPrimaryKey: bound(names, tc.end...), Direction: tc.dir, MaxVersion: 1}})
		wantErr(t, err, "OTSParameterInvalid", 400, tc.msg)
	}
	_, err := c.GetRange(&tablestore.GetRangeRequest{RangeRowQueryCriteria: &tablestore.RangeRowQueryCriteria{
		TableName: name, StartPrimaryKey: bound(names, "MIN"), EndPrimaryKey: bound(names, "MAX", "MAX"), MaxVersion: 1}})
	wantErr(t, err, "OTSInvalidPK", 400, "Validate PK size fail. Input: 1, Meta: 2.")
	_, err = c.GetRange(&tablestore.GetRangeRequest{RangeRowQueryCriteria: &tablestore.RangeRowQueryCriteria{
		TableName: name, StartPrimaryKey: bound(names, "MIN", "MIN"), EndPrimaryKey: bound(names, "MAX", "MAX"), MaxVersion: 1, Limit: -1}})
	wantErr(t, err, "OTSParameterInvalid", 400, "The limit must be greater than 0.")
}

func TestGetRangePaging(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	names := []string{"id"}
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{})
	const rows = 5003
	for start := 0; start < rows; start += 200 {
		req := &tablestore.BatchWriteRowRequest{}
		for i := start; i < min(start+200, rows); i++ {
			p := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("id", int64(i))}
			p.AddColumn("v", int64(i))
			p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
			req.AddRowChange(p)
		}
		res := must[*tablestore.BatchWriteRowResponse](t)(c.BatchWriteRow(req))
		for _, r := range res.TableToRowsResult[name] {
			if !r.IsSucceed {
				t.Fatalf("batch write failed: %+v", r.Error)
			}
		}
	}

	// A limit stops the page and names where to continue.
	keys, res := scan(t, c, &tablestore.RangeRowQueryCriteria{TableName: name, StartPrimaryKey: bound(names, int64(10)), EndPrimaryKey: bound(names, "MAX"), Direction: tablestore.FORWARD, Limit: 3})
	if strings.Join(keys, " ") != "10 11 12" || res.NextStartPrimaryKey == nil || res.NextStartPrimaryKey.PrimaryKeys[0].Value != int64(13) {
		t.Fatalf("limited page %v next %v", keys, res.NextStartPrimaryKey)
	}
	keys, res = scan(t, c, &tablestore.RangeRowQueryCriteria{TableName: name, StartPrimaryKey: bound(names, int64(10)), EndPrimaryKey: bound(names, int64(0)), Direction: tablestore.BACKWARD, Limit: 4})
	if strings.Join(keys, " ") != "10 9 8 7" || res.NextStartPrimaryKey.PrimaryKeys[0].Value != int64(6) {
		t.Fatalf("backward page %v next %v", keys, res.NextStartPrimaryKey)
	}

	// Without a limit a page stops at 5000 rows; following next_start_primary_key reads the
	// rest exactly once.
	start := bound(names, "MIN")
	seen := 0
	pages := 0
	for start != nil {
		keys, res := scan(t, c, &tablestore.RangeRowQueryCriteria{TableName: name, StartPrimaryKey: start, EndPrimaryKey: bound(names, "MAX"), Direction: tablestore.FORWARD})
		pages++
		if pages == 1 && len(keys) != 5000 {
			t.Fatalf("first page has %d rows, want 5000", len(keys))
		}
		for _, k := range keys {
			if k != fmt.Sprint(seen) {
				t.Fatalf("row %s where %d was expected", k, seen)
			}
			seen++
		}
		start = res.NextStartPrimaryKey
	}
	if seen != rows || pages != 2 {
		t.Fatalf("read %d rows in %d pages, want %d in 2", seen, pages, rows)
	}
}

func TestGetRangeStopsAtFourMegabytes(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	names := []string{"id"}
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{})
	value := strings.Repeat("x", 512<<10)
	for i := range 10 { // 5 MiB in all
		p := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("id", int64(i))}
		p.AddColumn("blob", value)
		put(t, c, p)
	}
	keys, res := scan(t, c, &tablestore.RangeRowQueryCriteria{TableName: name, StartPrimaryKey: bound(names, "MIN"), EndPrimaryKey: bound(names, "MAX"), Direction: tablestore.FORWARD})
	if len(keys) == 0 || len(keys) >= 10 || res.NextStartPrimaryKey == nil {
		t.Fatalf("a 5 MiB range came back in one page of %d rows (next %v)", len(keys), res.NextStartPrimaryKey)
	}
	if next := res.NextStartPrimaryKey.PrimaryKeys[0].Value.(int64); next != int64(len(keys)) {
		t.Fatalf("next start %d after %d rows", next, len(keys))
	}
	if res.ConsumedCapacityUnit.Read < int32(len(keys)*128) {
		t.Fatalf("read %d rows of 512 KiB for %d units", len(keys), res.ConsumedCapacityUnit.Read)
	}
}
