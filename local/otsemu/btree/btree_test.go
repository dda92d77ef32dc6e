package btree

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func key(i int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(i)) }

// check verifies the B-tree invariants: sorted keys, node sizes, uniform leaf depth, and that
// the count matches.
func (t *Tree[V]) check(tb testing.TB) {
	tb.Helper()
	if t.root == nil {
		if t.n != 0 {
			tb.Fatalf("empty tree with n=%d", t.n)
		}
		return
	}
	leafDepth := -1
	count := 0
	var prev []byte
	var walk func(n *node[V], depth int, isRoot bool)
	walk = func(n *node[V], depth int, isRoot bool) {
		if !isRoot && (len(n.items) < minItems || len(n.items) > maxItems) {
			tb.Fatalf("node with %d items at depth %d", len(n.items), depth)
		}
		if len(n.children) == 0 {
			if leafDepth == -1 {
				leafDepth = depth
			} else if leafDepth != depth {
				tb.Fatalf("leaves at depths %d and %d", leafDepth, depth)
			}
		} else if len(n.children) != len(n.items)+1 {
			tb.Fatalf("%d items but %d children", len(n.items), len(n.children))
		}
		for i := range n.items {
			if len(n.children) > 0 {
				walk(n.children[i], depth+1, false)
			}
			if prev != nil && bytes.Compare(prev, n.items[i].key) >= 0 {
				tb.Fatalf("keys out of order: %x then %x", prev, n.items[i].key)
			}
			prev = n.items[i].key
			count++
		}
		if len(n.children) > 0 {
			walk(n.children[len(n.items)], depth+1, false)
		}
	}
	walk(t.root, 0, true)
	if count != t.n {
		tb.Fatalf("counted %d keys, Len says %d", count, t.n)
	}
}

func TestRandomOperationsMatchAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, space := range []int{10, 300, 5000} {
		var tr Tree[int]
		ref := map[int]int{}
		for op := range 40000 {
			k := rng.IntN(space)
			switch rng.IntN(3) {
			case 0, 1:
				prev, replaced := tr.Set(key(k), op)
				want, had := ref[k]
				if replaced != had || (had && prev != want) {
					t.Fatalf("Set(%d) = %d,%v want %d,%v", k, prev, replaced, want, had)
				}
				ref[k] = op
			case 2:
				prev, ok := tr.Delete(key(k))
				want, had := ref[k]
				if ok != had || (had && prev != want) {
					t.Fatalf("Delete(%d) = %d,%v want %d,%v", k, prev, ok, want, had)
				}
				delete(ref, k)
			}
			if op%997 == 0 {
				tr.check(t)
				compareScans(t, &tr, ref, rng.IntN(space+2))
			}
		}
		tr.check(t)
		for k, v := range ref {
			if got, ok := tr.Get(key(k)); !ok || got != v {
				t.Fatalf("Get(%d) = %d,%v want %d", k, got, ok, v)
			}
		}
		// Drain completely: the tree must end empty and valid.
		for k := range ref {
			if _, ok := tr.Delete(key(k)); !ok {
				t.Fatalf("Delete(%d) missed", k)
			}
		}
		tr.check(t)
		if tr.Len() != 0 || tr.root != nil {
			t.Fatalf("drained tree has Len %d", tr.Len())
		}
	}
}

// compareScans checks Ascend/Descend from pivot (and from nil) against the sorted reference.
func compareScans(t *testing.T, tr *Tree[int], ref map[int]int, pivot int) {
	t.Helper()
	keys := make([]int, 0, len(ref))
	for k := range ref {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var asc, desc, all []int
	tr.Ascend(key(pivot), func(k []byte, v int) bool {
		asc = append(asc, int(binary.BigEndian.Uint32(k)))
		return true
	})
	tr.Descend(key(pivot), func(k []byte, v int) bool {
		desc = append(desc, int(binary.BigEndian.Uint32(k)))
		return true
	})
	tr.Ascend(nil, func(k []byte, v int) bool {
		all = append(all, int(binary.BigEndian.Uint32(k)))
		return true
	})
	var wantAsc, wantDesc []int
	for _, k := range keys {
		if k >= pivot {
			wantAsc = append(wantAsc, k)
		}
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i] <= pivot {
			wantDesc = append(wantDesc, keys[i])
		}
	}
	if fmt.Sprint(asc) != fmt.Sprint(wantAsc) || fmt.Sprint(desc) != fmt.Sprint(wantDesc) || fmt.Sprint(all) != fmt.Sprint(keys) {
		t.Fatalf("scans from %d differ:\nasc  %v\nwant %v\ndesc %v\nwant %v", pivot, asc, wantAsc, desc, wantDesc)
	}
}

func TestScanStopsEarly(t *testing.T) {
	var tr Tree[int]
	for i := range 1000 {
		tr.Set(key(i), i)
	}
	var got []int
	tr.Ascend(key(500), func(_ []byte, v int) bool { got = append(got, v); return len(got) < 3 })
	if fmt.Sprint(got) != "[500 501 502]" {
		t.Fatalf("ascend: %v", got)
	}
	got = nil
	tr.Descend(key(500), func(_ []byte, v int) bool { got = append(got, v); return len(got) < 3 })
	if fmt.Sprint(got) != "[500 499 498]" {
		t.Fatalf("descend: %v", got)
	}
	got = nil
	tr.Descend(nil, func(_ []byte, v int) bool { got = append(got, v); return len(got) < 2 })
	if fmt.Sprint(got) != "[999 998]" {
		t.Fatalf("descend from end: %v", got)
	}
}

func BenchmarkSet(b *testing.B) {
	var tr Tree[int]
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; b.Loop(); i++ {
		tr.Set(key(rng.IntN(1<<20)), i)
	}
}

func BenchmarkGet(b *testing.B) {
	var tr Tree[int]
	for i := range 100000 {
		tr.Set(key(i), i)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for b.Loop() {
		tr.Get(key(rng.IntN(100000)))
	}
}
