package videos

import (
	"time"

	"vodfc.dev/vodfc/videos/internal/env"
)

// OSS limits on multipart uploads (REFERENCE §5).
const (
	MaxParts    = 10_000
	MinPartSize = 100 << 10
	MaxPartSize = 5 << 30
	// MaxURLTTL is the longest an upload URL may live (REFERENCE §8: ≤ 15 minutes).
	MaxURLTTL = 15 * time.Minute
)

// Config is what the videos API lets owners do. Every field has an environment variable; see
// ConfigFromEnv.
type Config struct {
	// MaxUploadSize is the largest file a video may declare (VIDEOS_MAX_UPLOAD_SIZE, 4GiB).
	MaxUploadSize int64
	// MultipartThreshold: files above it upload in parts (VIDEOS_MULTIPART_THRESHOLD, 64MiB);
	// smaller ones with one presigned PUT.
	MultipartThreshold int64
	// PartSize is the size of each part (VIDEOS_PART_SIZE, 16MiB). It grows for files that
	// would otherwise need more than 10,000 parts.
	PartSize int64
	// UploadURLTTL is how long upload URLs live (VIDEOS_UPLOAD_URL_TTL, 15m, at most 15m).
	UploadURLTTL time.Duration
	// MaxPartURLs is how many part URLs one request may ask for (VIDEOS_MAX_PART_URLS, 100).
	MaxPartURLs int
	// MediaURLTTL is how long cover URLs in video responses live (VIDEOS_MEDIA_URL_TTL, 1h).
	MediaURLTTL time.Duration
	// PlaybackPath is where the playback function serves a video's play URL and storyboard
	// (VIDEOS_PLAYBACK_PATH, /api/v1/play); {id} is appended.
	PlaybackPath string
}

// DefaultConfig is the configuration the issue describes.
func DefaultConfig() Config {
	return Config{
		MaxUploadSize:      4 << 30,
		MultipartThreshold: 64 << 20,
		PartSize:           16 << 20,
		UploadURLTTL:       MaxURLTTL,
		MaxPartURLs:        100,
		MediaURLTTL:        time.Hour,
		PlaybackPath:       "/api/v1/play",
	}
}

// ConfigFromEnv reads the VIDEOS_* variables over DefaultConfig and checks the result.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	d := DefaultConfig()
	r := env.New(getenv)
	c := Config{
		MaxUploadSize:      r.Size("VIDEOS_MAX_UPLOAD_SIZE", d.MaxUploadSize),
		MultipartThreshold: r.Size("VIDEOS_MULTIPART_THRESHOLD", d.MultipartThreshold),
		PartSize:           r.Size("VIDEOS_PART_SIZE", d.PartSize),
		UploadURLTTL:       r.Duration("VIDEOS_UPLOAD_URL_TTL", d.UploadURLTTL),
		MaxPartURLs:        r.Int("VIDEOS_MAX_PART_URLS", d.MaxPartURLs),
		MediaURLTTL:        r.Duration("VIDEOS_MEDIA_URL_TTL", d.MediaURLTTL),
		PlaybackPath:       r.String("VIDEOS_PLAYBACK_PATH", d.PlaybackPath),
	}
	if c.UploadURLTTL > MaxURLTTL {
		r.Fail("VIDEOS_UPLOAD_URL_TTL", "%s: upload URLs may live at most %s", c.UploadURLTTL, MaxURLTTL)
	}
	if c.PartSize < MinPartSize || c.PartSize > MaxPartSize {
		r.Fail("VIDEOS_PART_SIZE", "%d bytes: OSS parts are 100KiB to 5GiB", c.PartSize)
	}
	if c.MultipartThreshold < c.PartSize {
		r.Fail("VIDEOS_MULTIPART_THRESHOLD", "%d bytes is below the part size %d: a multipart upload would have one part", c.MultipartThreshold, c.PartSize)
	}
	if c.MaxUploadSize > int64(MaxParts)*MaxPartSize {
		r.Fail("VIDEOS_MAX_UPLOAD_SIZE", "%d bytes is more than a multipart upload can hold", c.MaxUploadSize)
	}
	if c.PlaybackPath == "" || c.PlaybackPath[0] != '/' {
		r.Fail("VIDEOS_PLAYBACK_PATH", "%q must be an absolute path", c.PlaybackPath)
	}
	return c, r.Err()
}

// partPlan sizes a multipart upload of size bytes: the configured part size, grown (in whole
// MiB) when the file would need more than MaxParts parts.
func (c Config) partPlan(size int64) (partSize int64, parts int) {
	partSize = c.PartSize
	if need := (size + MaxParts - 1) / MaxParts; need > partSize {
		partSize = (need + (1 << 20) - 1) &^ ((1 << 20) - 1)
	}
	return partSize, int((size + partSize - 1) / partSize)
}
