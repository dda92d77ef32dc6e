// Package clock owns the local cloud's notion of "now": the wall clock plus an offset that a
// developer can move forward, so month-long behaviour (storage tiering, expiry, nightly timers)
// can be exercised in seconds. The emulators, the scheduler and fcemu all read the same Clock.
package clock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Clock is a wall clock shifted by an offset that only grows. It is safe for concurrent use.
// The zero value is not usable; call New or Open.
type Clock struct {
	mu      sync.Mutex
	offset  time.Duration
	path    string        // where the offset is persisted; empty = memory only
	changed chan struct{} // closed and replaced on every Advance
	wall    func() time.Time
}

// New returns a clock that starts at the wall clock and keeps its offset in memory.
func New() *Clock {
	return &Clock{changed: make(chan struct{}), wall: time.Now}
}

// Open returns a clock whose offset is persisted in the file at path, so a shifted clock stays
// shifted across restarts of the local cloud. A missing file means no offset.
func Open(path string) (*Clock, error) {
	c := New()
	c.path = path
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clock: %w", err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("clock: %s: %w", path, err)
	}
	d, err := time.ParseDuration(st.Offset)
	if err != nil || d < 0 {
		return nil, fmt.Errorf("clock: %s: bad offset %q", path, st.Offset)
	}
	c.offset = d
	return c, nil
}

type state struct {
	Offset string `json:"offset"`
}

// Now is the shifted time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall().Add(c.offset)
}

// Offset is how far the clock runs ahead of the wall clock.
func (c *Clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// Advance moves the clock forward by d. Time never goes backwards: timers, TTLs and storage
// durations all assume it, as they do in the cloud.
func (c *Clock) Advance(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("clock: cannot move time backwards (%s)", d)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	if c.path != "" {
		data, _ := json.Marshal(state{Offset: c.offset.String()})
		if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
			return fmt.Errorf("clock: %w", err)
		}
		tmp := c.path + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return fmt.Errorf("clock: %w", err)
		}
		if err := os.Rename(tmp, c.path); err != nil {
			return fmt.Errorf("clock: %w", err)
		}
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return nil
}

// Changed returns a channel that is closed the next time the clock is advanced. Waiters such as
// the scheduler select on it next to their timer, then call Changed again.
func (c *Clock) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Until is the real time that will pass before the clock shows t.
func (c *Clock) Until(t time.Time) time.Duration {
	return t.Sub(c.Now())
}
