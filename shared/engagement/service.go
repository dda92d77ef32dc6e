package engagement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// Config configures the engagement service. Zero tunables take the defaults below.
type Config struct {
	// Tablestore says where the records are. Its client never replays a write whose response
	// was lost (see tablestore.Client), which the exact counters rely on.
	Tablestore tablestore.Config
	Redis      *redis.Client
	Log        *slog.Logger
	Now        func() time.Time

	// DeadAfter is how old an intent must be before Repair takes its request for dead. It must
	// exceed the longest time an HTTP function can run (its s.yaml timeout) plus the storage
	// client's retry budget; default 2 minutes.
	DeadAfter time.Duration
	// Views: a view counts once per viewer per ViewWindow after ViewMinWatch (10 s, 1 h), and
	// the anonymous sessions of one client address add at most ViewsPerAddress views of a
	// video per ViewWindow (20; negative: no cap), found behind ProxyHops trusted proxies
	// (httpapi.ClientIP; LoadViewEnv reads both).
	ViewMinWatch    time.Duration
	ViewWindow      time.Duration
	ViewsPerAddress int
	ProxyHops       int
	// CountsTTL bounds how long cached counters live without a write refreshing them (60 s).
	CountsTTL time.Duration
	// MaxFolders per user (50) and MaxFolderEntries per folder (1000).
	MaxFolders       int
	MaxFolderEntries int
	// CommentRate limits comments per user (20 a minute, bursts of 5).
	CommentRate redis.Rate
}

func (c *Config) defaults() {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Now == nil {
		c.Now = runtime.Now
	}
	if c.DeadAfter <= 0 {
		c.DeadAfter = 2 * time.Minute
	}
	if c.ViewMinWatch <= 0 {
		c.ViewMinWatch = 10 * time.Second
	}
	if c.ViewWindow <= 0 {
		c.ViewWindow = time.Hour
	}
	switch {
	case c.ViewsPerAddress == 0:
		c.ViewsPerAddress = 20
	case c.ViewsPerAddress < 0:
		c.ViewsPerAddress = 0
	}
	if c.CountsTTL <= 0 {
		c.CountsTTL = time.Minute
	}
	if c.MaxFolders <= 0 {
		c.MaxFolders = 50
	}
	if c.MaxFolderEntries <= 0 {
		c.MaxFolderEntries = 1000
	}
	if c.CommentRate.Count <= 0 {
		c.CommentRate = redis.Rate{Count: 20, Per: time.Minute, Burst: 5}
	}
}

// Service is the engagement feature: likes, favourites, comments, views and the counters they
// move. Its handlers are registered with Register; Rollup is the timer's work.
type Service struct {
	cfg    Config
	db     *tablestore.Client
	rdb    *redis.Client
	log    *slog.Logger
	now    func() time.Time
	videos *videos.Store
	Gate   *Gate
	Ledger *Ledger
	views  *viewBatcher
	// lastStamp makes stamp strictly increasing within the process.
	lastStamp atomic.Int64
}

// Counter kinds kept by this package. Their references: a video id; "video/comment" for a
// top-level comment; "video/root/comment" for a reply; "user/folder" for a folder.
const (
	VideoLikes      = "video.likes"
	VideoFavourites = "video.favourites"
	VideoComments   = "video.comments"
	VideoDanmaku    = "video.danmaku"
	CommentLikes    = "comment.likes"
	ReplyLikes      = "reply.likes"
	CommentReplies  = "comment.replies"
	FolderCount     = "folder.count"

	taskFolderDelete = "folder.delete"
)

// New returns the service. Other packages' counters of the video row (danmaku) are added with
// Ledger.Register(VideoDanmaku, ...) by their own package.
func New(cfg Config) (*Service, error) {
	if cfg.Redis == nil {
		return nil, errors.New("engagement: Redis is required")
	}
	cfg.defaults()
	db, err := tablestore.New(cfg.Tablestore)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, db: db, rdb: cfg.Redis, log: cfg.Log, now: cfg.Now, videos: videos.NewStore(db)}
	s.Gate = NewGate(db, cfg.Redis, cfg.Log)
	s.Ledger = NewLedger(db, cfg.Now, cfg.DeadAfter, cfg.Log)
	vo := videoOwner{store: videos.NewStore(db)}
	s.Ledger.Register(VideoLikes, CounterDef{Owner: vo, Col: videos.ColLikes, Count: s.countVideoLikes})
	s.Ledger.Register(VideoFavourites, CounterDef{Owner: vo, Col: videos.ColFavourites, Count: s.countVideoFavourites})
	s.Ledger.Register(VideoComments, CounterDef{Owner: vo, Col: videos.ColComments, Count: s.countVideoComments})
	s.Ledger.Register(CommentLikes, CounterDef{Owner: rowOwner{db: s.db, table: tablestore.Comments.Name, key: commentKey},
		Col: colLikes, Count: s.countCommentLikes})
	s.Ledger.Register(ReplyLikes, CounterDef{Owner: rowOwner{db: s.db, table: tablestore.CommentReplies.Name, key: replyKey},
		Col: colLikes, Count: s.countCommentLikes})
	s.Ledger.Register(CommentReplies, CounterDef{Owner: rowOwner{db: s.db, table: tablestore.Comments.Name, key: commentKey},
		Col: colReplies, Count: s.countReplies})
	s.Ledger.Register(FolderCount, CounterDef{Owner: rowOwner{db: s.db, table: tablestore.FavFolders.Name, key: folderKey},
		Col: colCount, Count: s.countFolder})
	s.Ledger.RegisterTask(taskFolderDelete, s.resumeFolderDelete)
	s.views = newViewBatcher(s.rdb, redis.ViewRule{MinWatch: cfg.ViewMinWatch, Window: cfg.ViewWindow, MaxPerSource: cfg.ViewsPerAddress}, s.now, s.log)
	return s, nil
}

// VideoOwner is the Owner of the counters on the video row, for other features' counters
// (danmaku) registered with the Ledger.
func (s *Service) VideoOwner() Owner { return videoOwner{store: s.videos} }

// Store returns the service's Tablestore client, for features built on it (danmaku).
func (s *Service) Store() *tablestore.Client { return s.db }

// Redis is the service's Redis client.
func (s *Service) Redis() *redis.Client { return s.rdb }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// stamp is the time of an edge change in microseconds, strictly increasing within this
// process. It keys listing rows (user_likes, fav_entries) and is stored on the edge, so a
// listing row is true exactly while its edge carries the same stamp; distinct stamps keep an
// unlike and a quick re-like from sharing (and deleting) one listing row.
func (s *Service) stamp() int64 {
	now := s.now().UnixMicro()
	for {
		last := s.lastStamp.Load()
		next := max(now, last+1)
		if s.lastStamp.CompareAndSwap(last, next) {
			return next
		}
	}
}

// day is the UTC day (yyyymmdd) of t, the key of video_stats_daily.
func day(t time.Time) int {
	t = t.UTC()
	return t.Year()*10000 + int(t.Month())*100 + t.Day()
}

// Day is the UTC day (yyyymmdd) of t, as video_stats_daily keys it.
func Day(t time.Time) int { return day(t) }

// Tally records a change of a video's daily figures for the next flush; losing it costs one
// day's popularity signal a little, never a counter, so a failure is only logged.
func (s *Service) Tally(ctx context.Context, videoID, column string, delta int64) {
	if err := s.rdb.AddTallies(ctx, redis.Tally{VideoID: videoID, Day: day(s.now()), Column: column, Delta: delta}); err != nil {
		s.log.WarnContext(ctx, "daily tally lost", "video", videoID, "column", column, "err", err)
	}
}

// LoadViewEnv reads what a deployment tunes of view counting into c: TRUSTED_PROXY_HOPS (see
// httpapi.ProxyHopsFromEnv) and VIEWS_PER_ADDRESS, the views anonymous sessions of one client
// address may add to a video per hour (default 20; -1 for no cap, for audiences behind one
// NAT). It names every problem at once.
func LoadViewEnv(getenv func(string) string, c *Config) error {
	var errs []error
	hops, err := httpapi.ProxyHopsFromEnv(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	c.ProxyHops = hops
	if v := getenv("VIEWS_PER_ADDRESS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n == 0 || n < -1 {
			errs = append(errs, fmt.Errorf("VIEWS_PER_ADDRESS=%q: want a number of views per hour, or -1 for no cap", v))
		}
		c.ViewsPerAddress = n
	}
	return errors.Join(errs...)
}
