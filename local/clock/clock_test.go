package clock

import (
	"path/filepath"
	"testing"
	"time"
)

func TestAdvanceShiftsNowAndWakesWaiters(t *testing.T) {
	c := New()
	ch := c.Changed()
	before := c.Now()
	if err := c.Advance(720 * time.Hour); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Changed channel not closed by Advance")
	}
	if got := c.Now().Sub(before); got < 720*time.Hour {
		t.Fatalf("Now moved by %s, want at least 720h", got)
	}
	if c.Offset() != 720*time.Hour {
		t.Fatalf("Offset = %s", c.Offset())
	}
	if err := c.Advance(-time.Second); err == nil {
		t.Fatal("negative advance accepted")
	}
}

func TestOffsetPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clock.json")
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Offset() != 0 {
		t.Fatalf("fresh clock offset %s", c.Offset())
	}
	if err := c.Advance(90 * time.Minute); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.Offset() != 90*time.Minute {
		t.Fatalf("reopened offset %s, want 1h30m", again.Offset())
	}
}
