package danmaku

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/engagement"
	"vodfc.dev/vodfc/tablestore"
)

func fromRow(r *tablestore.Row) *Danmaku {
	return &Danmaku{ID: r.Key.Int("danmaku_id"), VideoID: r.Key.Str("video_id"), TimeMS: r.Key.Int("time_ms"),
		Text: r.Str(colText), Mode: Mode(r.Str(colMode)), Color: int(r.Int(colColor)), Size: Size(r.Str(colSize)),
		UserID: r.Str(colUser), Sender: r.Str(colSender), CreatedAt: time.UnixMilli(r.Int(colCreatedAt)).UTC(), Hidden: r.Bool(colHidden)}
}

var visible = []tablestore.Pred{tablestore.Eq(colHidden, false)}

// loadSegment reads one segment: one range read, hidden danmaku filtered by the service.
func (s *Service) loadSegment(ctx context.Context, videoID string, seg int64) ([]*Danmaku, error) {
	rows, _, err := s.db.GetRange(ctx, tablestore.Danmaku.Name, tablestore.Range{
		Start: tablestore.K("video_id", videoID, "segment", seg, "time_ms", tablestore.Min, "danmaku_id", tablestore.Min),
		End:   tablestore.K("video_id", videoID, "segment", seg, "time_ms", tablestore.Max, "danmaku_id", tablestore.Max),
		Limit: s.cfg.SegmentCap, Where: visible})
	if err != nil {
		return nil, engagement.StorageError(err)
	}
	out := make([]*Danmaku, len(rows))
	for i, r := range rows {
		out[i] = fromRow(r)
	}
	return out, nil
}

// loadAll reads a video's visible danmaku and keeps the newest AllCap, in time order.
func (s *Service) loadAll(ctx context.Context, videoID string) ([]*Danmaku, error) {
	var out []*Danmaku
	err := s.db.Scan(ctx, tablestore.Danmaku.Name, tablestore.Range{
		Start: tablestore.K("video_id", videoID, "segment", tablestore.Min, "time_ms", tablestore.Min, "danmaku_id", tablestore.Min),
		End:   tablestore.K("video_id", videoID, "segment", tablestore.Max, "time_ms", tablestore.Max, "danmaku_id", tablestore.Max),
		Where: visible}, func(r *tablestore.Row) error {
		out = append(out, fromRow(r))
		if len(out) >= 2*s.cfg.AllCap {
			out = newest(out, s.cfg.AllCap) // bounded memory on very busy videos
		}
		return nil
	})
	if err != nil {
		return nil, engagement.StorageError(err)
	}
	return newest(out, s.cfg.AllCap), nil
}

// rendered is a cached output: its body and strong ETag.
type rendered struct {
	etag string
	body []byte
}

// cached returns output field of a video from the Redis cache, or renders it and stores it
// unless a change happened since the cache was read (then the next reader renders again).
func (s *Service) cached(ctx context.Context, videoID, field string, render func() ([]byte, error)) (rendered, error) {
	out, ok, tok := s.local.get(videoID, field)
	if ok {
		return out, nil
	}
	out, err := s.shared(ctx, videoID, field, render)
	if err == nil && s.cfg.LocalTTL > 0 {
		// Kept only if no change went through this instance meanwhile.
		s.local.put(videoID, field, out, tok, time.Now().Add(s.cfg.LocalTTL))
	}
	return out, err
}

// shared is the Redis layer of cached.
func (s *Service) shared(ctx context.Context, videoID, field string, render func() ([]byte, error)) (rendered, error) {
	frag, cerr := s.rdb.GetFragment(ctx, cacheKey(videoID), field)
	if cerr != nil {
		s.log.WarnContext(ctx, "danmaku cache unavailable; rendering", "err", cerr)
	}
	if frag.Value != nil {
		if i := bytes.IndexByte(frag.Value, '\n'); i > 0 {
			return rendered{etag: string(frag.Value[:i]), body: frag.Value[i+1:]}, nil
		}
	}
	body, err := render()
	if err != nil {
		return rendered{}, err
	}
	sum := sha256.Sum256(body)
	out := rendered{etag: `"` + hex.EncodeToString(sum[:12]) + `"`, body: body}
	if cerr == nil {
		val := make([]byte, 0, len(out.etag)+1+len(body))
		val = append(append(append(val, out.etag...), '\n'), body...)
		if _, err := s.rdb.PutFragment(ctx, cacheKey(videoID), field, val, frag.Version, s.cfg.CacheTTL); err != nil {
			s.log.WarnContext(ctx, "caching rendered danmaku failed", "err", err)
		}
	}
	return out, nil
}

// maxSegment is the last segment of a video (1 for a video of unknown length).
func maxSegment(info *engagement.VideoInfo) int64 {
	if info.DurationMS <= 0 {
		return 1
	}
	return (info.DurationMS-1)/SegmentMS + 1
}

// SegmentJSON returns the JSON of segment seg of a video viewerID may see.
func (s *Service) SegmentJSON(ctx context.Context, viewerID, videoID string, seg int64) (rendered, *engagement.VideoInfo, error) {
	info, err := s.eng.Gate.Readable(ctx, videoID, viewerID)
	if err != nil {
		return rendered{}, nil, err
	}
	if seg < 1 || seg > maxSegment(info) {
		return rendered{}, nil, invalid("invalid_segment", "segment", "segment is 1 to "+strconv.FormatInt(maxSegment(info), 10)+" for this video")
	}
	out, err := s.cached(ctx, videoID, segField(seg), func() ([]byte, error) {
		ds, err := s.loadSegment(ctx, videoID, seg)
		if err != nil {
			return nil, err
		}
		return RenderSegment(videoID, seg, ds), nil
	})
	return out, info, err
}

// XML returns the Bilibili-style XML of a video viewerID may see.
func (s *Service) XML(ctx context.Context, viewerID, videoID string) (rendered, *engagement.VideoInfo, error) {
	info, err := s.eng.Gate.Readable(ctx, videoID, viewerID)
	if err != nil {
		return rendered{}, nil, err
	}
	out, err := s.cached(ctx, videoID, "xml", func() ([]byte, error) {
		ds, err := s.loadAll(ctx, videoID)
		if err != nil {
			return nil, err
		}
		return RenderXML(videoID, s.cfg.AllCap, ds), nil
	})
	return out, info, err
}

// DPlayer returns DPlayer's v3 list of the newest max danmaku of a video viewerID may see.
func (s *Service) DPlayer(ctx context.Context, viewerID, videoID string, max int) (rendered, *engagement.VideoInfo, error) {
	info, err := s.eng.Gate.Readable(ctx, videoID, viewerID)
	if err != nil {
		return rendered{}, nil, err
	}
	out, err := s.cached(ctx, videoID, "dp:"+strconv.Itoa(max), func() ([]byte, error) {
		ds, err := s.loadAll(ctx, videoID)
		if err != nil {
			return nil, err
		}
		return RenderDPlayer(newest(ds, max)), nil
	})
	return out, info, err
}

// Heatmap returns the heatmap of a video viewerID may see.
func (s *Service) Heatmap(ctx context.Context, viewerID, videoID string, bucketS int64) (rendered, *engagement.VideoInfo, error) {
	if bucketS < 1 || bucketS > 600 {
		return rendered{}, nil, invalid("invalid_bucket", "bucket_s", "bucket_s is 1 to 600 seconds")
	}
	info, err := s.eng.Gate.Readable(ctx, videoID, viewerID)
	if err != nil {
		return rendered{}, nil, err
	}
	out, err := s.cached(ctx, videoID, "heat:"+strconv.FormatInt(bucketS, 10), func() ([]byte, error) {
		ds, err := s.loadAll(ctx, videoID)
		if err != nil {
			return nil, err
		}
		return RenderHeatmap(info.DurationMS, bucketS, ds), nil
	})
	return out, info, err
}

// cacheControl is how long clients and shared caches may keep an output: a private video's
// outputs only in the owner's own cache.
func (s *Service) cacheControl(info *engagement.VideoInfo) string {
	scope := "public"
	if info.Visibility == vodfc.Private {
		scope = "private"
	}
	return scope + ", max-age=" + strconv.Itoa(int(s.cfg.MaxAge.Seconds()))
}

// localCache holds rendered outputs in the instance's memory for LocalTTL, per video so that a
// change drops all of a video's outputs at once. A drop also moves the video's generation on,
// so an output rendered before the change but stored after it is refused.
type localCache struct {
	mu      sync.RWMutex
	byVideo map[string]*localVideo
	n       int
	epoch   uint64 // moves on when the cache starts over
}

// localToken is what a reader saw before rendering; put compares it with the present.
type localToken struct{ gen, epoch uint64 }

type localVideo struct {
	gen     uint64
	entries map[string]localEntry
}

type localEntry struct {
	out     rendered
	expires time.Time
}

// maxLocalEntries bounds the memory: past it the cache starts over.
const maxLocalEntries = 4096

// get returns a live entry, or the token to hand back to put.
func (c *localCache) get(videoID, field string) (rendered, bool, localToken) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v := c.byVideo[videoID]
	if v == nil {
		return rendered{}, false, localToken{epoch: c.epoch}
	}
	tok := localToken{gen: v.gen, epoch: c.epoch}
	e, ok := v.entries[field]
	if !ok || time.Now().After(e.expires) {
		return rendered{}, false, tok
	}
	return e.out, true, tok
}

func (c *localCache) put(videoID, field string, out rendered, tok localToken, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tok.epoch != c.epoch {
		return // the cache started over, generations with it
	}
	if !c.room() {
		return
	}
	v := c.video(videoID)
	if v.gen != tok.gen {
		return
	}
	if _, ok := v.entries[field]; !ok {
		c.n++
	}
	v.entries[field] = localEntry{out: out, expires: expires}
}

func (c *localCache) drop(videoID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.room() {
		return // started over: nothing is cached, and every render in flight is refused
	}
	v := c.video(videoID)
	c.n -= len(v.entries)
	v.gen++
	v.entries = map[string]localEntry{}
}

// room makes sure the cache has room for one more record, starting it over (and refusing
// every render in flight) when it is full; it reports false when it started over. Records of
// videos count as entries, so videos only ever posted to cannot grow it without bound.
func (c *localCache) room() bool {
	if c.byVideo == nil {
		c.byVideo = map[string]*localVideo{}
	}
	if c.n < maxLocalEntries {
		return true
	}
	c.byVideo, c.n = map[string]*localVideo{}, 0
	c.epoch++
	return false
}

// video returns the record of a video, making it.
func (c *localCache) video(videoID string) *localVideo {
	v := c.byVideo[videoID]
	if v == nil {
		v = &localVideo{entries: map[string]localEntry{}}
		c.byVideo[videoID] = v
		c.n++
	}
	return v
}
