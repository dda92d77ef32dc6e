package engagement

import (
	"context"
	"log/slog"
	"math"
	"regexp"
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

// viewBatcher groups concurrent heartbeats into one Redis call per round trip, with at most
// maxInFlight calls on the wire.
type viewBatcher struct {
	rdb  *redis.Client
	rule redis.ViewRule
	log  *slog.Logger

	mu       sync.Mutex
	queue    []*hbRequest
	inFlight int
}

type hbRequest struct {
	hb   redis.Heartbeat
	res  redis.HeartbeatResult
	err  error
	done chan struct{}
}

const (
	maxInFlight = 4
	maxBatch    = 256
)

func newViewBatcher(rdb *redis.Client, rule redis.ViewRule, log *slog.Logger) *viewBatcher {
	return &viewBatcher{rdb: rdb, rule: rule, log: log}
}

func (b *viewBatcher) do(ctx context.Context, hb redis.Heartbeat) (redis.HeartbeatResult, error) {
	req := &hbRequest{hb: hb, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, req)
	lead := b.inFlight < maxInFlight
	if lead {
		b.inFlight++
	}
	b.mu.Unlock()
	if lead {
		// This caller becomes a sender: it drains the queue until it is empty, its own
		// heartbeat in the first batch.
		b.send()
	}
	select {
	case <-req.done:
		return req.res, req.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (b *viewBatcher) send() {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.inFlight--
			b.mu.Unlock()
			return
		}
		n := min(len(b.queue), maxBatch)
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		hbs := make([]redis.Heartbeat, len(batch))
		for i, r := range batch {
			hbs[i] = r.hb
		}
		// The batch outlives any one caller's request: it has its own deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res, err := b.rdb.Heartbeats(ctx, b.rule, hbs)
		cancel()
		for i, r := range batch {
			if err != nil {
				r.err = err
			} else {
				r.res = res[i]
			}
			close(r.done)
		}
	}
}
