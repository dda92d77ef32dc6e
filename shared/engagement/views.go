package engagement

import (
	"context"
	"log/slog"
	"math"
	"regexp"
	goruntime "runtime"
	"sync"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/redis"
)

// Views are counted honestly and cheaply: a view counts once per viewer (a signed-in user, or
// an anonymous player session) per hour, after at least 10 s of heartbeats, entirely in Redis.
// Heartbeats arriving at the same instance together are sent as one script call (group
// commit): while one call is on the wire the next ones queue, and the queue goes as the next
// call. Heartbeats of a window the instance already knows about are answered from memory
// (windowCache). rollup flushes the counted views into the video rows and the daily stats.

// ViewInput is the body of POST /videos/{id}/views.
type ViewInput struct {
	SessionID string   `json:"session_id"`
	PositionS *float64 `json:"position_s"`
}

// ViewState is the answer to a heartbeat.
type ViewState struct {
	// Counted is true once this viewer's view of the video counts in the current window.
	Counted bool `json:"counted"`
	// State is "started", "watching", "counted" (just now), "already_counted", or "capped" (the
	// window ended uncounted: this address's anonymous sessions already added their share).
	State string `json:"state"`
}

var sessionIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// Heartbeat records that a player is still playing videoID at PositionS. address is the
// client's, for the cap on anonymous sessions; "" leaves them uncapped.
func (s *Service) Heartbeat(ctx context.Context, userID, address, videoID string, in ViewInput) (ViewState, error) {
	if !sessionIDPattern.MatchString(in.SessionID) {
		return ViewState{}, &vodfc.Error{Kind: vodfc.KindInvalid, Code: "invalid_session_id",
			Message: "session_id is 8 to 64 letters, digits, '-' or '_'", Fields: map[string]string{"session_id": "malformed"}}
	}
	info, err := s.Gate.Actionable(ctx, videoID, userID)
	if err != nil {
		return ViewState{}, err
	}
	// A video whose length is unknown (0) bounds nothing but the sign.
	if p := in.PositionS; p == nil || math.IsNaN(*p) || *p < 0 || info.DurationMS > 0 && *p > info.Duration().Seconds()+1 {
		return ViewState{}, &vodfc.Error{Kind: vodfc.KindInvalid, Code: "invalid_position",
			Message: "position_s is the playback position in seconds, within the video", Fields: map[string]string{"position_s": "out of range"}}
	}
	hb := redis.Heartbeat{VideoID: videoID, Viewer: "s:" + in.SessionID, Day: day(s.now()), Source: address}
	if userID != "" {
		hb.Viewer, hb.Source = "u:"+userID, "" // one view per person, whatever the device
	}
	res, err := s.views.do(ctx, hb)
	if err != nil {
		return ViewState{}, storageErr(err)
	}
	switch res {
	case redis.HeartbeatFirst:
		return ViewState{State: "started"}, nil
	case redis.HeartbeatWatching:
		return ViewState{State: "watching"}, nil
	case redis.HeartbeatCounted:
		return ViewState{Counted: true, State: "counted"}, nil
	case redis.HeartbeatCapped:
		return ViewState{State: "capped"}, nil
	}
	return ViewState{Counted: true, State: "already_counted"}, nil
}

// viewBatcher groups concurrent heartbeats into one Redis pipeline per round trip, with at most
// maxInFlight pipelines on the wire. Callers join the open batch; a sender takes it whole,
// sends it, and wakes all its callers at once.
type viewBatcher struct {
	rdb     *redis.Client
	rule    redis.ViewRule
	now     func() time.Time
	log     *slog.Logger
	windows *windowCache // nil: every heartbeat goes to Redis

	mu       sync.Mutex
	open     *hbBatch   // the batch callers join
	queued   []*hbBatch // full batches no sender took yet
	inFlight int
}

type hbBatch struct {
	hbs  []redis.Heartbeat
	res  []redis.HeartbeatWindow
	err  error
	done chan struct{}
}

const (
	maxInFlight = 1
	maxBatch    = 512
)

func newViewBatcher(rdb *redis.Client, rule redis.ViewRule, now func() time.Time, log *slog.Logger) *viewBatcher {
	return &viewBatcher{rdb: rdb, rule: rule, now: now, log: log, windows: newWindowCache(rule, windowCacheMax)}
}

func (b *viewBatcher) do(ctx context.Context, hb redis.Heartbeat) (redis.HeartbeatResult, error) {
	if b.windows != nil {
		if r, ok := b.windows.answer(hb, b.now().UnixMilli()); ok {
			return r, nil
		}
	}
	b.mu.Lock()
	if b.open == nil || len(b.open.hbs) >= maxBatch {
		if b.open != nil {
			// A full batch waits for a sender; a new one opens behind it.
			b.queued = append(b.queued, b.open)
		}
		b.open = &hbBatch{done: make(chan struct{})}
	}
	batch, i := b.open, len(b.open.hbs)
	batch.hbs = append(batch.hbs, hb)
	lead := b.inFlight < maxInFlight
	if lead {
		b.inFlight++
	}
	b.mu.Unlock()
	if lead {
		b.send()
	}
	select {
	case <-batch.done:
		if batch.err != nil {
			return 0, batch.err
		}
		return batch.res[i].Result, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// send drains batches until none is waiting; the caller that started it has its own heartbeat
// in the first one.
func (b *viewBatcher) send() {
	for {
		// Let callers that are about to join do so: a bigger batch costs the same round trip.
		for range 2 {
			b.mu.Lock()
			small := b.open != nil && len(b.open.hbs) < 32 && len(b.queued) == 0
			b.mu.Unlock()
			if !small {
				break
			}
			goruntime.Gosched()
		}
		b.mu.Lock()
		var batch *hbBatch
		switch {
		case len(b.queued) > 0:
			batch, b.queued = b.queued[0], b.queued[1:]
		case b.open != nil:
			batch, b.open = b.open, nil
		default:
			b.inFlight--
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		// The batch outlives any one caller's request: it has its own deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		now := b.now()
		batch.res, batch.err = b.rdb.HeartbeatWindows(ctx, b.rule, now, batch.hbs)
		cancel()
		if batch.err == nil && b.windows != nil {
			b.windows.learn(batch.hbs, batch.res, now.UnixMilli())
		}
		close(batch.done)
	}
}

// windowCache remembers, per instance, the viewing windows Redis told it about, so that the
// heartbeats of a running window (most of them: a player beats every few seconds for as long
// as it plays) are answered without a round trip. It only ever answers what Redis would:
// "watching" before the minimum watch time of a window whose start it knows, "already
// counted" for a counted window until a margin before the window ends. Everything else (a
// window crossing the minimum, a window's end, a viewer it does not know) goes to Redis,
// which alone starts windows and counts views. Other instances cannot make an answer wrong: a
// window's start never changes while it lasts, and a counted window stays counted.
type windowCache struct {
	minWatch, window int64 // ms
	max              int

	mu sync.Mutex
	m  map[string]knownWindow
}

type knownWindow struct {
	startMS int64
	counted bool
}

const (
	// windowMargin covers the clock differences between instances and Redis (whose key
	// expiry ends a window): a counted window is given back to Redis this long before its end.
	windowMargin = 5 * time.Second
	// windowCacheMax bounds the memory: about 100 bytes a window.
	windowCacheMax = 100_000
)

func newWindowCache(rule redis.ViewRule, max int) *windowCache {
	return &windowCache{minWatch: rule.MinWatch.Milliseconds(), window: (rule.Window - windowMargin).Milliseconds(),
		max: max, m: make(map[string]knownWindow)}
}

func windowKey(hb redis.Heartbeat) string { return hb.VideoID + "\x00" + hb.Viewer }

// useful reports whether w can still answer a heartbeat at nowMS.
func (c *windowCache) useful(w knownWindow, nowMS int64) bool {
	if nowMS < w.startMS {
		return false // a clock behind the window's start: let Redis judge
	}
	if w.counted {
		return nowMS-w.startMS < c.window
	}
	return nowMS-w.startMS < c.minWatch
}

func (c *windowCache) answer(hb redis.Heartbeat, nowMS int64) (redis.HeartbeatResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.m[windowKey(hb)]
	if !ok || !c.useful(w, nowMS) {
		return 0, false
	}
	if w.counted {
		return redis.HeartbeatAlreadyCounted, true
	}
	return redis.HeartbeatWatching, true
}

func (c *windowCache) learn(hbs []redis.Heartbeat, res []redis.HeartbeatWindow, nowMS int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, r := range res {
		if r.StartMS == 0 {
			continue
		}
		w := knownWindow{startMS: r.StartMS, counted: r.Result == redis.HeartbeatCounted || r.Result == redis.HeartbeatAlreadyCounted ||
			r.Result == redis.HeartbeatCapped}
		k := windowKey(hbs[i])
		if !c.useful(w, nowMS) {
			delete(c.m, k)
			continue
		}
		if len(c.m) >= c.max {
			c.evict(nowMS)
		}
		c.m[k] = w
	}
}

// evict drops the windows that can no longer answer, and everything when that is not enough:
// forgetting costs a round trip, never a wrong count.
func (c *windowCache) evict(nowMS int64) {
	for k, w := range c.m {
		if !c.useful(w, nowMS) {
			delete(c.m, k)
		}
	}
	if len(c.m) >= c.max*3/4 {
		clear(c.m)
	}
}
