// Package btree owns the ordered in-memory index of one emulated table: a B-tree mapping byte
// keys (compared with bytes.Compare) to values, with point lookups, inserts, deletes and
// ordered scans in both directions from any key.
//
// A Tree is not safe for concurrent use; the table that owns it serialises writers and lets
// readers share it under a read lock.
package btree

import "bytes"

// degree fixes the node size: every node but the root holds degree-1 .. 2*degree-1 items.
// 32 keeps nodes a few cache lines wide and trees shallow (3 levels for ~250k rows).
const degree = 32

const (
	maxItems = 2*degree - 1
	minItems = degree - 1
)

type item[V any] struct {
	key []byte
	val V
}

type node[V any] struct {
	items    []item[V]
	children []*node[V] // empty for leaves, else len(items)+1
}

// Tree is an ordered map from []byte to V. The zero value is an empty tree.
type Tree[V any] struct {
	root *node[V]
	n    int
}

// Len returns the number of keys.
func (t *Tree[V]) Len() int { return t.n }

// search returns the first index whose key is >= key, and whether it is equal.
func (n *node[V]) search(key []byte) (int, bool) {
	lo, hi := 0, len(n.items)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(n.items[m].key, key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(n.items) && bytes.Equal(n.items[lo].key, key)
}

// Get returns the value stored under key.
func (t *Tree[V]) Get(key []byte) (V, bool) {
	for n := t.root; n != nil; {
		i, ok := n.search(key)
		if ok {
			return n.items[i].val, true
		}
		if len(n.children) == 0 {
			break
		}
		n = n.children[i]
	}
	var zero V
	return zero, false
}

// Set stores val under key, returning the previous value if there was one. The tree keeps
// key as given: callers must not modify it afterwards.
func (t *Tree[V]) Set(key []byte, val V) (V, bool) {
	if t.root == nil {
		t.root = &node[V]{items: make([]item[V], 0, 4)}
	}
	if len(t.root.items) == maxItems {
		old := t.root
		t.root = &node[V]{children: []*node[V]{old}}
		t.root.splitChild(0)
	}
	prev, replaced := t.root.insert(key, val)
	if !replaced {
		t.n++
	}
	return prev, replaced
}

// splitChild splits the full child i around its median, which moves up into n.
func (n *node[V]) splitChild(i int) {
	c := n.children[i]
	mid := c.items[degree-1]
	right := &node[V]{items: append(make([]item[V], 0, maxItems), c.items[degree:]...)}
	if len(c.children) > 0 {
		right.children = append(make([]*node[V], 0, maxItems+1), c.children[degree:]...)
		clear(c.children[degree:])
		c.children = c.children[:degree]
	}
	clear(c.items[degree-1:])
	c.items = c.items[:degree-1]
	n.items = insertAt(n.items, i, mid)
	n.children = insertAt(n.children, i+1, right)
}

func (n *node[V]) insert(key []byte, val V) (V, bool) {
	for {
		i, ok := n.search(key)
		if ok {
			prev := n.items[i].val
			n.items[i].val = val
			return prev, true
		}
		if len(n.children) == 0 {
			n.items = insertAt(n.items, i, item[V]{key: key, val: val})
			var zero V
			return zero, false
		}
		if len(n.children[i].items) == maxItems {
			n.splitChild(i)
			switch c := bytes.Compare(key, n.items[i].key); {
			case c == 0:
				prev := n.items[i].val
				n.items[i].val = val
				return prev, true
			case c > 0:
				i++
			}
		}
		n = n.children[i]
	}
}

// Delete removes key, returning the value it held.
func (t *Tree[V]) Delete(key []byte) (V, bool) {
	var zero V
	if t.root == nil {
		return zero, false
	}
	val, ok := t.root.remove(key)
	if len(t.root.items) == 0 {
		if len(t.root.children) > 0 {
			t.root = t.root.children[0]
		} else {
			t.root = nil
		}
	}
	if ok {
		t.n--
	}
	return val, ok
}

// remove deletes key from the subtree rooted at n. Before descending into a child it makes
// sure the child has more than minItems, so the removal never leaves a node underfull.
func (n *node[V]) remove(key []byte) (V, bool) {
	var zero V
	for {
		i, found := n.search(key)
		if len(n.children) == 0 {
			if !found {
				return zero, false
			}
			val := n.items[i].val
			n.items = removeAt(n.items, i)
			return val, true
		}
		if found {
			val := n.items[i].val
			switch {
			case len(n.children[i].items) > minItems:
				// Replace with the predecessor, then delete it from the left subtree.
				pred := n.children[i].removeMax()
				n.items[i] = pred
				return val, true
			case len(n.children[i+1].items) > minItems:
				succ := n.children[i+1].removeMin()
				n.items[i] = succ
				return val, true
			default:
				n.merge(i)
				n = n.children[i]
				continue
			}
		}
		if len(n.children[i].items) <= minItems {
			i = n.grow(i)
		}
		n = n.children[i]
	}
}

// removeMax deletes and returns the largest item of a subtree whose root has > minItems.
func (n *node[V]) removeMax() item[V] {
	for len(n.children) > 0 {
		i := len(n.children) - 1
		if len(n.children[i].items) <= minItems {
			i = n.grow(i)
		}
		n = n.children[i]
	}
	it := n.items[len(n.items)-1]
	n.items = removeAt(n.items, len(n.items)-1)
	return it
}

// removeMin deletes and returns the smallest item of a subtree whose root has > minItems.
func (n *node[V]) removeMin() item[V] {
	for len(n.children) > 0 {
		if len(n.children[0].items) <= minItems {
			n.grow(0)
		}
		n = n.children[0]
	}
	it := n.items[0]
	n.items = removeAt(n.items, 0)
	return it
}

// grow gives child i at least minItems+1 items by borrowing from a sibling or merging with
// one. It returns the index of the child that now covers the keys child i covered.
func (n *node[V]) grow(i int) int {
	switch {
	case i > 0 && len(n.children[i-1].items) > minItems:
		c, left := n.children[i], n.children[i-1]
		c.items = insertAt(c.items, 0, n.items[i-1])
		n.items[i-1] = left.items[len(left.items)-1]
		left.items = removeAt(left.items, len(left.items)-1)
		if len(left.children) > 0 {
			c.children = insertAt(c.children, 0, left.children[len(left.children)-1])
			left.children = removeAt(left.children, len(left.children)-1)
		}
		return i
	case i < len(n.items) && len(n.children[i+1].items) > minItems:
		c, right := n.children[i], n.children[i+1]
		c.items = append(c.items, n.items[i])
		n.items[i] = right.items[0]
		right.items = removeAt(right.items, 0)
		if len(right.children) > 0 {
			c.children = append(c.children, right.children[0])
			right.children = removeAt(right.children, 0)
		}
		return i
	case i < len(n.items):
		n.merge(i)
		return i
	default:
		n.merge(i - 1)
		return i - 1
	}
}

// merge folds item i and child i+1 into child i.
func (n *node[V]) merge(i int) {
	c, right := n.children[i], n.children[i+1]
	c.items = append(c.items, n.items[i])
	c.items = append(c.items, right.items...)
	c.children = append(c.children, right.children...)
	n.items = removeAt(n.items, i)
	n.children = removeAt(n.children, i+1)
}

// Ascend calls fn for every key >= from in ascending order (every key when from is nil),
// until fn returns false.
func (t *Tree[V]) Ascend(from []byte, fn func(key []byte, val V) bool) {
	if t.root != nil {
		t.root.ascend(from, fn)
	}
}

func (n *node[V]) ascend(from []byte, fn func([]byte, V) bool) bool {
	i := 0
	if from != nil {
		i, _ = n.search(from)
	}
	if len(n.children) > 0 && !n.children[i].ascend(from, fn) {
		return false
	}
	for ; i < len(n.items); i++ {
		if !fn(n.items[i].key, n.items[i].val) {
			return false
		}
		if len(n.children) > 0 && !n.children[i+1].ascend(nil, fn) {
			return false
		}
	}
	return true
}

// Descend calls fn for every key <= from in descending order (every key when from is nil),
// until fn returns false.
func (t *Tree[V]) Descend(from []byte, fn func(key []byte, val V) bool) {
	if t.root != nil {
		t.root.descend(from, fn)
	}
}

func (n *node[V]) descend(from []byte, fn func([]byte, V) bool) bool {
	j := len(n.items) // items[:j] are <= from
	if from != nil {
		var eq bool
		j, eq = n.search(from)
		if eq {
			j++
		}
	}
	// Child j holds keys between items[j-1] and items[j]; some may be <= from.
	if len(n.children) > 0 && !n.children[j].descend(from, fn) {
		return false
	}
	for i := j - 1; i >= 0; i-- {
		if !fn(n.items[i].key, n.items[i].val) {
			return false
		}
		if len(n.children) > 0 && !n.children[i].descend(nil, fn) {
			return false
		}
	}
	return true
}

func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

func removeAt[T any](s []T, i int) []T {
	copy(s[i:], s[i+1:])
	var zero T
	s[len(s)-1] = zero
	return s[:len(s)-1]
}
