// Command rollup is the timer function that flushes counted views and the daily tallies from
// Redis into the video rows and video_stats_daily, exactly once, and settles the counters that
// dead requests left in doubt (shared/engagement: Flush, Ledger.Repair). Runs may overlap or be
// killed at any point; the next run finishes the work.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"vodfc.dev/vodfc/danmaku"
	"vodfc.dev/vodfc/engagement"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// config is everything the function reads from its environment (s.yaml).
type config struct {
	Tablestore tablestore.Config
	Redis      redis.Config
	// Budget bounds one run when the platform gives no deadline (ROLLUP_BUDGET, default 100s);
	// under a deadline the run stops a few seconds before it.
	Budget time.Duration
	// DeadAfter is when an intent's request is surely dead (INTENT_DEAD_AFTER, default 2m): more
	// than the HTTP functions' timeout plus the storage retry budget.
	DeadAfter time.Duration
	// ClockURL is the local cloud's shiftable clock (FCLOCAL_CLOCK_URL, local only).
	ClockURL string
}

func loadConfig() (config, error) {
	c := config{Budget: 100 * time.Second, DeadAfter: 2 * time.Minute, ClockURL: os.Getenv("FCLOCAL_CLOCK_URL")}
	var err error
	if c.Tablestore, err = tablestore.ConfigFromEnv(); err != nil {
		return c, err
	}
	if c.Redis, err = redis.ConfigFromEnv(); err != nil {
		return c, err
	}
	for name, d := range map[string]*time.Duration{"ROLLUP_BUDGET": &c.Budget, "INTENT_DEAD_AFTER": &c.DeadAfter} {
		if v := os.Getenv(name); v != "" {
			if *d, err = time.ParseDuration(v); err != nil || *d <= 0 {
				return c, fmt.Errorf("%s=%q: want a positive duration such as 2m", name, v)
			}
		}
	}
	return c, nil
}

func main() {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rollup: configuration:", err)
		os.Exit(1)
	}
	clock := newClock(cfg.ClockURL)
	eng, err := engagement.New(engagement.Config{Tablestore: cfg.Tablestore, Redis: redis.New(cfg.Redis), Log: slog.Default(),
		DeadAfter: cfg.DeadAfter, Now: clock.now})
	if err != nil {
		fmt.Fprintln(os.Stderr, "rollup:", err)
		os.Exit(1)
	}
	// The danmaku counter is recounted like the others: its package says how to count it.
	if _, err := danmaku.New(danmaku.Config{Engagement: eng, Log: slog.Default()}); err != nil {
		fmt.Fprintln(os.Stderr, "rollup:", err)
		os.Exit(1)
	}
	runtime.Timer(func(ctx context.Context, ev runtime.TimerEvent) error {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, cfg.Budget)
			defer cancel()
		}
		clock.sync(ctx)
		rep, err := eng.Rollup(ctx)
		slog.InfoContext(ctx, "rollup finished", "trigger", ev.Trigger, "flush", rep.Flush, "repair", rep.Repair, "err", err)
		return err
	})
}

// clock is time.Now, shifted by the local cloud's clock offset when one is configured, so that
// moving the local clock forward ages intents as it ages everything else.
type clock struct {
	url    string
	offset atomic.Int64 // nanoseconds
}

func newClock(url string) *clock { return &clock{url: url} }

func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *clock) sync(ctx context.Context) {
	if c.url == "" {
		return
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", c.url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		slog.WarnContext(ctx, "reading the local clock failed", "err", err)
		return
	}
	defer resp.Body.Close()
	var v struct {
		Now string `json:"now"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return
	}
	if t, err := time.Parse(time.RFC3339Nano, v.Now); err == nil {
		c.offset.Store(int64(time.Until(t)))
	}
}
