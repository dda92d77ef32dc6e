package otsemu

import (
	"bytes"
	"cmp"
	"math"
	"math/rand/v2"
	"testing"

	"vodfc.dev/local/otsemu/plainbuffer"
)

// refCompare orders primary keys as Tablestore does: column by column, INF_MIN below and
// INF_MAX above every value, integers numerically, strings and binaries bytewise. A bound
// stops at its first infinity.
func refCompare(a, b []plainbuffer.Value) int {
	rank := func(v plainbuffer.Value) int {
		switch v.Type {
		case plainbuffer.TypeInfMin:
			return -1
		case plainbuffer.TypeInfMax:
			return 1
		}
		return 0
	}
	for i := range a {
		ra, rb := rank(a[i]), rank(b[i])
		if ra != rb || ra != 0 {
			return cmp.Compare(ra, rb)
		}
		var c int
		if a[i].Type == plainbuffer.TypeInteger {
			c = cmp.Compare(a[i].Int, b[i].Int)
		} else {
			c = bytes.Compare(a[i].Bytes, b[i].Bytes)
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func TestKeyEncodingPreservesOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	types := []plainbuffer.Type{plainbuffer.TypeString, plainbuffer.TypeInteger, plainbuffer.TypeBlob}
	ints := []int64{math.MinInt64, -1, 0, 1, 255, 256, math.MaxInt64}
	strs := [][]byte{{}, {0}, {0, 0}, {0, 1}, {0, 0xff}, {1}, {'a'}, {'a', 0}, {'a', 0, 0}, {'a', 1}, {'a', 'b'}, {0xff}, {0xff, 0}}
	value := func(typ plainbuffer.Type, bound bool) plainbuffer.Value {
		if bound && rng.IntN(5) == 0 {
			if rng.IntN(2) == 0 {
				return plainbuffer.InfMin()
			}
			return plainbuffer.InfMax()
		}
		if typ == plainbuffer.TypeInteger {
			return plainbuffer.Integer(ints[rng.IntN(len(ints))])
		}
		return plainbuffer.Value{Type: typ, Bytes: strs[rng.IntN(len(strs))]}
	}
	for range 200000 {
		n := 1 + rng.IntN(3)
		bound := rng.IntN(2) == 0
		a, b := make([]plainbuffer.Value, n), make([]plainbuffer.Value, n)
		for i := range n {
			a[i], b[i] = value(types[i], bound), value(types[i], bound)
		}
		enc := func(pk []plainbuffer.Value) []byte {
			if bound {
				return boundKey(pk)
			}
			return appendKey(nil, pk)
		}
		if got, want := bytes.Compare(enc(a), enc(b)), refCompare(a, b); got != want {
			t.Fatalf("%v vs %v: encoded order %d, Tablestore order %d", a, b, got, want)
		}
	}
}
