package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"vodfc.dev/local/clock"
)

type fired struct {
	function, trigger string
	ev                Event
}

func start(t *testing.T, jobs ...Job) (*Scheduler, *clock.Clock, chan fired) {
	t.Helper()
	c := clock.New()
	ch := make(chan fired, 16)
	s, err := New(Options{Clock: c, Jobs: jobs, Fire: func(_ context.Context, fn, tr string, event []byte) error {
		var ev Event
		if err := json.Unmarshal(event, &ev); err != nil {
			t.Errorf("event %s: %v", event, err)
		}
		ch <- fired{fn, tr, ev}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, c, ch
}

func next(t *testing.T, ch chan fired) fired {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(10 * time.Second): // hang guard only
		t.Fatal("timer did not fire")
	}
	return fired{}
}

func status(s *Scheduler, trigger string) Status {
	for _, st := range s.Status() {
		if st.Trigger == trigger {
			return st
		}
	}
	return Status{}
}

func TestCronFiresOnTheShiftedClockAndCatchesUpOnce(t *testing.T) {
	s, c, ch := start(t, Job{Function: "tiering", Trigger: "nightly", Cron: "0 0 3 * * *", Enabled: true, Payload: `{"job":"tier"}`})
	due := status(s, "nightly").Next
	if due.Hour() != 3 || due.Minute() != 0 || due.Location() != time.UTC {
		t.Fatalf("next fire %s, want 03:00 UTC", due)
	}
	if err := c.Advance(c.Until(due)); err != nil {
		t.Fatal(err)
	}
	f := next(t, ch)
	if f.function != "tiering" || f.ev.TriggerName != "nightly" || f.ev.Payload != `{"job":"tier"}` {
		t.Fatalf("event %+v", f)
	}
	if f.ev.TriggerTime != due.Format(time.RFC3339) {
		t.Fatalf("triggerTime %s, want %s", f.ev.TriggerTime, due.Format(time.RFC3339))
	}

	// Three days pass at once: one catch-up run, stamped with the latest missed 03:00.
	if err := c.Advance(72 * time.Hour); err != nil {
		t.Fatal(err)
	}
	f = next(t, ch)
	want := due.Add(72 * time.Hour)
	if c.Now().Before(want) {
		want = want.Add(-24 * time.Hour)
	}
	if f.ev.TriggerTime != want.Format(time.RFC3339) {
		t.Fatalf("catch-up triggerTime %s, want %s", f.ev.TriggerTime, want.Format(time.RFC3339))
	}
	st := status(s, "nightly")
	if st.Fired != 2 || !st.Next.After(c.Now()) {
		t.Fatalf("after catch-up: fired %d, next %s (now %s)", st.Fired, st.Next, c.Now())
	}
}

func TestTimeZoneAndEvery(t *testing.T) {
	s, c, ch := start(t,
		Job{Function: "f", Trigger: "shanghai", Cron: "CRON_TZ=Asia/Shanghai 0 30 3 * * *", Enabled: true},
		Job{Function: "f", Trigger: "hourly", Cron: "@every 60m", Enabled: true},
	)
	if n := status(s, "shanghai").Next; n.Hour() != 19 || n.Minute() != 30 {
		t.Fatalf("03:30 in Shanghai is 19:30 UTC, got %s", n)
	}
	hourly := status(s, "hourly").Next
	if d := c.Until(hourly); d <= 59*time.Minute || d > time.Hour {
		t.Fatalf("@every 60m is due in %s", d)
	}
	if err := c.Advance(c.Until(hourly)); err != nil {
		t.Fatal(err)
	}
	for {
		f := next(t, ch)
		if f.trigger == "hourly" {
			if f.ev.TriggerTime != hourly.Format(time.RFC3339) {
				t.Fatalf("hourly triggerTime %s, want %s", f.ev.TriggerTime, hourly.Format(time.RFC3339))
			}
			break
		}
	}
	if n := status(s, "hourly").Next; !n.Equal(hourly.Add(time.Hour)) {
		t.Fatalf("next hourly %s, want %s", n, hourly.Add(time.Hour))
	}
}

func TestDisabledTriggerFiresOnlyByHand(t *testing.T) {
	s, c, ch := start(t, Job{Function: "cleanup", Trigger: "off", Cron: "@every 1s", Enabled: false, Payload: "p"})
	if st := status(s, "off"); !st.Next.IsZero() {
		t.Fatalf("disabled trigger scheduled for %s", st.Next)
	}
	if err := c.Advance(240 * time.Hour); err != nil {
		t.Fatal(err)
	}
	before := c.Now().Truncate(time.Second)
	if err := s.FireNow(context.Background(), "cleanup", "off"); err != nil {
		t.Fatal(err)
	}
	after := c.Now()
	f := next(t, ch)
	at, err := time.Parse(time.RFC3339, f.ev.TriggerTime)
	if err != nil || f.ev.Payload != "p" || at.Before(before) || at.After(after) {
		t.Fatalf("fire-now event %+v: want the shifted time between %s and %s", f.ev, before, after)
	}
	if err := s.FireNow(context.Background(), "cleanup", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown trigger: %v", err)
	}
}

func TestBadCronExpressions(t *testing.T) {
	_, err := New(Options{Fire: func(context.Context, string, string, []byte) error { return nil }, Jobs: []Job{
		{Function: "a", Trigger: "five", Cron: "0 3 * * *"},
		{Function: "b", Trigger: "range", Cron: "0 0 25 * * *"},
		{Function: "c", Trigger: "ok", Cron: "0 0 1 * * *"},
	}})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"a/five", "FC wants 6", "b/range"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "c/ok") {
		t.Errorf("good expression reported: %v", err)
	}
}
