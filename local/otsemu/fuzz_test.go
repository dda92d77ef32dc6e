package otsemu_test

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
	pb "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore/otsprotocol"
	"github.com/golang/protobuf/proto"

	"vodfc.dev/local/otsemu"
)

// fuzzActions are the actions the fuzzer addresses, with their response messages.
var fuzzActions = []struct {
	name string
	resp func() proto.Message
}{
	{"CreateTable", func() proto.Message { return &pb.CreateTableResponse{} }},
	{"ListTable", func() proto.Message { return &pb.ListTableResponse{} }},
	{"DescribeTable", func() proto.Message { return &pb.DescribeTableResponse{} }},
	{"UpdateTable", func() proto.Message { return &pb.UpdateTableResponse{} }},
	{"DeleteTable", func() proto.Message { return &pb.DeleteTableResponse{} }},
	{"PutRow", func() proto.Message { return &pb.PutRowResponse{} }},
	{"GetRow", func() proto.Message { return &pb.GetRowResponse{} }},
	{"UpdateRow", func() proto.Message { return &pb.UpdateRowResponse{} }},
	{"DeleteRow", func() proto.Message { return &pb.DeleteRowResponse{} }},
	{"BatchGetRow", func() proto.Message { return &pb.BatchGetRowResponse{} }},
	{"BatchWriteRow", func() proto.Message { return &pb.BatchWriteRowResponse{} }},
	{"GetRange", func() proto.Message { return &pb.GetRangeResponse{} }},
}

// recorder keeps the bodies the real SDK sends, to seed the fuzzer with valid requests.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []struct {
		action int
		body   []byte
	}
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	for i, a := range fuzzActions {
		if req.URL.Path == "/"+a.name {
			r.mu.Lock()
			r.reqs = append(r.reqs, struct {
				action int
				body   []byte
			}{i, body})
			r.mu.Unlock()
		}
	}
	return r.next.RoundTrip(req)
}

// seedScenario drives every operation once through the SDK.
func seedScenario(tb testing.TB, c *tablestore.TableStoreClient) {
	meta := &tablestore.TableMeta{TableName: "fz"}
	meta.AddPrimaryKeyColumn("id", tablestore.PrimaryKeyType_STRING)
	meta.AddPrimaryKeyColumnOption("seq", tablestore.PrimaryKeyType_INTEGER, tablestore.AUTO_INCREMENT)
	c.CreateTable(&tablestore.CreateTableRequest{TableMeta: meta, TableOption: &tablestore.TableOption{TimeToAlive: -1, MaxVersion: 3}, ReservedThroughput: &tablestore.ReservedThroughput{}})
	c.ListTable()
	c.DescribeTable(&tablestore.DescribeTableRequest{TableName: "fz"})
	c.UpdateTable(&tablestore.UpdateTableRequest{TableName: "fz", TableOption: &tablestore.TableOption{TimeToAlive: 86400, MaxVersion: 2}})
	pk := pk1("id", "a")
	pk.AddPrimaryKeyColumnWithAutoIncrement("seq")
	p := &tablestore.PutRowChange{TableName: "fz", PrimaryKey: pk}
	p.AddColumn("s", "x")
	p.AddColumn("n", int64(1))
	p.AddColumn("b", true)
	p.AddColumn("d", 1.5)
	p.AddColumn("bin", []byte{1})
	p.SetReturnPk()
	p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	p.SetColumnCondition(or(cond("n", tablestore.CT_EQUAL, int64(1), false, true), not(cond("s", tablestore.CT_LESS_THAN, "z", true, false))))
	res, _ := c.PutRow(&tablestore.PutRowRequest{PutRowChange: p})
	key := pk1("id", "a")
	if res != nil && len(res.PrimaryKey.PrimaryKeys) == 2 {
		key.AddPrimaryKeyColumn("seq", res.PrimaryKey.PrimaryKeys[1].Value)
	} else {
		key.AddPrimaryKeyColumn("seq", int64(1))
	}
	u := &tablestore.UpdateRowChange{TableName: "fz", PrimaryKey: key}
	u.IncrementColumn("n", 2)
	u.PutColumn("s", "y")
	u.DeleteColumn("b")
	u.DeleteColumnWithTimestamp("d", 1)
	u.SetReturnIncrementValue()
	u.AppendIncrementColumnToReturn("n")
	u.SetCondition(tablestore.RowExistenceExpectation_EXPECT_EXIST)
	c.UpdateRow(&tablestore.UpdateRowRequest{UpdateRowChange: u})
	q := &tablestore.SingleRowQueryCriteria{TableName: "fz", PrimaryKey: key, MaxVersion: 2}
	q.AddColumnToGet("s")
	q.SetStartColumn("a")
	q.SetEndtColumn("z")
	q.SetFilter(cond("s", tablestore.CT_GREATER_EQUAL, "a", false, true))
	c.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: q})
	c.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: &tablestore.SingleRowQueryCriteria{TableName: "fz", PrimaryKey: key, TimeRange: &tablestore.TimeRange{Start: 0, End: 1 << 50}, Filter: &tablestore.PaginationFilter{Offset: 0, Limit: 1}}})
	mq := &tablestore.MultiRowQueryCriteria{TableName: "fz", MaxVersion: 1}
	mq.AddRow(key)
	mq.AddRow(pk1("id", "missing"))
	c.BatchGetRow(&tablestore.BatchGetRowRequest{MultiRowQueryCriteria: []*tablestore.MultiRowQueryCriteria{mq}})
	bw := &tablestore.BatchWriteRowRequest{}
	bw.AddRowChange(p)
	bw.AddRowChange(u)
	d := &tablestore.DeleteRowChange{TableName: "fz", PrimaryKey: key}
	d.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	bw.AddRowChange(d)
	c.BatchWriteRow(bw)
	start, end := pk1("id", "a"), pk1("id", "b")
	start.AddPrimaryKeyColumnWithMinValue("seq")
	end.AddPrimaryKeyColumnWithMaxValue("seq")
	rule := tablestore.NewSingleColumnValueRegexFilter("s", tablestore.CT_EQUAL, tablestore.NewValueTransferRule(`(\d+)`, tablestore.Variant_INTEGER), int64(1))
	c.GetRange(&tablestore.GetRangeRequest{RangeRowQueryCriteria: &tablestore.RangeRowQueryCriteria{TableName: "fz", StartPrimaryKey: start, EndPrimaryKey: end, Direction: tablestore.FORWARD, MaxVersion: 1, Limit: 10, Filter: rule}})
	c.GetRange(&tablestore.GetRangeRequest{RangeRowQueryCriteria: &tablestore.RangeRowQueryCriteria{TableName: "fz", StartPrimaryKey: end, EndPrimaryKey: start, Direction: tablestore.BACKWARD, MaxVersion: 1}})
	c.DeleteRow(&tablestore.DeleteRowRequest{DeleteRowChange: d})
	c.DeleteTable(&tablestore.DeleteTableRequest{TableName: "fz_other"})
}

// FuzzDispatch sends arbitrary, correctly signed bodies to every action. Whatever the body,
// the answer must be a well-formed success or a protobuf Error with a client-side code:
// never a panic, a hang or an internal error.
func FuzzDispatch(f *testing.F) {
	s, err := otsemu.Open(otsemu.Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Instance: testInst})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	tg := &target{endpoint: "http://otsemu.invalid", instance: testInst, keyID: testKeyID, secret: testSecret, emu: s}
	rec := &recorder{next: s.Transport()}
	tg.rt = rec
	seedScenario(f, tg.client(0))
	for _, r := range rec.reqs {
		f.Add(uint8(r.action), r.body)
	}
	f.Add(uint8(6), []byte{})
	f.Add(uint8(11), []byte{0x0a, 0x02, 'f', 'z'})
	// Recreate the table the seeds address, so inputs derived from them reach deep paths.
	seedScenario(f, tg.client(0))
	tg.rt = s.Transport()

	f.Fuzz(func(t *testing.T, action uint8, body []byte) {
		a := fuzzActions[int(action)%len(fuzzActions)]
		r := tg.raw(t, rawRequest{action: a.name, body: body})
		switch {
		case r.status == 200:
			if err := proto.Unmarshal(r.body, a.resp()); err != nil {
				t.Fatalf("%s answered 200 with a body its SDK cannot decode: %v", a.name, err)
			}
		case r.err.GetCode() == "" || r.err.GetCode() == "OTSInternalServerError" || r.status >= 500:
			t.Fatalf("%s: %d %s %s", a.name, r.status, r.err.GetCode(), r.err.GetMessage())
		}
	})
}
