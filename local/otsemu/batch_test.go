package otsemu_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
	pb "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore/otsprotocol"
	"github.com/golang/protobuf/proto"
)

func TestBatchWriteRowAcrossTables(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	a := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{})
	b := tg.newTable(t, []pkDef{{"name", tablestore.PrimaryKeyType_STRING, false}}, tableOpts{})
	for i := int64(10); i < 13; i++ {
		ch := &tablestore.PutRowChange{TableName: a, PrimaryKey: pk1("id", i)}
		ch.AddColumn("v", i)
		put(t, c, ch)
	}

	req := &tablestore.BatchWriteRowRequest{}
	p := &tablestore.PutRowChange{TableName: a, PrimaryKey: pk1("id", int64(1))}
	p.AddColumn("v", int64(1))
	p.SetCondition(tablestore.RowExistenceExpectation_EXPECT_NOT_EXIST)
	req.AddRowChange(p)
	fails := &tablestore.PutRowChange{TableName: a, PrimaryKey: pk1("id", int64(10))}
	fails.AddColumn("v", int64(0))
	fails.SetCondition(tablestore.RowExistenceExpectation_EXPECT_NOT_EXIST) // exists: fails alone
	req.AddRowChange(fails)
	u := &tablestore.UpdateRowChange{TableName: a, PrimaryKey: pk1("id", int64(11))}
	u.IncrementColumn("v", 100)
	u.SetCondition(tablestore.RowExistenceExpectation_EXPECT_EXIST)
	req.AddRowChange(u)
	d := &tablestore.DeleteRowChange{TableName: a, PrimaryKey: pk1("id", int64(12))}
	d.SetCondition(tablestore.RowExistenceExpectation_EXPECT_EXIST)
	req.AddRowChange(d)
	badPK := &tablestore.PutRowChange{TableName: a, PrimaryKey: pk1("wrong", int64(1))}
	badPK.AddColumn("v", int64(1))
	badPK.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	req.AddRowChange(badPK)
	pb := &tablestore.PutRowChange{TableName: b, PrimaryKey: pk1("name", "x")}
	pb.AddColumn("s", "y")
	pb.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	req.AddRowChange(pb)

	res := must[*tablestore.BatchWriteRowResponse](t)(c.BatchWriteRow(req))
	var ra []string
	for _, r := range res.TableToRowsResult[a] {
		s := fmt.Sprintf("%d:%v", r.Index, r.IsSucceed)
		if !r.IsSucceed {
			s += ":" + r.Error.Code
		} else if r.ConsumedCapacityUnit.Write < 1 {
			t.Fatalf("row %d consumed %+v", r.Index, r.ConsumedCapacityUnit)
		}
		ra = append(ra, s)
	}
	if got := strings.Join(ra, " "); got != "0:true 1:false:OTSConditionCheckFail 2:true 3:true 4:false:OTSInvalidPK" {
		t.Fatalf("table a results: %s", got)
	}
	if rb := res.TableToRowsResult[b]; len(rb) != 1 || !rb[0].IsSucceed {
		t.Fatalf("table b results: %+v", rb)
	}

	// The successful rows are applied, the failed ones not.
	crit := &tablestore.MultiRowQueryCriteria{TableName: a, MaxVersion: 1}
	for _, id := range []int64{1, 10, 11, 12} {
		crit.AddRow(pk1("id", id))
	}
	critB := &tablestore.MultiRowQueryCriteria{TableName: b, MaxVersion: 1}
	critB.AddRow(pk1("name", "x"))
	got := must[*tablestore.BatchGetRowResponse](t)(c.BatchGetRow(&tablestore.BatchGetRowRequest{MultiRowQueryCriteria: []*tablestore.MultiRowQueryCriteria{crit, critB}}))
	var rows []string
	for _, r := range got.TableToRowsResult[a] {
		rows = append(rows, fmt.Sprint(cols(r.Columns, false)))
	}
	if fmt.Sprint(rows) != "[[v=1] [v=10] [v=111] []]" {
		t.Fatalf("rows after batch: %v", rows)
	}
	if rb := got.TableToRowsResult[b]; len(rb) != 1 || fmt.Sprint(cols(rb[0].Columns, false)) != "[s=y]" {
		t.Fatalf("table b after batch: %+v", rb)
	}
}

func TestBatchGetRowErrors(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	a := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{})
	ch := &tablestore.PutRowChange{TableName: a, PrimaryKey: pk1("id", int64(1))}
	ch.AddColumn("v", int64(1))
	put(t, c, ch)

	crit := &tablestore.MultiRowQueryCriteria{TableName: a, MaxVersion: 1}
	crit.AddRow(pk1("id", int64(1)))
	crit.AddRow(pk1("id", "wrong type"))
	crit.AddRow(pk1("id", int64(1))) // duplicates are allowed
	res := must[*tablestore.BatchGetRowResponse](t)(c.BatchGetRow(&tablestore.BatchGetRowRequest{MultiRowQueryCriteria: []*tablestore.MultiRowQueryCriteria{crit}}))
	rs := res.TableToRowsResult[a]
	if len(rs) != 3 || !rs[0].IsSucceed || rs[1].IsSucceed || !rs[2].IsSucceed {
		t.Fatalf("results %+v", rs)
	}
	if rs[1].Error.Code != "OTSInvalidPK" || rs[1].Error.Message != "Validate PK type fail. Input: VT_STRING, Meta: VT_INTEGER." {
		t.Fatalf("row error %+v", rs[1].Error)
	}
	if rs[0].ConsumedCapacityUnit.Read < 1 {
		t.Fatalf("consumed %+v", rs[0].ConsumedCapacityUnit)
	}

	big := &tablestore.MultiRowQueryCriteria{TableName: a, MaxVersion: 1}
	for i := range 101 {
		big.AddRow(pk1("id", int64(i)))
	}
	_, err := c.BatchGetRow(&tablestore.BatchGetRowRequest{MultiRowQueryCriteria: []*tablestore.MultiRowQueryCriteria{big}})
	wantErr(t, err, "OTSParameterInvalid", 400, "Rows count exceeds the upper limit: 100.")
	big.PrimaryKey = big.PrimaryKey[:100]
	if _, err := c.BatchGetRow(&tablestore.BatchGetRowRequest{MultiRowQueryCriteria: []*tablestore.MultiRowQueryCriteria{big}}); err != nil {
		t.Fatalf("100 rows: %v", err)
	}
	_, err = c.BatchGetRow(&tablestore.BatchGetRowRequest{})
	wantErr(t, err, "OTSParameterInvalid", 400, "No row specified in the request of BatchGetRow.")

	noVersion := tg.raw(t, rawRequest{action: "BatchGetRow", body: batchGetNoVersion(a)})
	noVersion.wantCode(t, "OTSParameterInvalid", 400)
	if noVersion.err.GetMessage() != "No version condition is specified while querying row." {
		t.Fatalf("message %q", noVersion.err.GetMessage())
	}
}

func TestBatchWriteRowLimits(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	a := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{})
	batch := func(n int, value string) error {
		req := &tablestore.BatchWriteRowRequest{}
		for i := range n {
			p := &tablestore.PutRowChange{TableName: a, PrimaryKey: pk1("id", int64(i))}
			p.AddColumn("v", value)
			p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
			req.AddRowChange(p)
		}
		_, err := c.BatchWriteRow(req)
		return err
	}
	wantErr(t, batch(201, "x"), "OTSParameterInvalid", 400, "Rows count exceeds the upper limit: 200.")
	if err := batch(200, "x"); err != nil {
		t.Fatalf("200 rows: %v", err)
	}
	// 4 rows of 1 MiB plus keys and names: just over 4 MiB of data.
	wantErr(t, batch(4, strings.Repeat("v", 1<<20)), "OTSParameterInvalid", 400,
		fmt.Sprintf("The total data size of BatchWriteRow request exceeds the limit, limit size: 4194304, data size: %d.", 4*(1<<20+len("v")+len("id")+8)))
	_, err := c.BatchWriteRow(&tablestore.BatchWriteRowRequest{})
	wantErr(t, err, "OTSParameterInvalid", 400, "No row is specified in BatchWriteRow.")
}

// Tablestore refuses a whole BatchWriteRow that changes one row twice, and writes nothing of
// it; rows with an auto-increment placeholder are new rows each, so they may repeat.
func TestBatchWriteRowSameRowTwice(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	a := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_INTEGER, false}, {"name", tablestore.PrimaryKeyType_STRING, false}}, tableOpts{})
	key := func(id int64, name string) *tablestore.PrimaryKey {
		pk := pk1("id", id)
		pk.AddPrimaryKeyColumn("name", name)
		return pk
	}
	putChange := func(pk *tablestore.PrimaryKey) *tablestore.PutRowChange {
		p := &tablestore.PutRowChange{TableName: a, PrimaryKey: pk}
		p.AddColumn("v", int64(1))
		p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
		return p
	}
	for name, second := range map[string]tablestore.RowChange{
		"put, put": putChange(key(1, "x")),
		"put, update": func() tablestore.RowChange {
			u := &tablestore.UpdateRowChange{TableName: a, PrimaryKey: key(1, "x")}
			u.PutColumn("w", int64(2))
			u.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
			return u
		}(),
		"put, delete": func() tablestore.RowChange {
			d := &tablestore.DeleteRowChange{TableName: a, PrimaryKey: key(1, "x")}
			d.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
			return d
		}(),
	} {
		req := &tablestore.BatchWriteRowRequest{}
		req.AddRowChange(putChange(key(2, "untouched")))
		req.AddRowChange(putChange(key(1, "x")))
		req.AddRowChange(second)
		_, err := c.BatchWriteRow(req)
		wantErr(t, err, "OTSParameterInvalid", 400, "")
		if g := getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: a, PrimaryKey: key(2, "untouched"), MaxVersion: 1}); len(g.Columns) != 0 {
			t.Fatalf("%s: a refused batch wrote a row", name)
		}
	}
	// Keys that differ in one column are different rows.
	req := &tablestore.BatchWriteRowRequest{}
	req.AddRowChange(putChange(key(1, "x")))
	req.AddRowChange(putChange(key(1, "y")))
	req.AddRowChange(putChange(key(2, "x")))
	if _, err := c.BatchWriteRow(req); err != nil {
		t.Fatalf("distinct rows refused: %v", err)
	}

	if tg.real {
		return // the SDK groups changes by table, so only a hand-built request names one twice
	}
	p := putChange(key(3, "z"))
	body := marshal(t, &pb.BatchWriteRowRequest{Tables: []*pb.TableInBatchWriteRowRequest{
		{TableName: proto.String(a), Rows: []*pb.RowInBatchWriteRowRequest{{Type: pb.OperationType_PUT.Enum(), RowChange: p.Serialize(), Condition: &pb.Condition{RowExistence: pb.RowExistenceExpectation_IGNORE.Enum()}}}},
		{TableName: proto.String(a), Rows: []*pb.RowInBatchWriteRowRequest{{Type: pb.OperationType_PUT.Enum(), RowChange: putChange(key(4, "z")).Serialize(), Condition: &pb.Condition{RowExistence: pb.RowExistenceExpectation_IGNORE.Enum()}}}},
	}})
	tg.raw(t, rawRequest{action: "BatchWriteRow", body: body}).wantCode(t, "OTSParameterInvalid", 400)

	auto := tg.newTable(t, []pkDef{{"p", tablestore.PrimaryKeyType_STRING, false}, {"seq", tablestore.PrimaryKeyType_INTEGER, true}}, tableOpts{})
	req = &tablestore.BatchWriteRowRequest{}
	for range 2 {
		pk := pk1("p", "same")
		pk.AddPrimaryKeyColumnWithAutoIncrement("seq")
		ap := &tablestore.PutRowChange{TableName: auto, PrimaryKey: pk}
		ap.AddColumn("v", int64(1))
		ap.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
		req.AddRowChange(ap)
	}
	res := must[*tablestore.BatchWriteRowResponse](t)(c.BatchWriteRow(req))
	for _, r := range res.TableToRowsResult[auto] {
		if !r.IsSucceed {
			t.Fatalf("auto-increment rows: %+v", r.Error)
		}
	}
}
