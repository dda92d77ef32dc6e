// Package playback owns watching a published video: the short-lived playback tokens a viewer
// gets after the access checks (bound to video, viewer, tier and expiry, signed with a key only
// the functions serving playback hold), the choice of renditions per viewer (Select: tier and storage
// availability in one place), and the playlists players fetch with those tokens: a master
// playlist listing only what this viewer may watch, and variant playlists and storyboard
// tracks rewritten with signed media URLs (presigned OSS URLs, or type-A signed CDN URLs).
//
// Media stay private in the bucket. A variant playlist addresses its rendition's single fMP4
// file by byte ranges, so signing it costs one signature however long the video is.
package playback

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/videos"
)

// Config tunes playback.
type Config struct {
	// TokenTTL is how long the master_url handed to a client is valid (PLAYBACK_TOKEN_TTL,
	// 10m): long enough to start the player, short enough that a leaked link soon dies.
	TokenTTL time.Duration
	// SessionTTL is how long a started playback keeps working (PLAYBACK_SESSION_TTL, 6h): the
	// variant playlists' tokens and the signed media URLs in them live this long, so a paused
	// film still resumes.
	SessionTTL time.Duration
	// Policy decides what each tier may watch (PLAYBACK_FREE_MAX_HEIGHT, 720).
	Policy Policy
	// PublicURL is the API's public origin for absolute play URLs (PLAYBACK_PUBLIC_URL, e.g.
	// https://api.example.com); empty takes it from each request's Host (and
	// X-Forwarded-Proto).
	PublicURL string
	// Path is where these routes live (/api/v1/play).
	Path string
}

// DefaultConfig is playback as the issue describes it.
func DefaultConfig() Config {
	return Config{TokenTTL: 10 * time.Minute, SessionTTL: 6 * time.Hour, Policy: DefaultPolicy(), Path: "/api/v1/play"}
}

// Service serves playback.
type Service struct {
	videos  *videos.Store
	media   *oss.Store
	tokens  *Tokens
	signer  MediaSigner
	avail   AvailabilityFunc
	restore RestoreFunc
	log     *slog.Logger
	cfg     Config
	now     func() time.Time
	cache   *objectCache
}

// New returns playback over the video records, the media bucket (for the stored playlists),
// the token key and a media URL signer.
func New(store *videos.Store, media *oss.Store, tokens *Tokens, signer MediaSigner, cfg Config) *Service {
	return &Service{videos: store, media: media, tokens: tokens, signer: signer, avail: AllAvailable, cfg: cfg,
		now: runtime.Now, cache: newObjectCache(256, 32<<20), log: slog.Default()}
}

// SetAvailability replaces how renditions' availability is learned (AllAvailable by default).
func (s *Service) SetAvailability(f AvailabilityFunc) { s.avail = f }

// SetRestore sets how a viewer asking to play a video gets its archived renditions restored
// (none by default: archived renditions then stay unavailable).
func (s *Service) SetRestore(f RestoreFunc) { s.restore = f }

// Rendition is one rung as clients see it.
type Rendition struct {
	Name      string  `json:"name"` // "720p"
	Height    int     `json:"height"`
	Width     int     `json:"width"`
	Bandwidth int     `json:"bandwidth"`
	Codecs    string  `json:"codecs"`
	FrameRate float64 `json:"frame_rate"`
}

func renditionName(r vodfc.Rendition) string {
	return strings.TrimSuffix(path.Base(r.Playlist), ".m3u8")
}

func renditionsAt(v *vodfc.Video, idx []int) []Rendition {
	out := make([]Rendition, 0, len(idx))
	for _, i := range idx {
		r := v.Renditions[i]
		out = append(out, Rendition{Name: renditionName(r), Height: r.Height, Width: r.Width, Bandwidth: r.Bandwidth, Codecs: r.Codecs, FrameRate: r.FrameRate})
	}
	return out
}

// Play is the answer to "I want to watch this video".
type Play struct {
	VideoID   string    `json:"video_id"`
	MasterURL string    `json:"master_url"`
	ExpiresAt time.Time `json:"expires_at"`
	// Renditions are what the master playlist lists for this viewer, in its order.
	Renditions []Rendition `json:"renditions"`
	// MembersOnly are renditions the viewer's tier does not include (an upgrade shows them).
	MembersOnly []Rendition `json:"members_only"`
	// Unavailable are renditions the tier includes that storage cannot serve right now.
	Unavailable []Rendition `json:"unavailable"`
	// Restoring are the unavailable renditions on their way back from cold storage: asking
	// to play started their restore (or one was under way); a later request lists them.
	Restoring     []Rendition `json:"restoring"`
	StoryboardURL string      `json:"storyboard_url,omitempty"`
	DurationS     float64     `json:"duration_s"`
}

// errNotFound hides a video the viewer may not see, exactly like a missing one.
func errNotFound() error { return videos.ErrNotFound() }

// watchable reads a video viewer may watch now: ready, not deleted, and private videos for
// their owner only.
func (s *Service) watchable(ctx context.Context, id, viewer string) (*vodfc.Video, error) {
	v, err := s.videos.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !v.VisibleTo(viewer) {
		return nil, errNotFound()
	}
	if v.Status != vodfc.StatusReady || len(v.Renditions) == 0 {
		return nil, vodfc.Conflict("video_not_ready", "the video is not ready to play yet")
	}
	return v, nil
}

func (s *Service) selection(ctx context.Context, v *vodfc.Video, tier vodfc.Tier) (Selection, error) {
	sel, _, err := s.selectAvailable(ctx, v, tier)
	return sel, err
}

func (s *Service) selectAvailable(ctx context.Context, v *vodfc.Video, tier vodfc.Tier) (Selection, []Availability, error) {
	avail, err := s.avail(ctx, v)
	if err != nil {
		return Selection{}, nil, err
	}
	return Select(v.Renditions, tier, s.cfg.Policy, avail), avail, nil
}

// restoring starts the restore of the archived renditions among sel.Unavailable and returns
// the ones on their way back. A failed request is logged, not the viewer's problem: what can
// be played still plays, and the next request asks again.
func (s *Service) restoring(ctx context.Context, v *vodfc.Video, sel Selection, avail []Availability) []int {
	var archived, out []int
	for _, i := range sel.Unavailable {
		switch {
		case i < len(avail) && avail[i] == Restoring:
			out = append(out, i)
		case i < len(avail) && avail[i] == Archived && s.restore != nil:
			archived = append(archived, i)
		}
	}
	if len(archived) == 0 {
		return out
	}
	after, err := s.restore(ctx, v, archived)
	if err != nil {
		s.log.WarnContext(ctx, "playback: restoring archived renditions failed", "video", v.ID, "err", err)
	}
	for n, i := range archived {
		if n < len(after) && after[n] == Restoring {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// Start checks that viewer may watch video id and hands out a playback URL for their tier.
// base is the API origin the URL is built on.
func (s *Service) Start(ctx context.Context, id string, viewer vodfc.Principal, base string) (*Play, error) {
	v, err := s.watchable(ctx, id, viewer.UserID)
	if err != nil {
		return nil, err
	}
	tier := viewer.Tier
	if !tier.Valid() {
		tier = vodfc.TierFree
	}
	sel, avail, err := s.selectAvailable(ctx, v, tier)
	if err != nil {
		return nil, err
	}
	restoring := s.restoring(ctx, v, sel, avail)
	if len(sel.Playable) == 0 {
		return nil, &vodfc.Error{Kind: vodfc.KindUnavailable, Code: "renditions_unavailable",
			Message: "the video's renditions are being restored from cold storage; try again in a while", RetryAfter: 5 * time.Minute}
	}
	now := s.now()
	tok := Token{Video: v.ID, Viewer: viewer.UserID, Tier: tier, Expires: now.Add(s.cfg.TokenTTL).Truncate(time.Second)}
	signed := s.tokens.Sign(tok)
	root := strings.TrimSuffix(base, "/") + s.cfg.Path + "/" + v.ID
	p := &Play{VideoID: v.ID, MasterURL: root + "/master.m3u8?token=" + signed, ExpiresAt: tok.Expires,
		Renditions: renditionsAt(v, sel.Playable), MembersOnly: renditionsAt(v, sel.MembersOnly),
		Unavailable: renditionsAt(v, sel.Unavailable), Restoring: renditionsAt(v, restoring), DurationS: v.Duration.Seconds()}
	if v.StoryboardVTT != "" {
		p.StoryboardURL = root + "/storyboard.vtt?token=" + signed
	}
	return p, nil
}

// authorize verifies a playlist request's token for video id and re-reads the video, so a
// video deleted or made private since the token was issued stops playing.
func (s *Service) authorize(ctx context.Context, id, token string) (Token, *vodfc.Video, error) {
	t, err := s.tokens.Verify(token, s.now())
	if err != nil {
		return Token{}, nil, err
	}
	if t.Video != id {
		return Token{}, nil, errInvalidToken(errors.New("token for another video"))
	}
	v, err := s.watchable(ctx, id, t.Viewer)
	if err != nil {
		return Token{}, nil, err
	}
	return t, v, nil
}

// session is the token the master playlist puts on its variant URIs: same viewer and tier,
// living for a viewing session.
func (s *Service) session(t Token) (Token, string) {
	t.Session = true
	t.Expires = s.now().Add(s.cfg.SessionTTL).Truncate(time.Second)
	return t, s.tokens.Sign(t)
}

// objectCache keeps small immutable objects (stored playlists, storyboard tracks: a new
// processing attempt writes new keys, so a cached copy never goes stale), bounded by count
// and bytes, least recently used out first.
type objectCache struct {
	mu       sync.Mutex
	maxN     int
	maxBytes int
	bytes    int
	order    *list.List
	byKey    map[string]*list.Element
}

type cached struct {
	key  string
	data []byte
}

func newObjectCache(n, bytes int) *objectCache {
	return &objectCache{maxN: n, maxBytes: bytes, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *objectCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cached).data, true
	}
	return nil, false
}

func (c *objectCache) put(key string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; ok || len(data) > c.maxBytes/4 {
		return
	}
	c.byKey[key] = c.order.PushFront(&cached{key: key, data: data})
	c.bytes += len(data)
	for c.order.Len() > c.maxN || c.bytes > c.maxBytes {
		e := c.order.Back()
		x := e.Value.(*cached)
		c.order.Remove(e)
		delete(c.byKey, x.key)
		c.bytes -= len(x.data)
	}
}

// object reads a small stored object through the cache.
func (s *Service) object(ctx context.Context, key string) ([]byte, error) {
	if b, ok := s.cache.get(key); ok {
		return b, nil
	}
	b, err := s.media.ReadAll(ctx, key)
	if err != nil {
		if oss.IsNotFound(err) {
			return nil, vodfc.Internal(err) // the row points at it: this is our bug, not the viewer's
		}
		return nil, err
	}
	s.cache.put(key, b)
	return b, nil
}

// baseURL is the API origin for absolute URLs in responses.
func (s *Service) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host
}
