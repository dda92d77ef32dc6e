package engagement

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// VideoInfo is what engagement needs to know about a video to let someone act on it.
type VideoInfo struct {
	ID         string            `json:"id"`
	OwnerID    string            `json:"owner_id"`
	Status     vodfc.VideoStatus `json:"status"`
	Visibility vodfc.Visibility  `json:"visibility"`
	DurationMS int64             `json:"duration_ms"`
	Missing    bool              `json:"missing,omitempty"` // cached "no such video"
}

// VisibleTo reports whether userID ("" for anonymous) may see the video (vodfc.Video.VisibleTo).
func (i *VideoInfo) VisibleTo(userID string) bool {
	if i.Missing {
		return false
	}
	v := vodfc.Video{OwnerID: i.OwnerID, Status: i.Status, Visibility: i.Visibility}
	return v.VisibleTo(userID)
}

// Duration is the video's length.
func (i *VideoInfo) Duration() time.Duration { return time.Duration(i.DurationMS) * time.Millisecond }

// Gate answers "may this user act on this video" from a cache: an instance-local copy for a
// couple of seconds, then Redis for LocalTTL..RedisTTL, then the video row. A video's status or
// visibility change therefore reaches engagement within LocalTTL + RedisTTL (32 s by default);
// the videos function can call Forget to make it immediate.
type Gate struct {
	store    *videos.Store
	rdb      *redis.Client
	log      *slog.Logger
	localTTL time.Duration
	redisTTL time.Duration

	mu    sync.Mutex
	local map[string]localInfo
}

type localInfo struct {
	info    *VideoInfo
	expires time.Time
}

// NewGate returns a gate over the videos table.
func NewGate(db *tablestore.Client, rdb *redis.Client, log *slog.Logger) *Gate {
	return &Gate{store: videos.NewStore(db), rdb: rdb, log: log, localTTL: 2 * time.Second, redisTTL: 30 * time.Second,
		local: map[string]localInfo{}}
}

// maxLocal bounds the instance-local cache; past it the cache is simply emptied.
const maxLocal = 20000

func gateKey(id string) string { return "vinfo:" + id }

// Info returns what the gate knows of video id; a missing video is a *VideoInfo with Missing.
func (g *Gate) Info(ctx context.Context, id string) (*VideoInfo, error) {
	if !vodfc.ValidID(id) {
		return &VideoInfo{ID: id, Missing: true}, nil
	}
	now := time.Now()
	g.mu.Lock()
	if li, ok := g.local[id]; ok && now.Before(li.expires) {
		g.mu.Unlock()
		return li.info, nil
	}
	g.mu.Unlock()
	var info VideoInfo
	ok, err := g.rdb.GetJSON(ctx, gateKey(id), &info)
	if err != nil {
		g.log.WarnContext(ctx, "video cache unavailable; reading the row", "err", err)
	}
	if !ok {
		v, err := g.store.Get(ctx, id)
		switch {
		case vodfc.IsCode(err, "video_not_found"):
			info = VideoInfo{ID: id, Missing: true}
		case err != nil:
			return nil, storageErr(err)
		default:
			info = VideoInfo{ID: v.ID, OwnerID: v.OwnerID, Status: v.Status, Visibility: v.Visibility, DurationMS: v.Duration.Milliseconds()}
		}
		ttl := g.redisTTL
		if info.Missing {
			ttl = 5 * time.Second
		}
		if err := g.rdb.SetJSON(ctx, gateKey(id), info, ttl); err != nil {
			g.log.WarnContext(ctx, "caching a video failed", "err", err)
		}
	}
	g.mu.Lock()
	if len(g.local) >= maxLocal {
		g.local = map[string]localInfo{}
	}
	g.local[id] = localInfo{info: &info, expires: now.Add(g.localTTL)}
	g.mu.Unlock()
	return &info, nil
}

// Forget drops the cached facts of video id (after its status or visibility changed).
func (g *Gate) Forget(ctx context.Context, id string) error {
	g.mu.Lock()
	delete(g.local, id)
	g.mu.Unlock()
	return g.rdb.Delete(ctx, gateKey(id))
}

// errVideoNotReady is a visible video that cannot take engagement yet (its owner looking at it
// while it processes).
func errVideoNotReady() error {
	return vodfc.Conflict("video_not_ready", "the video is not published yet")
}

// Readable returns the video if userID may see it; anything else is video_not_found, so a
// private video looks the same as a missing one to strangers.
func (g *Gate) Readable(ctx context.Context, id, userID string) (*VideoInfo, error) {
	info, err := g.Info(ctx, id)
	if err != nil {
		return nil, err
	}
	if !info.VisibleTo(userID) {
		return nil, videos.ErrNotFound()
	}
	return info, nil
}

// Actionable returns the video if userID may see it and it is published (ready).
func (g *Gate) Actionable(ctx context.Context, id, userID string) (*VideoInfo, error) {
	info, err := g.Readable(ctx, id, userID)
	if err != nil {
		return nil, err
	}
	if info.Status != vodfc.StatusReady {
		return nil, errVideoNotReady()
	}
	return info, nil
}

// storageErr turns a storage failure into the domain error a handler answers with: a busy
// service is a 503 a retry may cure, a failed condition stays as it is for the caller to read,
// anything else is internal.
func storageErr(err error) error {
	var de *vodfc.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de), tablestore.IsConditionFailed(err), errors.Is(err, ErrOwnerGone):
		return err
	case tablestore.IsBusy(err), errors.Is(err, context.DeadlineExceeded), transportErr(err):
		return vodfc.Unavailable(err)
	}
	var ru *redis.Unavailable
	if errors.As(err, &ru) {
		return vodfc.Unavailable(err)
	}
	return vodfc.Internal(err)
}

// transportErr reports a failure to reach the service or to hear its answer (a reset
// connection, an EOF, a timeout): whether the request was applied is unknown, and a retry of
// the whole request may succeed.
func transportErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// StorageError is storageErr for features built on this package (danmaku).
func StorageError(err error) error { return storageErr(err) }
