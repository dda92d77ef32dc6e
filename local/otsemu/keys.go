package otsemu

import (
	"encoding/binary"

	"vodfc.dev/local/otsemu/plainbuffer"
)

// Primary keys are stored under an order-preserving byte encoding, so the index compares rows
// with bytes.Compare and range bounds (which may hold INF_MIN/INF_MAX) are plain byte strings.
//
// Each column is a marker byte then its value: 0x01 for a value, 0x00 for INF_MIN and 0x02 for
// INF_MAX, so an infinite bound sorts below or above every value of that column whatever
// follows. Integers are big-endian with the sign bit flipped; strings and binaries escape 0x00
// as 0x00 0xFF and end with 0x00 0x01, which keeps "a" < "a\x00" < "ab".
const (
	markInfMin = 0x00
	markValue  = 0x01
	markInfMax = 0x02
)

// appendKey encodes a full primary key (no infinities).
func appendKey(b []byte, pk []plainbuffer.Value) []byte {
	for _, v := range pk {
		b = appendKeyColumn(b, v)
	}
	return b
}

func appendKeyColumn(b []byte, v plainbuffer.Value) []byte {
	switch v.Type {
	case plainbuffer.TypeInfMin:
		return append(b, markInfMin)
	case plainbuffer.TypeInfMax:
		return append(b, markInfMax)
	case plainbuffer.TypeInteger:
		b = append(b, markValue)
		return binary.BigEndian.AppendUint64(b, uint64(v.Int)^(1<<63))
	default: // STRING, BLOB
		b = append(b, markValue)
		for _, c := range v.Bytes {
			if c == 0 {
				b = append(b, 0, 0xFF)
			} else {
				b = append(b, c)
			}
		}
		return append(b, 0, 1)
	}
}

// boundKey encodes a range bound. Columns after the first infinity cannot change the order of
// the bound against any row, so they are left out.
func boundKey(pk []plainbuffer.Value) []byte {
	var b []byte
	for _, v := range pk {
		b = appendKeyColumn(b, v)
		if v.IsInf() {
			break
		}
	}
	return b
}
