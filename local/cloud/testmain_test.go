package cloud

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestLogKeepsConcurrentWritesAndTailsWholeLines(t *testing.T) {
	var l Log
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				fmt.Fprintf(&l, "writer %d line %03d\n", g, i)
			}
		})
	}
	wg.Wait()
	if n := strings.Count(l.String(), "\n"); n != 800 {
		t.Fatalf("%d lines kept, want 800", n)
	}
	tail := l.Tail(100)
	if len(tail) > 100 || !strings.HasPrefix(tail, "writer ") || !strings.HasSuffix(tail, "\n") {
		t.Fatalf("tail %q", tail)
	}
	if l.Tail(1<<20) != l.String() {
		t.Fatal("a tail longer than the log is not the whole log")
	}
}
