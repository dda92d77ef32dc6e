package plainbuffer_test

import (
	"bytes"
	"testing"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"

	"vodfc.dev/local/otsemu/plainbuffer"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must return rows or an error, never
// panic or loop, and whatever it accepts must survive a re-encode unchanged.
func FuzzDecode(f *testing.F) {
	pk := &tablestore.PrimaryKey{}
	pk.AddPrimaryKeyColumn("id", "abc")
	pk.AddPrimaryKeyColumn("n", int64(7))
	f.Add(pk.Build(false))
	f.Add(pk.Build(true))
	ch := &tablestore.UpdateRowChange{TableName: "t", PrimaryKey: pk}
	ch.PutColumn("s", "text")
	ch.PutColumn("d", 2.5)
	ch.PutColumn("b", true)
	ch.PutColumn("bin", []byte{1, 2})
	ch.IncrementColumn("views", 1)
	ch.DeleteColumn("x")
	ch.DeleteColumnWithTimestamp("y", 99)
	f.Add(ch.Serialize())
	f.Add(plainbuffer.Encode(
		plainbuffer.Row{PrimaryKey: []plainbuffer.Cell{{Name: "k", Value: plainbuffer.InfMin(), HasValue: true}}},
		plainbuffer.Row{PrimaryKey: []plainbuffer.Cell{{Name: "k", Value: plainbuffer.InfMax(), HasValue: true}}},
	))
	f.Add([]byte{0x75, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := plainbuffer.Decode(b)
		if err != nil {
			return
		}
		again := plainbuffer.Encode(rows...)
		rows2, err := plainbuffer.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded buffer does not decode: %v", err)
		}
		if !bytes.Equal(plainbuffer.Encode(rows2...), again) {
			t.Fatal("encode/decode is not stable")
		}
	})
}

// FuzzDecodeValue covers the unprefixed value form used by filters.
func FuzzDecodeValue(f *testing.F) {
	f.Add(plainbuffer.AppendValue(nil, plainbuffer.String("x")))
	f.Add(plainbuffer.AppendValue(nil, plainbuffer.Integer(-1)))
	f.Add([]byte{7, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := plainbuffer.DecodeValue(b)
		if err != nil {
			return
		}
		if back, err := plainbuffer.DecodeValue(plainbuffer.AppendValue(nil, v)); err != nil || !back.Equal(v) {
			t.Fatalf("value %+v does not round-trip: %v", v, err)
		}
	})
}
