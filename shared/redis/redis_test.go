package redis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// newTestClient runs against miniredis, which speaks the real protocol and runs the Lua scripts;
// its clock is driven by the test so limits can be checked without sleeping.
func newTestClient(t *testing.T) (*Client, *fakeClock) {
	t.Helper()
	m := miniredis.RunT(t)
	clk := &fakeClock{m: m, now: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
	m.SetTime(clk.now)
	c := New(Config{Addr: m.Addr(), Prefix: "test:"})
	t.Cleanup(func() { c.Close() })
	return c, clk
}

// fakeClock moves both the time the scripts read and the key expiries of miniredis.
type fakeClock struct {
	m   *miniredis.Miniredis
	now time.Time
}

func (f *fakeClock) TTL(key string) time.Duration { return f.m.TTL(key) }

func advance(f *fakeClock, d time.Duration) {
	f.now = f.now.Add(d)
	f.m.SetTime(f.now)
	f.m.FastForward(d)
}

func TestAllowHonoursRateAndBurst(t *testing.T) {
	ctx := context.Background()
	c, m := newTestClient(t)
	r := Rate{Count: 5, Per: time.Minute, Burst: 3}
	for i := range 3 {
		d, err := c.Allow(ctx, "send:a@example.com", r)
		if err != nil || !d.Allowed {
			t.Fatalf("event %d refused: %+v %v", i, d, err)
		}
	}
	d, err := c.Allow(ctx, "send:a@example.com", r)
	if err != nil || d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 12*time.Second {
		t.Fatalf("4th event in the burst: %+v %v", d, err)
	}
	if d, _ := c.Allow(ctx, "send:b@example.com", r); !d.Allowed {
		t.Fatal("another key shares the limit")
	}
	advance(m, 12*time.Second) // one emission interval
	if d, _ := c.Allow(ctx, "send:a@example.com", r); !d.Allowed {
		t.Fatalf("not allowed again after one interval: %+v", d)
	}
	if d, _ := c.Allow(ctx, "send:a@example.com", r); d.Allowed {
		t.Fatal("allowed twice after one interval")
	}
}

func TestCooldown(t *testing.T) {
	ctx := context.Background()
	c, m := newTestClient(t)
	if d, err := c.Cooldown(ctx, "resend:x", time.Minute); err != nil || !d.Allowed {
		t.Fatalf("first: %+v %v", d, err)
	}
	advance(m, 20*time.Second)
	d, err := c.Cooldown(ctx, "resend:x", time.Minute)
	if err != nil || d.Allowed || d.RetryAfter != 40*time.Second {
		t.Fatalf("inside cooldown: %+v %v", d, err)
	}
	advance(m, 41*time.Second)
	if d, _ := c.Cooldown(ctx, "resend:x", time.Minute); !d.Allowed {
		t.Fatal("cooldown did not end")
	}
}

func TestQuotaCountsRefusals(t *testing.T) {
	ctx := context.Background()
	c, m := newTestClient(t)
	for i := range 3 {
		if d, _ := c.Quota(ctx, "daily:u1", 3, 24*time.Hour); !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("event %d: %+v", i, d)
		}
	}
	d, _ := c.Quota(ctx, "daily:u1", 3, 24*time.Hour)
	if d.Allowed || d.RetryAfter != 24*time.Hour {
		t.Fatalf("over quota: %+v", d)
	}
	advance(m, 24*time.Hour)
	if d, _ := c.Quota(ctx, "daily:u1", 3, 24*time.Hour); !d.Allowed {
		t.Fatal("quota did not reset with the window")
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	ctx := context.Background()
	c, m := newTestClient(t)
	b := Backoff{Window: time.Hour, Free: 3, Base: time.Second, Max: 8 * time.Second, Limit: 10}
	var waits []time.Duration
	for range 9 {
		if w, err := c.Check(ctx, "login:u1"); err != nil || w != 0 {
			t.Fatalf("check before failure: %v %v", w, err)
		}
		_, w, err := c.Fail(ctx, "login:u1", b)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
		advance(m, w)
	}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits = %v, want %v", waits, want)
		}
	}
	// The tenth failure locks the key until the window ends.
	n, w, _ := c.Fail(ctx, "login:u1", b)
	if n != 10 || w < 50*time.Minute {
		t.Fatalf("at the limit: n=%d wait=%v", n, w)
	}
	if w2, _ := c.Check(ctx, "login:u1"); w2 <= 0 {
		t.Fatal("check does not report the lock")
	}
	if err := c.Forget(ctx, "login:u1"); err != nil {
		t.Fatal(err)
	}
	if w, _ := c.Check(ctx, "login:u1"); w != 0 {
		t.Fatal("forget did not clear")
	}
}

func TestCacheAndIncr(t *testing.T) {
	ctx := context.Background()
	c, m := newTestClient(t)
	if _, ok, err := c.Get(ctx, "k"); ok || err != nil {
		t.Fatal("miss expected")
	}
	type v struct{ A int }
	if err := c.SetJSON(ctx, "k", v{7}, time.Minute); err != nil {
		t.Fatal(err)
	}
	var got v
	if ok, err := c.GetJSON(ctx, "k", &got); !ok || err != nil || got.A != 7 {
		t.Fatalf("GetJSON: %v %v %+v", ok, err, got)
	}
	c.Set(ctx, "k", []byte("{not json"), time.Minute)
	if ok, err := c.GetJSON(ctx, "k", &got); ok || err != nil {
		t.Fatal("a stale entry must read as a miss")
	}
	c.Delete(ctx, "k")
	if _, ok, _ := c.Get(ctx, "k"); ok {
		t.Fatal("delete")
	}
	if n, _ := c.Incr(ctx, "n", 2, time.Minute); n != 2 {
		t.Fatal(n)
	}
	if n, _ := c.Incr(ctx, "n", 3, time.Hour); n != 5 {
		t.Fatal(n)
	}
	if ttl := m.TTL("test:n"); ttl != time.Minute {
		t.Fatalf("ttl reset by a later Incr: %v", ttl)
	}
}

func TestUnavailableIsTyped(t *testing.T) {
	c := New(Config{Addr: "127.0.0.1:1"})
	defer c.Close()
	_, err := c.Allow(context.Background(), "k", Rate{Count: 1, Per: time.Second})
	var u *Unavailable
	if !errors.As(err, &u) {
		t.Fatalf("want *Unavailable, got %v", err)
	}
}
