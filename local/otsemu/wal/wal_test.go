package wal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

type replayed struct {
	seqs []uint64
	recs []string
}

func (r *replayed) fn(seq uint64, rec []byte) error {
	r.seqs = append(r.seqs, seq)
	r.recs = append(r.recs, string(rec))
	return nil
}

func open(t *testing.T, dir string, opts Options, after uint64) (*Log, *replayed) {
	t.Helper()
	r := &replayed{}
	l, err := Open(dir, opts, after, r.fn)
	if err != nil {
		t.Fatal(err)
	}
	return l, r
}

func appendWait(t *testing.T, l *Log, rec string) uint64 {
	t.Helper()
	seq, err := l.Append([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(seq); err != nil {
		t.Fatal(err)
	}
	return seq
}

func TestAppendReplay(t *testing.T) {
	dir := t.TempDir()
	l, r := open(t, dir, Options{}, 0)
	if len(r.seqs) != 0 {
		t.Fatalf("fresh log replayed %v", r.seqs)
	}
	for i := range 10 {
		if seq := appendWait(t, l, fmt.Sprintf("rec-%d", i)); seq != uint64(i+1) {
			t.Fatalf("seq %d for record %d", seq, i)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, r = open(t, dir, Options{}, 0)
	if fmt.Sprint(r.recs) != "[rec-0 rec-1 rec-2 rec-3 rec-4 rec-5 rec-6 rec-7 rec-8 rec-9]" {
		t.Fatalf("replayed %v", r.recs)
	}
	if seq := appendWait(t, l, "after-restart"); seq != 11 {
		t.Fatalf("numbering did not continue: %d", seq)
	}
	l.Close()
	_, r = open(t, dir, Options{}, 5)
	if len(r.seqs) != 6 || r.seqs[0] != 6 || r.recs[5] != "after-restart" {
		t.Fatalf("replay after 5: %v %v", r.seqs, r.recs)
	}
}

// TestGroupCommit has many writers appending at once; every record must be durable when its
// Wait returns, and replay must see each exactly once, in sequence order.
func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{}, 0)
	const writers, each = 32, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				seq, err := l.Append([]byte(fmt.Sprintf("%d/%d", w, i)))
				if err == nil {
					err = l.Wait(seq)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	l.Close()
	_, r := open(t, dir, Options{}, 0)
	if len(r.seqs) != writers*each {
		t.Fatalf("replayed %d records, want %d", len(r.seqs), writers*each)
	}
	seen := map[string]bool{}
	for i, s := range r.seqs {
		if s != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, s)
		}
		if seen[r.recs[i]] {
			t.Fatalf("record %q replayed twice", r.recs[i])
		}
		seen[r.recs[i]] = true
	}
}

// TestTornTail cuts the newest segment at every byte offset inside its last record, as a crash
// mid-write would: replay must return the complete records only, cut the tail off, and accept
// new appends after it.
func TestTornTail(t *testing.T) {
	base := t.TempDir()
	l, _ := open(t, base, Options{}, 0)
	appendWait(t, l, "first")
	appendWait(t, l, "second")
	appendWait(t, l, "third-and-longer")
	l.Close()
	segs, _ := listSegments(base)
	full, err := os.ReadFile(segs[len(segs)-1].path)
	if err != nil {
		t.Fatal(err)
	}
	lastLen := frameHeader + len("third-and-longer")
	for cut := len(full) - lastLen; cut < len(full); cut++ {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(segs[len(segs)-1].path)), full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		l, r := open(t, dir, Options{}, 0)
		if fmt.Sprint(r.recs) != "[first second]" {
			t.Fatalf("cut at %d: replayed %v", cut, r.recs)
		}
		appendWait(t, l, "fourth")
		l.Close()
		_, r = open(t, dir, Options{}, 0)
		if fmt.Sprint(r.recs) != "[first second fourth]" || r.seqs[2] != 3 {
			t.Fatalf("cut at %d, after append: %v %v", cut, r.seqs, r.recs)
		}
	}
	// A flipped payload byte in the last record is a torn write too.
	dir := t.TempDir()
	bad := append([]byte(nil), full...)
	bad[len(bad)-2] ^= 0xff
	os.WriteFile(filepath.Join(dir, filepath.Base(segs[len(segs)-1].path)), bad, 0o644)
	_, r := open(t, dir, Options{}, 0)
	if fmt.Sprint(r.recs) != "[first second]" {
		t.Fatalf("corrupt last record: replayed %v", r.recs)
	}
}

func TestCorruptOlderSegmentIsAnError(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{SegmentSize: 1}, 0)
	for i := range 4 {
		appendWait(t, l, fmt.Sprintf("r%d", i))
	}
	l.Close()
	segs, _ := listSegments(dir)
	if len(segs) < 3 {
		t.Fatalf("expected several segments, got %d", len(segs))
	}
	b, _ := os.ReadFile(segs[0].path)
	b[len(b)-1] ^= 1
	os.WriteFile(segs[0].path, b, 0o644)
	if _, err := Open(dir, Options{}, 0, func(uint64, []byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "not the newest") {
		t.Fatalf("corrupt older segment: %v", err)
	}
}

func TestRotateDiscard(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{}, 0)
	for i := range 5 {
		appendWait(t, l, fmt.Sprintf("old%d", i))
	}
	upTo, err := l.Rotate()
	if err != nil || upTo != 5 {
		t.Fatalf("Rotate = %d, %v", upTo, err)
	}
	appendWait(t, l, "new0")
	if err := l.Discard(upTo); err != nil {
		t.Fatal(err)
	}
	l.Close()
	segs, _ := listSegments(dir)
	if len(segs) != 1 || segs[0].first != 6 {
		t.Fatalf("segments after discard: %+v", segs)
	}
	_, r := open(t, dir, Options{}, upTo)
	if fmt.Sprint(r.recs) != "[new0]" || r.seqs[0] != 6 {
		t.Fatalf("replay after discard: %v %v", r.seqs, r.recs)
	}
}

func TestSegmentRollover(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{SegmentSize: 100, NoSync: true}, 0)
	for i := range 50 {
		appendWait(t, l, strings.Repeat("x", i))
	}
	l.Close()
	segs, _ := listSegments(dir)
	if len(segs) < 5 {
		t.Fatalf("only %d segments", len(segs))
	}
	_, r := open(t, dir, Options{}, 0)
	if len(r.recs) != 50 || r.recs[49] != strings.Repeat("x", 49) {
		t.Fatalf("replayed %d records", len(r.recs))
	}
}

func TestClosedLog(t *testing.T) {
	l, _ := open(t, t.TempDir(), Options{}, 0)
	l.Close()
	if _, err := l.Append([]byte("x")); err != ErrClosed {
		t.Fatalf("append after close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
