package otsemu_test

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
)

func getRow(t testing.TB, c *tablestore.TableStoreClient, q *tablestore.SingleRowQueryCriteria) *tablestore.GetRowResponse {
	t.Helper()
	return must[*tablestore.GetRowResponse](t)(c.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: q}))
}

func put(t testing.TB, c *tablestore.TableStoreClient, ch *tablestore.PutRowChange) *tablestore.PutRowResponse {
	t.Helper()
	if ch.Condition == nil {
		ch.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	}
	return must[*tablestore.PutRowResponse](t)(c.PutRow(&tablestore.PutRowRequest{PutRowChange: ch}))
}

func update(c *tablestore.TableStoreClient, ch *tablestore.UpdateRowChange) (*tablestore.UpdateRowResponse, error) {
	if ch.Condition == nil {
		ch.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	}
	return c.UpdateRow(&tablestore.UpdateRowRequest{UpdateRowChange: ch})
}

func TestPutGetEveryType(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"s", tablestore.PrimaryKeyType_STRING, false}, {"i", tablestore.PrimaryKeyType_INTEGER, false}, {"b", tablestore.PrimaryKeyType_BINARY, false}}, tableOpts{})
	pk := &tablestore.PrimaryKey{}
	pk.AddPrimaryKeyColumn("s", "视频\x00id")
	pk.AddPrimaryKeyColumn("i", int64(math.MinInt64))
	pk.AddPrimaryKeyColumn("b", []byte{0, 0xff})
	ch := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk}
	ch.AddColumn("int", int64(-42))
	ch.AddColumn("dbl", 2.75)
	ch.AddColumn("yes", true)
	ch.AddColumn("no", false)
	ch.AddColumn("str", "弹幕 danmaku")
	ch.AddColumn("empty", "")
	ch.AddColumn("blob", []byte{1, 2, 3})
	before := time.Now().UnixMilli()
	res := put(t, c, ch)
	if res.ConsumedCapacityUnit.Write < 1 || res.RequestId == "" {
		t.Fatalf("put response %+v", res)
	}
	got := getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 1})
	if want := "[blob=0x010203 dbl=2.75 empty= int=-42 no=false str=弹幕 danmaku yes=true]"; fmt.Sprint(cols(got.Columns, false)) != want {
		t.Fatalf("got %v\nwant %s", cols(got.Columns, false), want)
	}
	if len(got.PrimaryKey.PrimaryKeys) != 3 || got.PrimaryKey.PrimaryKeys[0].Value != "视频\x00id" ||
		got.PrimaryKey.PrimaryKeys[1].Value != int64(math.MinInt64) || !bytes.Equal(got.PrimaryKey.PrimaryKeys[2].Value.([]byte), []byte{0, 0xff}) {
		t.Fatalf("primary key %v", got.PrimaryKey)
	}
	for _, col := range got.Columns {
		if col.Timestamp < before-5000 || col.Timestamp > time.Now().UnixMilli()+5000 {
			t.Fatalf("column %s has timestamp %d, not the server's now", col.ColumnName, col.Timestamp)
		}
	}
	if got.ConsumedCapacityUnit.Read < 1 {
		t.Fatalf("read consumed %+v", got.ConsumedCapacityUnit)
	}

	// columns_to_get picks columns; a primary-key name alone returns just the key.
	q := &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 1}
	q.AddColumnToGet("str")
	q.AddColumnToGet("int")
	q.AddColumnToGet("absent")
	if got := cols(getRow(t, c, q).Columns, false); fmt.Sprint(got) != "[int=-42 str=弹幕 danmaku]" {
		t.Fatalf("columns_to_get: %v", got)
	}
	q = &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 1}
	q.AddColumnToGet("s")
	if got := getRow(t, c, q); len(got.Columns) != 0 || len(got.PrimaryKey.PrimaryKeys) != 3 {
		t.Fatalf("pk-only get: %v %v", got.PrimaryKey, got.Columns)
	}
	q = &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 1}
	q.AddColumnToGet("absent")
	if got := getRow(t, c, q); got.PrimaryKey.PrimaryKeys != nil || got.Columns != nil {
		t.Fatalf("get of absent columns returned a row: %v %v", got.PrimaryKey, got.Columns)
	}

	// start/end column select a name range [start, end).
	q = &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 1}
	q.SetStartColumn("dbl")
	q.SetEndtColumn("no")
	if got := cols(getRow(t, c, q).Columns, false); fmt.Sprint(got) != "[dbl=2.75 empty= int=-42]" {
		t.Fatalf("column range: %v", got)
	}

	// A missing row is an empty answer that still bills one read unit.
	missing := pk1("s", "nope")
	missing.AddPrimaryKeyColumn("i", int64(1))
	missing.AddPrimaryKeyColumn("b", []byte{})
	got = getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: missing, MaxVersion: 1})
	if got.PrimaryKey.PrimaryKeys != nil || got.Columns != nil || got.ConsumedCapacityUnit.Read != 1 {
		t.Fatalf("missing row: %+v", got)
	}

	// PutRow replaces the whole row.
	ch = &tablestore.PutRowChange{TableName: name, PrimaryKey: pk}
	ch.AddColumn("only", "this")
	put(t, c, ch)
	if got := cols(getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 1}).Columns, false); fmt.Sprint(got) != "[only=this]" {
		t.Fatalf("after replacing put: %v", got)
	}

	// A row with no attribute columns exists and reads back as its key.
	ch = &tablestore.PutRowChange{TableName: name, PrimaryKey: missing}
	put(t, c, ch)
	got = getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: missing, MaxVersion: 1})
	if len(got.PrimaryKey.PrimaryKeys) != 3 || len(got.Columns) != 0 {
		t.Fatalf("key-only row: %+v", got)
	}
}

func TestVersionsAndTimeRange(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_STRING, false}}, tableOpts{maxVersions: 3})
	pk := pk1("id", "v")
	base := time.Now().UnixMilli() - 60_000
	ch := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk}
	for i := int64(0); i < 5; i++ {
		ch.AddColumnWithTimestamp("title", fmt.Sprintf("t%d", i), base+i*1000)
	}
	ch.AddColumnWithTimestamp("other", int64(7), base)
	put(t, c, ch)

	all := func(q *tablestore.SingleRowQueryCriteria) string {
		return fmt.Sprint(cols(getRow(t, c, q).Columns, true))
	}
	q := &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 10}
	// max_versions 3 keeps the three newest of the five written versions, newest first.
	want := fmt.Sprintf("[other=7@%d title=t4@%d title=t3@%d title=t2@%d]", base, base+4000, base+3000, base+2000)
	if got := all(q); got != want {
		t.Fatalf("all versions:\n got %s\nwant %s", got, want)
	}
	q.MaxVersion = 2
	q.AddColumnToGet("title")
	if got := all(q); got != fmt.Sprintf("[title=t4@%d title=t3@%d]", base+4000, base+3000) {
		t.Fatalf("max_versions 2: %s", got)
	}
	q = &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, TimeRange: &tablestore.TimeRange{Start: base + 2500, End: base + 4000}}
	if got := all(q); got != fmt.Sprintf("[title=t3@%d]", base+3000) {
		t.Fatalf("time range: %s", got)
	}
	q = &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, TimeRange: &tablestore.TimeRange{Specific: base + 2000}}
	if got := all(q); got != fmt.Sprintf("[title=t2@%d]", base+2000) {
		t.Fatalf("specific time: %s", got)
	}
	q = &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, TimeRange: &tablestore.TimeRange{Specific: base + 1}}
	if got := getRow(t, c, q); got.Columns != nil {
		t.Fatalf("no version at that time, got %v", got.Columns)
	}

	// Deleting one version, then all versions of a column.
	u := &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk}
	u.DeleteColumnWithTimestamp("title", base+4000)
	must[*tablestore.UpdateRowResponse](t)(update(c, u))
	q = &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 10}
	q.AddColumnToGet("title")
	if got := all(q); got != fmt.Sprintf("[title=t3@%d title=t2@%d]", base+3000, base+2000) {
		t.Fatalf("after deleting one version: %s", got)
	}
	u = &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk}
	u.DeleteColumn("title")
	u.PutColumn("new", "x")
	must[*tablestore.UpdateRowResponse](t)(update(c, u))
	got := cols(getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 10}).Columns, false)
	if fmt.Sprint(got) != "[new=x other=7]" {
		t.Fatalf("after delete all + put: %v", got)
	}

	// Reading without max_versions or time_range is refused.
	raw := tg.raw(t, rawRequest{action: "GetRow", body: marshal(t, getRowRequest(name, pk))})
	raw.wantCode(t, "OTSParameterInvalid", 400)
	if raw.err.GetMessage() != "No version condition is specified." {
		t.Fatalf("message %q", raw.err.GetMessage())
	}
}

func TestUpdateRowOperations(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{})
	pk := pk1("id", int64(1))

	// UpdateRow creates a missing row (IGNORE), puts and increments from zero.
	u := &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk}
	u.PutColumn("title", "first")
	u.IncrementColumn("views", 5)
	u.SetReturnIncrementValue()
	u.AppendIncrementColumnToReturn("views")
	r := must[*tablestore.UpdateRowResponse](t)(update(c, u))
	if got := cols(r.Columns, false); fmt.Sprint(got) != "[views=5]" {
		t.Fatalf("returned after modify: %v", got)
	}
	u = &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk}
	u.IncrementColumn("views", -2)
	u.IncrementColumn("likes", 1)
	u.SetReturnIncrementValue()
	u.AppendIncrementColumnToReturn("views")
	u.AppendIncrementColumnToReturn("likes")
	r = must[*tablestore.UpdateRowResponse](t)(update(c, u))
	if got := cols(r.Columns, false); fmt.Sprint(got) != "[views=3 likes=1]" {
		t.Fatalf("returned after modify: %v", got)
	}
	if r.Columns[0].Timestamp == 0 {
		t.Fatal("incremented value without timestamp")
	}
	got := cols(getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 1}).Columns, false)
	if fmt.Sprint(got) != "[likes=1 title=first views=3]" {
		t.Fatalf("row after increments: %v", got)
	}

	// Incrementing a non-integer column fails and changes nothing.
	u = &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk}
	u.PutColumn("views2", int64(1))
	u.IncrementColumn("title", 1)
	_, err := update(c, u)
	wantErr(t, err, "OTSParameterInvalid", 400, "")
	got = cols(getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 1}).Columns, false)
	if fmt.Sprint(got) != "[likes=1 title=first views=3]" {
		t.Fatalf("failed update changed the row: %v", got)
	}

	// Only incremented columns may be returned.
	u = &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk}
	u.IncrementColumn("views", 1)
	u.PutColumn("title", "x")
	u.SetReturnIncrementValue()
	u.AppendIncrementColumnToReturn("title")
	_, err = update(c, u)
	wantErr(t, err, "OTSParameterInvalid", 400, "")

	// UpdateRow with only deletions does not create a missing row.
	u = &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk1("id", int64(2))}
	u.DeleteColumn("anything")
	must[*tablestore.UpdateRowResponse](t)(update(c, u))
	if g := getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("id", int64(2)), MaxVersion: 1}); g.PrimaryKey.PrimaryKeys != nil {
		t.Fatalf("delete-only update created a row: %v", g.PrimaryKey)
	}

	// DeleteRow removes the row; deleting a missing row with IGNORE succeeds.
	for range 2 {
		d := &tablestore.DeleteRowChange{TableName: name, PrimaryKey: pk}
		d.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
		res := must[*tablestore.DeleteRowResponse](t)(c.DeleteRow(&tablestore.DeleteRowRequest{DeleteRowChange: d}))
		if res.ConsumedCapacityUnit.Write < 1 {
			t.Fatalf("delete consumed %+v", res.ConsumedCapacityUnit)
		}
	}
	if g := getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 1}); g.PrimaryKey.PrimaryKeys != nil {
		t.Fatalf("deleted row still there: %v", g.Columns)
	}
}

func TestAutoIncrement(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"uid", tablestore.PrimaryKeyType_STRING, false}, {"seq", tablestore.PrimaryKeyType_INTEGER, true}}, tableOpts{})
	var last int64
	for i := range 5 {
		pk := pk1("uid", "u1")
		pk.AddPrimaryKeyColumnWithAutoIncrement("seq")
		ch := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk}
		ch.AddColumn("n", int64(i))
		ch.SetReturnPk()
		res := put(t, c, ch)
		if len(res.PrimaryKey.PrimaryKeys) != 2 || res.PrimaryKey.PrimaryKeys[0].Value != "u1" {
			t.Fatalf("returned key %v", res.PrimaryKey)
		}
		seq := res.PrimaryKey.PrimaryKeys[1].Value.(int64)
		if seq <= last {
			t.Fatalf("auto-increment %d after %d", seq, last)
		}
		last = seq
		get := pk1("uid", "u1")
		get.AddPrimaryKeyColumn("seq", seq)
		if g := getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: get, MaxVersion: 1}); fmt.Sprint(cols(g.Columns, false)) != fmt.Sprintf("[n=%d]", i) {
			t.Fatalf("row %d: %v", seq, g.Columns)
		}
	}
	// The placeholder is refused where the column is not auto-increment, and in UpdateRow.
	pk := &tablestore.PrimaryKey{}
	pk.AddPrimaryKeyColumnWithAutoIncrement("uid")
	pk.AddPrimaryKeyColumn("seq", int64(1))
	_, err := c.PutRow(&tablestore.PutRowRequest{PutRowChange: &tablestore.PutRowChange{TableName: name, PrimaryKey: pk, Condition: &tablestore.RowCondition{}}})
	wantErr(t, err, "OTSParameterInvalid", 400, "")
	pk = pk1("uid", "u1")
	pk.AddPrimaryKeyColumnWithAutoIncrement("seq")
	u := &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk}
	u.PutColumn("n", int64(1))
	_, err = update(c, u)
	wantErr(t, err, "OTSParameterInvalid", 400, "")
}

func TestPrimaryKeyValidation(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"PK1", tablestore.PrimaryKeyType_STRING, false}, {"PK2", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{})
	cases := []struct {
		pk  *tablestore.PrimaryKey
		msg string
	}{
		{pk1("PK1", "blah"), "Validate PK size fail. Input: 1, Meta: 2."},
		{func() *tablestore.PrimaryKey { p := pk1("PK2", int64(1)); p.AddPrimaryKeyColumn("PK1", "x"); return p }(), "Validate PK name fail. Input: PK2, Meta: PK1."},
		{func() *tablestore.PrimaryKey {
			p := pk1("PK1", int64(1))
			p.AddPrimaryKeyColumn("PK2", int64(1))
			return p
		}(), "Validate PK type fail. Input: VT_INTEGER, Meta: VT_STRING."},
		{func() *tablestore.PrimaryKey {
			p := pk1("PK1", "a")
			p.AddPrimaryKeyColumn("PK2", int64(1))
			p.AddPrimaryKeyColumn("PK3", "x")
			return p
		}(), "Validate PK size fail. Input: 3, Meta: 2."},
	}
	for _, tc := range cases {
		ch := &tablestore.PutRowChange{TableName: name, PrimaryKey: tc.pk}
		ch.AddColumn("c", "v")
		ch.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
		_, err := c.PutRow(&tablestore.PutRowRequest{PutRowChange: ch})
		wantErr(t, err, "OTSInvalidPK", 400, tc.msg)
		_, err = c.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: tc.pk, MaxVersion: 1}})
		wantErr(t, err, "OTSInvalidPK", 400, tc.msg)
		d := &tablestore.DeleteRowChange{TableName: name, PrimaryKey: tc.pk}
		d.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
		_, err = c.DeleteRow(&tablestore.DeleteRowRequest{DeleteRowChange: d})
		wantErr(t, err, "OTSInvalidPK", 400, tc.msg)
	}
	// Infinite values are only for range bounds.
	pk := &tablestore.PrimaryKey{}
	pk.AddPrimaryKeyColumnWithMinValue("PK1")
	pk.AddPrimaryKeyColumn("PK2", int64(1))
	_, err := c.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 1}})
	wantErr(t, err, "OTSParameterInvalid", 400, "VT_INF_MIN is an invalid type for the primary key.")
}

func TestWriteLimits(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"pk_0", tablestore.PrimaryKeyType_STRING, false}}, tableOpts{})
	putOne := func(pkv string, fill func(ch *tablestore.PutRowChange)) error {
		ch := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("pk_0", pkv)}
		fill(ch)
		ch.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
		_, err := c.PutRow(&tablestore.PutRowRequest{PutRowChange: ch})
		return err
	}
	wantErr(t, putOne(strings.Repeat("k", 1025), func(ch *tablestore.PutRowChange) {}), "OTSParameterInvalid", 400,
		"The length of primary key column: 'pk_0' exceeds the MaxLength:1024 with CurrentLength:1025.")
	if err := putOne(strings.Repeat("k", 1024), func(ch *tablestore.PutRowChange) {}); err != nil {
		t.Fatalf("1024-byte key refused: %v", err)
	}
	wantErr(t, putOne("a", func(ch *tablestore.PutRowChange) { ch.AddColumn("attr", strings.Repeat("v", 2<<20+1)) }), "OTSParameterInvalid", 400,
		"The length of attribute column: 'attr' exceeds the MaxLength:2097152 with CurrentLength:2097153.")
	wantErr(t, putOne("a", func(ch *tablestore.PutRowChange) {
		for i := range 1025 {
			ch.AddColumn(fmt.Sprintf("attr_%06d", i), int64(i))
		}
	}), "OTSParameterInvalid", 400, "The number of attribute columns exceeds the limit, limit count: 1024, column count: 1025.")
	if err := putOne("a", func(ch *tablestore.PutRowChange) {
		for i := range 1024 {
			ch.AddColumn(fmt.Sprintf("attr_%06d", i), int64(i))
		}
	}); err != nil {
		t.Fatalf("1024 columns refused: %v", err)
	}
	wantErr(t, putOne("a", func(ch *tablestore.PutRowChange) { ch.AddColumnWithTimestamp("c", int64(1), math.MaxInt64/1000) }), "OTSParameterInvalid", 400,
		"Timestamp must be in range [0, INT64_MAX/1000).")
	// Outside deviation_cell_version_in_sec (default one day) from now.
	wantErr(t, putOne("a", func(ch *tablestore.PutRowChange) {
		ch.AddColumnWithTimestamp("c", int64(1), time.Now().Add(-48*time.Hour).UnixMilli())
	}), "OTSParameterInvalid", 400, "")
	for _, bad := range []string{"#abc", strings.Repeat("a", 256)} {
		wantErr(t, putOne("a", func(ch *tablestore.PutRowChange) { ch.AddColumn(bad, int64(1)) }), "OTSParameterInvalid", 400, fmt.Sprintf("Invalid column name: '%s'.", bad))
	}
	if err := putOne("a", func(ch *tablestore.PutRowChange) { ch.AddColumn("公司", int64(1)); ch.AddColumn("a b.c", int64(1)) }); err != nil {
		t.Fatalf("valid column names refused: %v", err)
	}
	// An attribute column may not take a primary-key column's name.
	wantErr(t, putOne("pkname", func(ch *tablestore.PutRowChange) { ch.AddColumn("pk_0", "x") }), "OTSParameterInvalid", 400, "")
	pkNamed := &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk1("pk_0", "pkname")}
	pkNamed.PutColumn("pk_0", int64(1))
	pkNamed.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	_, err := c.UpdateRow(&tablestore.UpdateRowRequest{UpdateRowChange: pkNamed})
	wantErr(t, err, "OTSParameterInvalid", 400, "")
	batch := &tablestore.BatchWriteRowRequest{}
	ok := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("pk_0", "pkname-ok")}
	ok.AddColumn("v", int64(1))
	ok.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	batch.AddRowChange(ok)
	batch.AddRowChange(pkNamed)
	_, err = c.BatchWriteRow(batch)
	wantErr(t, err, "OTSParameterInvalid", 400, "") // the whole batch
	for _, k := range []string{"pkname", "pkname-ok"} {
		if g := getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("pk_0", k), MaxVersion: 1}); g.PrimaryKey.PrimaryKeys != nil {
			t.Fatalf("row %s written by a refused request", k)
		}
	}
	q := &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("pk_0", "a"), MaxVersion: 1}
	for i := range 1025 {
		q.AddColumnToGet(fmt.Sprintf("attr_%06d", i))
	}
	_, err = c.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: q})
	wantErr(t, err, "OTSParameterInvalid", 400, "The number of columns from the request exceeds the limit, limit count: 1024, column count: 1025.")
	u := &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk1("pk_0", "a")}
	u.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	_, err = c.UpdateRow(&tablestore.UpdateRowRequest{UpdateRowChange: u})
	wantErr(t, err, "OTSParameterInvalid", 400, "Attribute column is missing.")
}
