package plainbuffer_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
	pb "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore/otsprotocol"
	"github.com/golang/protobuf/proto"

	"vodfc.dev/local/otsemu/plainbuffer"
)

// sdkPK is one primary-key column in both vocabularies.
type sdkPK struct {
	name   string
	sdk    any // int64, string, []byte, or nil with opt set
	opt    tablestore.PrimaryKeyOption
	ours   plainbuffer.Value
	noTest bool
}

var pkCases = []sdkPK{
	{name: "id", sdk: int64(42), ours: plainbuffer.Integer(42)},
	{name: "neg", sdk: int64(math.MinInt64), ours: plainbuffer.Integer(math.MinInt64)},
	{name: "s", sdk: "hello", ours: plainbuffer.String("hello")},
	{name: "empty", sdk: "", ours: plainbuffer.String("")},
	{name: "cjk", sdk: "弹幕视频", ours: plainbuffer.String("弹幕视频")},
	{name: "bin", sdk: []byte{0, 1, 2, 0xff}, ours: plainbuffer.Blob([]byte{0, 1, 2, 0xff})},
	{name: "emptybin", sdk: []byte{}, ours: plainbuffer.Blob([]byte{})},
	{name: "min", opt: tablestore.MIN, ours: plainbuffer.InfMin()},
	{name: "max", opt: tablestore.MAX, ours: plainbuffer.InfMax()},
	{name: "auto", opt: tablestore.AUTO_INCREMENT, ours: plainbuffer.AutoIncrement()},
}

func (c sdkPK) sdkColumn() *tablestore.PrimaryKeyColumn {
	return &tablestore.PrimaryKeyColumn{ColumnName: c.name, Value: c.sdk, PrimaryKeyOption: c.opt}
}

func (c sdkPK) cell() plainbuffer.Cell {
	return plainbuffer.Cell{Name: c.name, Value: c.ours, HasValue: true}
}

// attrCases are attribute values of every type in both vocabularies.
var attrCases = []struct {
	sdk  any
	ours plainbuffer.Value
}{
	{int64(0), plainbuffer.Integer(0)},
	{int64(-7), plainbuffer.Integer(-7)},
	{int64(math.MaxInt64), plainbuffer.Integer(math.MaxInt64)},
	{3.14, plainbuffer.Double(3.14)},
	{math.Inf(-1), plainbuffer.Double(math.Inf(-1))},
	{true, plainbuffer.Boolean(true)},
	{false, plainbuffer.Boolean(false)},
	{"", plainbuffer.String("")},
	{"标题 title", plainbuffer.String("标题 title")},
	{[]byte{}, plainbuffer.Blob([]byte{})},
	{bytes.Repeat([]byte{0xAB}, 300), plainbuffer.Blob(bytes.Repeat([]byte{0xAB}, 300))},
}

func TestPrimaryKeyMatchesSDK(t *testing.T) {
	for _, isDelete := range []bool{false, true} {
		// Every single column, then all columns together (more than 4 is fine for the codec).
		sets := [][]sdkPK{}
		for _, c := range pkCases {
			sets = append(sets, []sdkPK{c})
		}
		sets = append(sets, pkCases, nil)
		for _, set := range sets {
			pk := &tablestore.PrimaryKey{}
			row := plainbuffer.Row{DeleteMarker: isDelete}
			for _, c := range set {
				pk.PrimaryKeys = append(pk.PrimaryKeys, c.sdkColumn())
				row.PrimaryKey = append(row.PrimaryKey, c.cell())
			}
			want := pk.Build(isDelete)
			got := plainbuffer.Encode(row)
			if !bytes.Equal(got, want) {
				t.Fatalf("pk %v delete=%v:\n got %x\nwant %x", set, isDelete, got, want)
			}
			back, err := plainbuffer.DecodeRow(want)
			if err != nil {
				t.Fatalf("decode SDK bytes: %v", err)
			}
			if !sameRow(back, row) {
				t.Fatalf("decoded %+v, want %+v", back, row)
			}
		}
	}
}

func TestPutChangeMatchesSDK(t *testing.T) {
	for i, a := range attrCases {
		for _, ts := range []int64{0, 1700000000123} {
			ch := &tablestore.PutRowChange{TableName: "t", PrimaryKey: &tablestore.PrimaryKey{}}
			ch.PrimaryKey.AddPrimaryKeyColumn("id", int64(i))
			ch.PrimaryKey.AddPrimaryKeyColumnWithAutoIncrement("seq")
			row := plainbuffer.Row{PrimaryKey: []plainbuffer.Cell{
				{Name: "id", Value: plainbuffer.Integer(int64(i)), HasValue: true},
				{Name: "seq", Value: plainbuffer.AutoIncrement(), HasValue: true},
			}}
			cell := plainbuffer.Cell{Name: "col", Value: a.ours, HasValue: true}
			if ts != 0 {
				ch.AddColumnWithTimestamp("col", a.sdk, ts)
				cell.Timestamp, cell.HasTimestamp = ts, true
			} else {
				ch.AddColumn("col", a.sdk)
			}
			ch.AddColumn("second", "x")
			row.Cells = []plainbuffer.Cell{cell, {Name: "second", Value: plainbuffer.String("x"), HasValue: true}}
			want := ch.Serialize()
			if got := plainbuffer.Encode(row); !bytes.Equal(got, want) {
				t.Fatalf("put %v ts=%d:\n got %x\nwant %x", a.sdk, ts, got, want)
			}
			back, err := plainbuffer.DecodeRow(want)
			if err != nil || !sameRow(back, row) {
				t.Fatalf("decode put %v: %v %+v", a.sdk, err, back)
			}
		}
	}
}

func TestUpdateChangeMatchesSDK(t *testing.T) {
	ch := &tablestore.UpdateRowChange{TableName: "t", PrimaryKey: &tablestore.PrimaryKey{}}
	ch.PrimaryKey.AddPrimaryKeyColumn("vid", "v1")
	ch.PrimaryKey.AddPrimaryKeyColumn("bin", []byte{9})
	row := plainbuffer.Row{PrimaryKey: []plainbuffer.Cell{
		{Name: "vid", Value: plainbuffer.String("v1"), HasValue: true},
		{Name: "bin", Value: plainbuffer.Blob([]byte{9}), HasValue: true},
	}}
	for i, a := range attrCases {
		name := string(rune('a' + i))
		ch.PutColumn(name, a.sdk)
		row.Cells = append(row.Cells, plainbuffer.Cell{Name: name, Value: a.ours, HasValue: true})
	}
	ch.DeleteColumn("gone")
	row.Cells = append(row.Cells, plainbuffer.Cell{Name: "gone", Op: plainbuffer.OpDeleteAll, HasOp: true})
	ch.DeleteColumnWithTimestamp("old", 1234567)
	row.Cells = append(row.Cells, plainbuffer.Cell{Name: "old", Op: plainbuffer.OpDeleteOne, HasOp: true, Timestamp: 1234567, HasTimestamp: true})
	ch.IncrementColumn("views", -3)
	row.Cells = append(row.Cells, plainbuffer.Cell{Name: "views", Value: plainbuffer.Integer(-3), HasValue: true, Op: plainbuffer.OpIncrement, HasOp: true})

	want := ch.Serialize()
	if got := plainbuffer.Encode(row); !bytes.Equal(got, want) {
		t.Fatalf("update:\n got %x\nwant %x", got, want)
	}
	back, err := plainbuffer.DecodeRow(want)
	if err != nil || !sameRow(back, row) {
		t.Fatalf("decode update: %v\n got %+v\nwant %+v", err, back, row)
	}
	del := &tablestore.DeleteRowChange{TableName: "t", PrimaryKey: ch.PrimaryKey}
	row.Cells, row.DeleteMarker = nil, true
	if got := plainbuffer.Encode(row); !bytes.Equal(got, del.Serialize()) {
		t.Fatalf("delete:\n got %x\nwant %x", got, del.Serialize())
	}
}

// TestFilterValueMatchesSDK compares the unprefixed value form that filters carry.
func TestFilterValueMatchesSDK(t *testing.T) {
	for _, a := range attrCases {
		cond := tablestore.NewSingleColumnCondition("c", tablestore.CT_EQUAL, a.sdk)
		var f pb.Filter
		if err := proto.Unmarshal(cond.Serialize(), &f); err != nil {
			t.Fatal(err)
		}
		var single pb.SingleColumnValueFilter
		if err := proto.Unmarshal(f.Filter, &single); err != nil {
			t.Fatal(err)
		}
		got := plainbuffer.AppendValue(nil, a.ours)
		if !bytes.Equal(got, single.ColumnValue) {
			t.Fatalf("filter value %v: got %x want %x", a.sdk, got, single.ColumnValue)
		}
		v, err := plainbuffer.DecodeValue(single.ColumnValue)
		if err != nil || !v.Equal(a.ours) {
			t.Fatalf("DecodeValue(%x) = %+v, %v", single.ColumnValue, v, err)
		}
	}
}

// TestMultiRowRoundTrip covers buffers with many rows, as GetRange responses carry them.
func TestMultiRowRoundTrip(t *testing.T) {
	var rows []plainbuffer.Row
	for i, a := range attrCases {
		rows = append(rows, plainbuffer.Row{
			PrimaryKey: []plainbuffer.Cell{{Name: "k", Value: plainbuffer.Integer(int64(i)), HasValue: true}},
			Cells: []plainbuffer.Cell{
				{Name: "v", Value: a.ours, HasValue: true, Timestamp: int64(1000 + i), HasTimestamp: true},
				{Name: "v", Value: a.ours, HasValue: true, Timestamp: int64(999), HasTimestamp: true},
			},
		})
	}
	b := plainbuffer.Encode(rows...)
	back, err := plainbuffer.Decode(b)
	if err != nil || len(back) != len(rows) {
		t.Fatalf("decode: %v, %d rows", err, len(back))
	}
	for i := range rows {
		if !sameRow(back[i], rows[i]) {
			t.Fatalf("row %d: got %+v want %+v", i, back[i], rows[i])
		}
	}
}

// TestCorruptionIsRejected flips every byte of a valid buffer: each variant must be rejected
// (a checksum, a tag or a length catches it) and none may panic.
func TestCorruptionIsRejected(t *testing.T) {
	ch := &tablestore.UpdateRowChange{TableName: "t", PrimaryKey: &tablestore.PrimaryKey{}}
	ch.PrimaryKey.AddPrimaryKeyColumn("id", "abc")
	ch.PutColumn("title", "a title")
	ch.IncrementColumn("n", 1)
	ch.DeleteColumnWithTimestamp("x", 77)
	good := ch.Serialize()
	if _, err := plainbuffer.Decode(good); err != nil {
		t.Fatal(err)
	}
	checksumCaught := 0
	for i := range good {
		for _, delta := range []byte{1, 0x80} {
			bad := bytes.Clone(good)
			bad[i] ^= delta
			_, err := plainbuffer.Decode(bad)
			if err == nil {
				t.Fatalf("flipping byte %d by %#x was not detected", i, delta)
			}
			if errors.Is(err, plainbuffer.ErrChecksum) {
				checksumCaught++
			}
		}
	}
	if checksumCaught == 0 {
		t.Fatal("no corruption was caught by a checksum")
	}
	for n := range len(good) {
		if _, err := plainbuffer.Decode(good[:n]); err == nil {
			t.Fatalf("truncation to %d bytes was not detected", n)
		}
	}
	if _, err := plainbuffer.Decode(append(bytes.Clone(good), 0x42)); err == nil {
		t.Fatal("trailing garbage was not detected")
	}
}

func sameRow(a, b plainbuffer.Row) bool {
	return bytes.Equal(plainbuffer.Encode(a), plainbuffer.Encode(b)) &&
		len(a.PrimaryKey) == len(b.PrimaryKey) && len(a.Cells) == len(b.Cells)
}
