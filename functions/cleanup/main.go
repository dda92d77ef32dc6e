// Command cleanup is the hourly timer that removes what nobody will use again: abandoned
// multipart uploads, videos whose file never arrived, deleted videos' media after their grace
// period, processing attempts a video no longer points at, objects of videos that do not
// exist, and accounts never verified (shared/cleanup). "Now" is the timer's trigger time.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"vodfc.dev/vodfc/cleanup"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// config is everything the function reads from its environment (s.yaml).
type config struct {
	tables tablestore.Config
	media  oss.Config
	rules  cleanup.Rules
	// budget (CLEANUP_BUDGET, 240s) bounds a run below the function's timeout.
	budget time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{budget: 240 * time.Second}
	var errs []error
	var err error
	if c.tables, err = tablestore.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if c.media, err = oss.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if c.rules, err = cleanup.RulesFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if v := getenv("CLEANUP_BUDGET"); v != "" {
		if c.budget, err = time.ParseDuration(v); err != nil || c.budget <= 0 {
			errs = append(errs, fmt.Errorf("CLEANUP_BUDGET=%q: want a positive duration such as 240s", v))
		}
	}
	return c, errors.Join(errs...)
}

func main() {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cleanup: configuration:\n%v\n", err)
		os.Exit(1)
	}
	db, err := tablestore.New(cfg.tables)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
		os.Exit(1)
	}
	media, err := oss.New(cfg.media)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
		os.Exit(1)
	}
	c, err := cleanup.New(cleanup.Config{DB: db, Media: media, Rules: cfg.rules, Budget: cfg.budget})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
		os.Exit(1)
	}
	runtime.Timer(func(ctx context.Context, ev runtime.TimerEvent) error {
		rep, err := c.Run(ctx, ev.Time)
		slog.InfoContext(ctx, "cleanup finished", "trigger", ev.Trigger, "now", ev.Time, "report", rep, "err", err)
		return err
	})
}
