// Command tiering is the nightly storage-lifecycle timer: it moves each video's source and
// renditions between OSS's Standard, IA and Archive classes by what people watch, honouring
// minimum storage durations, and writes reports/storage/{date}.json (shared/tiering). "Now" is
// the timer's trigger time, so a run is the same whoever fires it. The payload
// {"dryRun":true} logs the plan and changes nothing.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/tiering"
)

// config is everything the function reads from its environment (s.yaml).
type config struct {
	tables tablestore.Config
	media  oss.Config
	policy tiering.Policy
	// budget (TIERING_BUDGET, 540s) bounds a run below the function's timeout.
	budget time.Duration
	// concurrency (TIERING_CONCURRENCY, 8) is how many videos are visited at once.
	concurrency int
	// zone (TIERING_REPORT_TZ, Asia/Shanghai) names the day of a report.
	zone *time.Location
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{budget: 540 * time.Second, concurrency: 8}
	var errs []error
	var err error
	if c.tables, err = tablestore.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if c.media, err = oss.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if c.policy, err = tiering.PolicyFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if v := getenv("TIERING_BUDGET"); v != "" {
		if c.budget, err = time.ParseDuration(v); err != nil || c.budget <= 0 {
			errs = append(errs, fmt.Errorf("TIERING_BUDGET=%q: want a positive duration such as 540s", v))
		}
	}
	if v := getenv("TIERING_CONCURRENCY"); v != "" {
		if c.concurrency, err = strconv.Atoi(v); err != nil || c.concurrency < 1 || c.concurrency > 64 {
			errs = append(errs, fmt.Errorf("TIERING_CONCURRENCY=%q: want 1 to 64", v))
		}
	}
	tz := getenv("TIERING_REPORT_TZ")
	if tz == "" {
		tz = "Asia/Shanghai"
	}
	if c.zone, err = time.LoadLocation(tz); err != nil {
		errs = append(errs, fmt.Errorf("TIERING_REPORT_TZ=%q: %v", tz, err))
	}
	return c, errors.Join(errs...)
}

// payload is what the timer's payload may ask for.
type payload struct {
	DryRun bool `json:"dryRun"`
}

func parsePayload(s string) (payload, error) {
	var p payload
	if s = strings.TrimSpace(s); s == "" {
		return p, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf(`payload %q: want {} or {"dryRun":true}: %v`, s, err)
	}
	return p, nil
}

func main() {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tiering: configuration:\n%v\n", err)
		os.Exit(1)
	}
	db, err := tablestore.New(cfg.tables)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tiering:", err)
		os.Exit(1)
	}
	media, err := oss.New(cfg.media)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tiering:", err)
		os.Exit(1)
	}
	runner, err := tiering.New(tiering.Config{DB: db, Media: media, Policy: cfg.policy, Concurrency: cfg.concurrency,
		Budget: cfg.budget, ReportZone: cfg.zone})
	if err != nil {
		fmt.Fprintln(os.Stderr, "tiering:", err)
		os.Exit(1)
	}
	runtime.Timer(func(ctx context.Context, ev runtime.TimerEvent) error {
		p, err := parsePayload(ev.Payload)
		if err != nil {
			return err
		}
		res, err := runner.Run(ctx, ev.Time, tiering.RunOptions{RunID: runtime.RequestID(ctx), DryRun: p.DryRun})
		if err == nil && p.DryRun {
			// The plan, whole, as one document after the per-step log lines.
			b, _ := json.Marshal(res)
			fmt.Println(string(b))
		}
		return err
	})
}
