// Package scheduler owns the local cloud's timer triggers: it parses their cronExpression the
// way Function Compute does (six fields with seconds, CRON_TZ=, @every), fires each trigger on
// the shared, shiftable clock, and hands the TimerEvent to a Fire function (fcemu's async
// invoke). After the clock jumps, a trigger fires once for the missed period, as a real
// scheduler catching up would, stamped with the latest time it should have fired.
package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"vodfc.dev/local/clock"
)

// Job is one timer trigger.
type Job struct {
	Function string
	Trigger  string
	Cron     string
	Enabled  bool
	Payload  string
}

// Event is the payload FC delivers to a timer-triggered function (events.TimerEvent).
type Event struct {
	TriggerTime string `json:"triggerTime"`
	TriggerName string `json:"triggerName"`
	Payload     string `json:"payload"`
}

// FireFunc delivers one timer event; fcemu's InvokeAsync fits.
type FireFunc func(ctx context.Context, function, trigger string, event []byte) error

// Options configure a Scheduler.
type Options struct {
	Clock  *clock.Clock
	Jobs   []Job
	Fire   FireFunc
	Logger *slog.Logger
}

// ErrNotFound is returned by FireNow for a trigger that does not exist.
var ErrNotFound = errors.New("no such timer trigger")

// Scheduler fires timer triggers.
type Scheduler struct {
	clock *clock.Clock
	fire  FireFunc
	log   *slog.Logger

	mu      sync.Mutex
	jobs    []*job
	started bool

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type job struct {
	Job
	sched     *Schedule
	next      time.Time
	lastFired time.Time
	fired     int
}

// Status is what the console shows about a timer trigger.
type Status struct {
	Function  string    `json:"function"`
	Trigger   string    `json:"trigger"`
	Cron      string    `json:"cron"`
	Enabled   bool      `json:"enabled"`
	Next      time.Time `json:"next,omitzero"`
	LastFired time.Time `json:"lastFired,omitzero"`
	Fired     int       `json:"fired"`
}

// New parses every job's cron expression; it reports all the bad ones at once.
func New(opts Options) (*Scheduler, error) {
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.Fire == nil {
		return nil, errors.New("scheduler: Fire is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{clock: opts.Clock, fire: opts.Fire, log: opts.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	var errs []error
	for _, j := range opts.Jobs {
		sched, err := ParseCron(j.Cron)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", j.Function, j.Trigger, err))
			continue
		}
		s.jobs = append(s.jobs, &job{Job: j, sched: sched})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Start begins firing enabled triggers; Close stops it.
func (s *Scheduler) Start() {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	for _, j := range s.jobs {
		if j.Enabled {
			j.next = j.sched.Next(now)
		}
	}
	go s.run()
}

// Close stops the scheduler and waits for its loop to end. Safe to call twice, or without Start.
func (s *Scheduler) Close() {
	s.once.Do(func() { close(s.stop) })
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		<-s.done
	}
}

func (s *Scheduler) run() {
	defer close(s.done)
	for {
		changed := s.clock.Changed()
		var wake <-chan time.Time
		var timer *time.Timer
		if next, ok := s.earliest(); ok {
			timer = time.NewTimer(max(s.clock.Until(next), 0))
			wake = timer.C
		}
		select {
		case <-s.stop:
			if timer != nil {
				timer.Stop()
			}
			return
		case <-wake:
		case <-changed:
		}
		if timer != nil {
			timer.Stop()
		}
		s.fireDue(s.clock.Now())
	}
}

func (s *Scheduler) earliest() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out time.Time
	for _, j := range s.jobs {
		if j.Enabled && !j.next.IsZero() && (out.IsZero() || j.next.Before(out)) {
			out = j.next
		}
	}
	return out, !out.IsZero()
}

// fireDue fires every trigger whose time has come, once each however much time was skipped.
func (s *Scheduler) fireDue(now time.Time) {
	type due struct {
		j  *job
		at time.Time
	}
	var fire []due
	s.mu.Lock()
	for _, j := range s.jobs {
		if !j.Enabled || j.next.IsZero() || j.next.After(now) {
			continue
		}
		at := j.sched.latest(j.next, now)
		if j.sched.every > 0 {
			j.next = at.Add(j.sched.every)
		} else {
			j.next = j.sched.Next(now)
		}
		fire = append(fire, due{j, at})
	}
	s.mu.Unlock()
	for _, d := range fire {
		if err := s.deliver(context.Background(), d.j, d.at); err != nil {
			s.log.Error("timer trigger not delivered", "function", d.j.Function, "trigger", d.j.Trigger, "err", err)
		}
	}
}

func (s *Scheduler) deliver(ctx context.Context, j *job, at time.Time) error {
	ev, err := json.Marshal(Event{TriggerTime: at.UTC().Format(time.RFC3339), TriggerName: j.Trigger, Payload: j.Payload})
	if err != nil {
		return err
	}
	s.mu.Lock()
	j.lastFired = at
	j.fired++
	s.mu.Unlock()
	s.log.Info("timer fired", "function", j.Function, "trigger", j.Trigger, "triggerTime", at.UTC().Format(time.RFC3339))
	return s.fire(ctx, j.Function, j.Trigger, ev)
}

// FireNow delivers a trigger's event immediately, stamped with the clock's current time. It
// works for disabled triggers too: it is a developer's button, not the schedule.
func (s *Scheduler) FireNow(ctx context.Context, function, trigger string) error {
	s.mu.Lock()
	var found *job
	for _, j := range s.jobs {
		if j.Function == function && j.Trigger == trigger {
			found = j
		}
	}
	s.mu.Unlock()
	if found == nil {
		return fmt.Errorf("%w: %s/%s", ErrNotFound, function, trigger)
	}
	return s.deliver(ctx, found, s.clock.Now().Truncate(time.Second))
}

// Status lists every trigger with its next fire time, sorted by function and trigger.
func (s *Scheduler) Status() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.jobs))
	for _, j := range s.jobs {
		out = append(out, Status{Function: j.Function, Trigger: j.Trigger, Cron: j.Cron, Enabled: j.Enabled,
			Next: j.next, LastFired: j.lastFired, Fired: j.fired})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Function != out[b].Function {
			return out[a].Function < out[b].Function
		}
		return out[a].Trigger < out[b].Trigger
	})
	return out
}
