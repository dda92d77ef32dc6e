// Command rollup is the timer function that flushes counted views and the daily tallies from
// Redis into the video rows and video_stats_daily, exactly once, and settles the counters that
// dead requests left in doubt (shared/engagement: Flush, Ledger.Repair). Runs may overlap or be
// killed at any point; the next run finishes the work.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
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
}

func loadConfig() (config, error) {
	c := config{Budget: 100 * time.Second, DeadAfter: 2 * time.Minute}
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
	eng, err := engagement.New(engagement.Config{Tablestore: cfg.Tablestore, Redis: redis.New(cfg.Redis), Log: slog.Default(),
		DeadAfter: cfg.DeadAfter}) // its clock is runtime.Now, the local cloud's when there is one
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
		rep, err := eng.Rollup(ctx)
		slog.InfoContext(ctx, "rollup finished", "trigger", ev.Trigger, "flush", rep.Flush, "repair", rep.Repair, "err", err)
		return err
	})
}
