// Package danmaku owns bullet comments: the posting rules (text, position, cooldown, daily
// quota, visibility), their storage keyed so a 6-minute segment is one range read, recall and
// reports, and the formats players read — JSON segments, Bilibili-style XML (ArtPlayer and
// many tools), DPlayer's v3 API and ArtPlayer's heatmap. Rendered outputs are cached in Redis
// per video and invalidated by every change. The video's danmaku counter is kept through the
// engagement Ledger, like every other counter.
package danmaku

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/engagement"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// SegmentMS is the length of a segment: segment n covers [(n-1)·SegmentMS, n·SegmentMS).
const SegmentMS = 6 * 60 * 1000

// Mode is where a danmaku flies.
type Mode string

const (
	Scroll Mode = "scroll"
	Top    Mode = "top"
	Bottom Mode = "bottom"
)

// Size is a danmaku's font size.
type Size string

const (
	Small  Size = "small"
	Normal Size = "normal"
	Large  Size = "large"
)

// Danmaku is one bullet comment.
type Danmaku struct {
	ID      int64
	VideoID string
	TimeMS  int64
	Text    string
	Mode    Mode
	Color   int // 0xRRGGBB
	Size    Size
	UserID  string
	// Sender is what outputs show instead of the user id (see Service.Sender), as stored
	// when the danmaku was posted.
	Sender    string
	CreatedAt time.Time
	Hidden    bool
}

// Sender is what outputs show instead of userID: eight hex digits of a CRC32, the form
// Bilibili's XML and the players reading it use to group (or block) one sender's danmaku.
// Bilibili's CRC32 of the bare user id is reversed by hashing candidate ids, and ours are
// public (a video's owner, a comment's author), so with a key the CRC32 is taken over an
// HMAC-SHA256 of the id: stable per user, unlinkable to the user without the key. Without a
// key (tests, a library user who has none) it is the bare CRC32.
func (s *Service) Sender(userID string) string {
	if len(s.cfg.SenderKey) == 0 {
		return fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(userID)))
	}
	m := hmac.New(sha256.New, s.cfg.SenderKey)
	m.Write([]byte(userID))
	return fmt.Sprintf("%08x", crc32.ChecksumIEEE(m.Sum(nil)))
}

// Segment is the segment holding time t (ms).
func Segment(timeMS int64) int64 { return timeMS/SegmentMS + 1 }

// Config configures the danmaku service; zero values take the defaults.
type Config struct {
	Engagement *engagement.Service
	Log        *slog.Logger
	// Cooldown between two danmaku of one user (5 s) and DailyQuota per user per 24 h (300).
	Cooldown   time.Duration
	DailyQuota int
	// RecallWindow is how long a sender may take a danmaku back (2 min).
	RecallWindow time.Duration
	// HideAfterReports hides a danmaku reported by this many users (5).
	HideAfterReports int
	// SegmentCap bounds a JSON segment (6000); AllCap bounds what the XML, DPlayer and heatmap
	// outputs read (the newest 20000 of a video).
	SegmentCap int
	AllCap     int
	// MaxAge is the Cache-Control max-age of the read outputs (10 s); CacheTTL how long Redis
	// keeps a rendered output (10 min; every post drops what it changes).
	MaxAge   time.Duration
	CacheTTL time.Duration
	// SenderKey keys the sender hashes public outputs show (DANMAKU_SENDER_KEY; see Sender).
	SenderKey []byte
	// LocalTTL is how long an instance serves a rendered output from its own memory without
	// asking Redis (1 s; negative turns it off). A change made through another instance
	// therefore shows here within LocalTTL — well inside the MaxAge clients and CDNs may keep
	// it anyway — and a change made through this instance shows at once.
	LocalTTL time.Duration
}

func (c *Config) defaults() {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Cooldown <= 0 {
		c.Cooldown = 5 * time.Second
	}
	if c.DailyQuota <= 0 {
		c.DailyQuota = 300
	}
	if c.RecallWindow <= 0 {
		c.RecallWindow = 2 * time.Minute
	}
	if c.HideAfterReports <= 0 {
		c.HideAfterReports = 5
	}
	if c.SegmentCap <= 0 {
		c.SegmentCap = 6000
	}
	if c.AllCap <= 0 {
		c.AllCap = 20000
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 10 * time.Second
	}
	if c.CacheTTL <= 0 {
		c.CacheTTL = 10 * time.Minute
	}
	if c.LocalTTL == 0 {
		c.LocalTTL = time.Second
	}
}

// Service is the danmaku feature.
type Service struct {
	cfg   Config
	eng   *engagement.Service
	db    *tablestore.Client
	rdb   *redis.Client
	log   *slog.Logger
	local localCache
}

// New returns the service and registers the video.danmaku counter with the engagement Ledger,
// so rollup recounts it like the others.
func New(cfg Config) (*Service, error) {
	if cfg.Engagement == nil {
		return nil, fmt.Errorf("danmaku: the engagement service is required")
	}
	cfg.defaults()
	s := &Service{cfg: cfg, eng: cfg.Engagement, rdb: cfg.Engagement.Redis(), log: cfg.Log}
	s.db = cfg.Engagement.Store()
	cfg.Engagement.Ledger.Register(engagement.VideoDanmaku, engagement.CounterDef{Owner: cfg.Engagement.VideoOwner(),
		Col: videos.ColDanmaku, Count: s.countVideo})
	return s, nil
}

// Table columns.
const (
	colUser      = "user_id"
	colSender    = "sender"
	colText      = "text"
	colMode      = "mode"
	colColor     = "color"
	colSize      = "size"
	colCreatedAt = "created_at"
	colHidden    = "hidden"
	colReports   = "reports"
	colVideo     = "video_id"
	colSegment   = "segment"
	colTime      = "time_ms"
	colRecalled  = "recalled_at"
	colReason    = "reason"
)

func rowKey(videoID string, timeMS, id int64) tablestore.Key {
	return tablestore.K("video_id", videoID, "segment", Segment(timeMS), "time_ms", timeMS, "danmaku_id", id)
}

// newID makes a danmaku id: milliseconds since 2024 in the high bits (so ids follow posting
// time), 22 random bits below; positive and below 2^63 until 2093.
func newID(now time.Time) int64 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	ms := now.UnixMilli() - time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	return ms<<22 | int64(binary.BigEndian.Uint32(b[:])&(1<<22-1))
}

// Input is the body of POST /videos/{id}/danmaku.
type Input struct {
	TimeMS *int64 `json:"time_ms"`
	Text   string `json:"text"`
	Mode   Mode   `json:"mode,omitempty"`
	Color  string `json:"color,omitempty"`
	Size   Size   `json:"size,omitempty"`
}

var colorPattern = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

func invalid(code, field, msg string) error {
	return &vodfc.Error{Kind: vodfc.KindInvalid, Code: code, Message: msg, Fields: map[string]string{field: msg}}
}

// check applies the rules that need no storage and returns the danmaku to store.
func (in Input) check() (Danmaku, error) {
	d := Danmaku{Mode: in.Mode, Size: in.Size, Color: 0xffffff}
	d.Text = strings.TrimSpace(engagement.CleanText(in.Text, false))
	switch n := utf8.RuneCountInString(d.Text); {
	case n == 0:
		return d, invalid("danmaku_text_empty", "text", "a danmaku needs some text")
	case n > 100:
		return d, invalid("danmaku_text_too_long", "text", "a danmaku has at most 100 characters")
	}
	switch d.Mode {
	case "":
		d.Mode = Scroll
	case Scroll, Top, Bottom:
	default:
		return d, invalid("invalid_mode", "mode", "mode is scroll, top or bottom")
	}
	switch d.Size {
	case "":
		d.Size = Normal
	case Small, Normal, Large:
	default:
		return d, invalid("invalid_size", "size", "size is small, normal or large")
	}
	if in.Color != "" {
		if !colorPattern.MatchString(in.Color) {
			return d, invalid("invalid_color", "color", `color is "#RRGGBB"`)
		}
		c, _ := strconv.ParseInt(in.Color[1:], 16, 32)
		d.Color = int(c)
	}
	if in.TimeMS == nil || *in.TimeMS < 0 {
		return d, invalid("time_out_of_range", "time_ms", "time_ms is a position within the video")
	}
	d.TimeMS = *in.TimeMS
	return d, nil
}

// Post stores a danmaku from userID on videoID after checking every rule.
func (s *Service) Post(ctx context.Context, userID, videoID string, in Input) (*Danmaku, error) {
	d, err := in.check()
	if err != nil {
		return nil, err
	}
	info, err := s.eng.Gate.Actionable(ctx, videoID, userID)
	if err != nil {
		return nil, err
	}
	if info.DurationMS > 0 && d.TimeMS >= info.DurationMS {
		return nil, invalid("time_out_of_range", "time_ms", "time_ms is a position within the video")
	}
	if dec, err := s.rdb.Cooldown(ctx, "dm:cd:"+userID, s.cfg.Cooldown); err != nil {
		s.log.WarnContext(ctx, "danmaku cooldown unavailable; allowing", "err", err)
	} else if !dec.Allowed {
		return nil, vodfc.RateLimited("danmaku_cooldown", dec.RetryAfter)
	}
	if dec, err := s.rdb.Quota(ctx, "dm:q:"+userID, s.cfg.DailyQuota, 24*time.Hour); err != nil {
		s.log.WarnContext(ctx, "danmaku quota unavailable; allowing", "err", err)
	} else if !dec.Allowed {
		return nil, vodfc.RateLimited("danmaku_quota_exceeded", dec.RetryAfter)
	}
	now := s.eng.Now()
	d.ID, d.VideoID, d.UserID, d.CreatedAt = newID(now), videoID, userID, now.UTC().Truncate(time.Millisecond)
	d.Sender = s.Sender(userID)
	seg := Segment(d.TimeMS)
	index := tablestore.Write{Table: tablestore.DanmakuIDs.Name, Key: tablestore.K("danmaku_id", d.ID),
		Put: tablestore.Cols{colVideo: videoID, colSegment: seg, colTime: d.TimeMS, colUser: userID, colCreatedAt: now.UnixMilli()}, Cond: tablestore.Always}
	target := engagement.Counter{Kind: engagement.VideoDanmaku, Ref: videoID}
	op, err := s.eng.Ledger.Begin(ctx, "danmaku", []engagement.Counter{target}, index)
	if err != nil {
		return nil, err
	}
	cols := tablestore.Cols{colUser: userID, colSender: d.Sender, colText: d.Text, colMode: string(d.Mode),
		colColor: int64(d.Color), colSize: string(d.Size), colCreatedAt: now.UnixMilli(), colHidden: false, colReports: int64(0)}
	err = s.db.Put(ctx, tablestore.Danmaku.Name, rowKey(videoID, d.TimeMS, d.ID), cols, tablestore.IfNotExists())
	if err != nil { // a fresh random id cannot collide; anything here is a failure, maybe applied
		return nil, engagement.StorageError(err)
	}
	snap, err := op.Add(ctx, target, 1)
	if err != nil {
		return nil, engagement.StorageError(err)
	}
	op.End(ctx)
	s.eng.CacheSnapshot(ctx, videoID, snap)
	s.eng.Tally(ctx, videoID, videos.ColDanmaku, 1)
	s.invalidate(ctx, videoID, seg)
	return &d, nil
}

// invalidate drops the cached outputs a change to segment seg of a video affects: that
// segment, the whole-video outputs; the other segments stay.
func (s *Service) invalidate(ctx context.Context, videoID string, seg int64) {
	s.local.drop(videoID)
	if err := s.rdb.InvalidateFragments(ctx, cacheKey(videoID), segField(seg), "seg:"); err != nil {
		// The cached outputs then live until CacheTTL: stale, never wrong for long.
		s.log.ErrorContext(ctx, "invalidating cached danmaku failed", "video", videoID, "err", err)
	}
}

func cacheKey(videoID string) string { return "dm:" + videoID }
func segField(seg int64) string      { return "seg:" + strconv.FormatInt(seg, 10) }

// located is a danmaku's index row.
type located struct {
	id       int64
	videoID  string
	timeMS   int64
	userID   string
	created  time.Time
	recalled bool
}

func (s *Service) locate(ctx context.Context, idStr string) (located, error) {
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || id <= 0 {
		return located{}, errNotFound()
	}
	r, err := s.db.Get(ctx, tablestore.DanmakuIDs.Name, tablestore.K("danmaku_id", id))
	if err != nil {
		return located{}, engagement.StorageError(err)
	}
	if r == nil {
		return located{}, errNotFound()
	}
	return located{id: id, videoID: r.Str(colVideo), timeMS: r.Int(colTime), userID: r.Str(colUser),
		created: time.UnixMilli(r.Int(colCreatedAt)), recalled: r.Has(colRecalled)}, nil
}

func errNotFound() error { return vodfc.NotFound("danmaku_not_found", "no such danmaku") }

// Recall takes back one of userID's danmaku within the recall window. Recalling a recalled
// danmaku succeeds.
func (s *Service) Recall(ctx context.Context, userID, id string) error {
	l, err := s.locate(ctx, id)
	if err != nil {
		return err
	}
	if l.userID != userID {
		if _, err := s.eng.Gate.Readable(ctx, l.videoID, userID); vodfc.IsCode(err, "video_not_found") {
			return errNotFound() // a 403 would confirm the danmaku, and the hidden video
		}
		return vodfc.Forbidden("not_danmaku_sender", "only its sender may recall a danmaku")
	}
	if l.recalled {
		return nil
	}
	if s.eng.Now().Sub(l.created) > s.cfg.RecallWindow {
		return vodfc.Conflict("recall_window_passed", "a danmaku can be recalled within 2 minutes of sending it")
	}
	target := engagement.Counter{Kind: engagement.VideoDanmaku, Ref: l.videoID}
	op, err := s.eng.Ledger.Begin(ctx, "danmaku_recall", []engagement.Counter{target})
	if err != nil {
		return err
	}
	key := rowKey(l.videoID, l.timeMS, l.id)
	err = s.db.Delete(ctx, tablestore.Danmaku.Name, key, tablestore.IfExists().Where(visible...))
	mark := tablestore.Write{Table: tablestore.DanmakuIDs.Name, Key: tablestore.K("danmaku_id", l.id),
		Update: &tablestore.Change{Set: tablestore.Cols{colRecalled: s.eng.Now().UnixMilli()}}, Cond: tablestore.IfExists()}
	if tablestore.IsConditionFailed(err) {
		// Hidden by reports (no longer counted), recalled meanwhile, or its post died before
		// the row: remove what is left without counting.
		if err := s.db.Delete(ctx, tablestore.Danmaku.Name, key, tablestore.Always); err != nil {
			return engagement.StorageError(err)
		}
		op.End(ctx, mark)
		s.invalidate(ctx, l.videoID, Segment(l.timeMS))
		return nil
	}
	if err != nil {
		return engagement.StorageError(err)
	}
	snap, err := op.Add(ctx, target, -1)
	if err != nil {
		return engagement.StorageError(err)
	}
	op.End(ctx, mark)
	s.eng.CacheSnapshot(ctx, l.videoID, snap)
	s.eng.Tally(ctx, l.videoID, videos.ColDanmaku, -1)
	s.invalidate(ctx, l.videoID, Segment(l.timeMS))
	return nil
}

// Report records userID's report of a danmaku (once per user); enough reports hide it.
func (s *Service) Report(ctx context.Context, userID, id, reason string) error {
	reason = strings.TrimSpace(engagement.CleanText(reason, false))
	if utf8.RuneCountInString(reason) > 200 {
		return invalid("invalid_reason", "reason", "a reason has at most 200 characters")
	}
	l, err := s.locate(ctx, id)
	if err != nil {
		return err
	}
	if l.recalled {
		return errNotFound()
	}
	if _, err := s.eng.Gate.Readable(ctx, l.videoID, userID); err != nil {
		return errNotFound()
	}
	err = s.db.Put(ctx, tablestore.DanmakuReports.Name, tablestore.K("danmaku_id", l.id, "user_id", userID),
		tablestore.Cols{colReason: reason, colCreatedAt: s.eng.Now().UnixMilli()}, tablestore.IfNotExists())
	if tablestore.IsConditionFailed(err) {
		return nil // reported before: one report per user
	}
	if err != nil {
		return engagement.StorageError(err)
	}
	var res map[string]int64
	res, err = s.db.Update(ctx, tablestore.Danmaku.Name, rowKey(l.videoID, l.timeMS, l.id),
		tablestore.Change{Incr: map[string]int64{colReports: 1}}, tablestore.IfExists())
	if tablestore.IsConditionFailed(err) {
		return nil // recalled meanwhile
	}
	if err != nil {
		return engagement.StorageError(err)
	}
	if res[colReports] >= int64(s.cfg.HideAfterReports) {
		return s.hide(ctx, l)
	}
	return nil
}

// hide takes a reported danmaku out of every output and out of the video's count, once: the
// update passes only on a visible row, so racing reports (or a racing recall) move the
// counter once between them.
func (s *Service) hide(ctx context.Context, l located) error {
	target := engagement.Counter{Kind: engagement.VideoDanmaku, Ref: l.videoID}
	op, err := s.eng.Ledger.Begin(ctx, "danmaku_hide", []engagement.Counter{target})
	if err != nil {
		return err
	}
	_, err = s.db.Update(ctx, tablestore.Danmaku.Name, rowKey(l.videoID, l.timeMS, l.id),
		tablestore.Change{Set: tablestore.Cols{colHidden: true}}, tablestore.IfExists().Where(visible...))
	if tablestore.IsConditionFailed(err) { // hidden or recalled already
		op.End(ctx)
		return nil
	}
	if err != nil {
		return engagement.StorageError(err)
	}
	snap, err := op.Add(ctx, target, -1)
	if err != nil {
		return engagement.StorageError(err)
	}
	op.End(ctx)
	s.eng.CacheSnapshot(ctx, l.videoID, snap)
	s.invalidate(ctx, l.videoID, Segment(l.timeMS))
	return nil
}

// countVideo is the truth of video.danmaku: the danmaku of the video that players show (not
// recalled, not hidden by reports), so the count matches what the outputs hold.
func (s *Service) countVideo(ctx context.Context, videoID string) (int64, error) {
	var n int64
	err := s.db.Scan(ctx, tablestore.Danmaku.Name, tablestore.Range{
		Start: tablestore.K("video_id", videoID, "segment", tablestore.Min, "time_ms", tablestore.Min, "danmaku_id", tablestore.Min),
		End:   tablestore.K("video_id", videoID, "segment", tablestore.Max, "time_ms", tablestore.Max, "danmaku_id", tablestore.Max),
		Cols:  []string{colMode, colHidden}, Where: visible}, func(*tablestore.Row) error { n++; return nil })
	return n, err
}
