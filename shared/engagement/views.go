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
// call. rollup flushes the counted views into the video rows and the daily stats.

// ViewInput is the body of POST /videos/{id}/views.
type ViewInput struct {
	SessionID string   `json:"session_id"`
	PositionS *float64 `json:"position_s"`
}

// ViewState is the answer to a heartbeat.
type ViewState struct {
	// Counted is true once this viewer's view of the video counts in the current window.
	Counted bool `json:"counted"`
	// State is "started", "watching", "counted" (just now) or "already_counted".
	State string `json:"state"`
}

var sessionIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// Heartbeat records that a player is still playing videoID at PositionS.
func (s *Service) Heartbeat(ctx context.Context, userID, videoID string, in ViewInput) (ViewState, error) {
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
	viewer := "s:" + in.SessionID
	if userID != "" {
		viewer = "u:" + userID // one view per person, whatever the device
	}
	res, err := s.views.do(ctx, redis.Heartbeat{VideoID: videoID, Viewer: viewer, Day: day(s.now())})
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
	}
	return ViewState{Counted: true, State: "already_counted"}, nil
}

// viewBatcher groups concurrent heartbeats into one Redis pipeline per round trip, with at most
// maxInFlight pipelines on the wire. Callers join the open batch; a sender takes it whole,
// sends it, and wakes all its callers at once.
type viewBatcher struct {
	rdb  *redis.Client
	rule redis.ViewRule
	now  func() time.Time
	log  *slog.Logger

	mu       sync.Mutex
	open     *hbBatch   // the batch callers join
	queued   []*hbBatch // full batches no sender took yet
	inFlight int
}

type hbBatch struct {
	hbs  []redis.Heartbeat
	res  []redis.HeartbeatResult
	err  error
	done chan struct{}
}

const (
	maxInFlight = 1
	maxBatch    = 512
)

func newViewBatcher(rdb *redis.Client, rule redis.ViewRule, now func() time.Time, log *slog.Logger) *viewBatcher {
	return &viewBatcher{rdb: rdb, rule: rule, now: now, log: log}
}

func (b *viewBatcher) do(ctx context.Context, hb redis.Heartbeat) (redis.HeartbeatResult, error) {
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
		return batch.res[i], nil
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
		batch.res, batch.err = b.rdb.Heartbeats(ctx, b.rule, b.now(), batch.hbs)
		cancel()
		close(batch.done)
	}
}
