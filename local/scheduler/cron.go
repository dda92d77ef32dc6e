package scheduler

import (
	"fmt"
	"strings"
	"time"

	cron "github.com/netresearch/go-cron"
)

// parser accepts what an FC timer trigger accepts: six fields with seconds first, an optional
// CRON_TZ= prefix (UTC otherwise), and descriptors such as @every 60m or @daily.
var parser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed cronExpression.
type Schedule struct {
	expr  string
	spec  cron.Schedule
	every time.Duration // for @every: fire times are anchored to when the trigger started
}

// ParseCron parses an FC timer trigger's cronExpression.
func ParseCron(expr string) (*Schedule, error) {
	e := strings.TrimSpace(expr)
	if e == "" {
		return nil, fmt.Errorf("empty cron expression")
	}
	body := e
	if strings.HasPrefix(body, "CRON_TZ=") || strings.HasPrefix(body, "TZ=") {
		if _, rest, ok := strings.Cut(body, " "); ok {
			body = strings.TrimSpace(rest)
		}
	}
	if !strings.HasPrefix(body, "@") {
		if n := len(strings.Fields(body)); n != 6 {
			return nil, fmt.Errorf("cron expression %q has %d fields; FC wants 6: second minute hour day-of-month month day-of-week", expr, n)
		}
	}
	s, err := parser.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("cron expression %q: %v", expr, err)
	}
	out := &Schedule{expr: e, spec: s}
	if cd, ok := s.(cron.ConstantDelaySchedule); ok {
		if cd.Delay < time.Second {
			return nil, fmt.Errorf("cron expression %q: @every needs at least 1s", expr)
		}
		out.every = cd.Delay
	}
	return out, nil
}

// String is the expression as written.
func (s *Schedule) String() string { return s.expr }

// Next is the first fire time strictly after t.
func (s *Schedule) Next(t time.Time) time.Time {
	return s.spec.Next(t.UTC()).UTC()
}

// latest is the last fire time at or before now, given that due (<= now) was a fire time: after
// the clock jumps, a timer fires once for the whole missed period, stamped with the latest
// time it should have fired.
func (s *Schedule) latest(due, now time.Time) time.Time {
	if !due.Before(now) {
		return due
	}
	if s.every > 0 {
		n := now.Sub(due) / s.every
		return due.Add(n * s.every)
	}
	if p, ok := s.spec.(cron.ScheduleWithPrev); ok {
		prev := p.Prev(now.UTC().Truncate(time.Second).Add(time.Second)).UTC()
		if !prev.IsZero() && !prev.Before(due) && !prev.After(now) {
			return prev
		}
	}
	return due
}
