package transcode

import (
	"os"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/ffmpeg"
	"vodfc.dev/vodfc/videos/internal/env"
)

// Config bounds what one processing attempt may use. Every field has an environment variable;
// see ConfigFromEnv.
type Config struct {
	// WorkDir holds each attempt's source and outputs (TRANSCODE_WORK_DIR, the system temp
	// directory: /tmp in FC).
	WorkDir string
	// MaxDisk is the most an attempt may keep in WorkDir: the source plus every output
	// (TRANSCODE_MAX_DISK, 9GiB, below FC's 10 GiB diskSize). Larger jobs fail as too_large
	// before anything is encoded, and the encode is stopped if it runs over.
	MaxDisk int64
	// Timeout bounds one encode (TRANSCODE_TIMEOUT, 170m). It must stay below ClaimTTL so an
	// attempt gives up, and says so, before FC kills it.
	Timeout time.Duration
	// ClaimTTL is how long a processing claim protects an attempt (TRANSCODE_CLAIM_TTL, 3h:
	// the function's timeout in s.yaml). An older claim belongs to an attempt FC has killed,
	// so any delivery of the upload event may take it over.
	ClaimTTL time.Duration
	// ProgressInterval is the least time between two progress writes to the video
	// (TRANSCODE_PROGRESS_INTERVAL, 3s).
	ProgressInterval time.Duration
	// KeepSource keeps the uploaded original after publishing (TRANSCODE_KEEP_SOURCE, true):
	// tiering archives it. Sources of refused uploads are always deleted.
	KeepSource bool
	// MaxRetries is the function's asyncInvokeConfig.maxAsyncRetryAttempts
	// (TRANSCODE_MAX_RETRIES, 3): the last delivery of an event that keeps failing ends the
	// video as failed (processing_failed) instead of leaving it waiting forever.
	MaxRetries int
	// Limits are what an upload must satisfy (ffmpeg.DefaultLimits with TRANSCODE_MAX_DURATION,
	// 2h: what the encode timeout covers at the worst speed we expect).
	Limits ffmpeg.Limits
	// Ladder is the renditions to offer (ffmpeg.DefaultLadder).
	Ladder ffmpeg.LadderConfig
	// Encode tunes ffmpeg (TRANSCODE_PRESET, veryfast).
	Encode ffmpeg.Options
	// UploadWorkers is how many outputs are uploaded at once (TRANSCODE_UPLOAD_WORKERS, 4).
	UploadWorkers int
}

// DefaultConfig is the configuration for the function as s.yaml sizes it.
func DefaultConfig() Config {
	l := ffmpeg.DefaultLimits()
	l.MaxDuration = 2 * time.Hour
	return Config{
		WorkDir:          os.TempDir(),
		MaxDisk:          9 << 30,
		Timeout:          170 * time.Minute,
		ClaimTTL:         3 * time.Hour,
		ProgressInterval: 3 * time.Second,
		KeepSource:       true,
		MaxRetries:       3,
		Limits:           l,
		Ladder:           ffmpeg.DefaultLadder(),
		Encode:           ffmpeg.Options{Preset: "veryfast"},
		UploadWorkers:    4,
	}
}

// ConfigFromEnv reads the TRANSCODE_* variables over DefaultConfig and checks them, together
// with MEDIA_OUTPUT_PREFIX (what s.yaml declares this function writes: it must be where the
// code writes, media/).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	d := DefaultConfig()
	r := env.New(getenv)
	c := d
	c.WorkDir = r.String("TRANSCODE_WORK_DIR", d.WorkDir)
	c.MaxDisk = r.Size("TRANSCODE_MAX_DISK", d.MaxDisk)
	c.Timeout = r.Duration("TRANSCODE_TIMEOUT", d.Timeout)
	c.ClaimTTL = r.Duration("TRANSCODE_CLAIM_TTL", d.ClaimTTL)
	c.ProgressInterval = r.Duration("TRANSCODE_PROGRESS_INTERVAL", d.ProgressInterval)
	c.KeepSource = r.Bool("TRANSCODE_KEEP_SOURCE", d.KeepSource)
	c.MaxRetries = r.Int("TRANSCODE_MAX_RETRIES", d.MaxRetries)
	c.Limits.MaxDuration = r.Duration("TRANSCODE_MAX_DURATION", d.Limits.MaxDuration)
	c.Encode.Preset = r.String("TRANSCODE_PRESET", d.Encode.Preset)
	c.UploadWorkers = r.Int("TRANSCODE_UPLOAD_WORKERS", d.UploadWorkers)
	if p := r.String("MEDIA_OUTPUT_PREFIX", vodfc.MediaPrefix); p != vodfc.MediaPrefix {
		r.Fail("MEDIA_OUTPUT_PREFIX", "%q: the transcoder writes under %s; s.yaml must declare that", p, vodfc.MediaPrefix)
	}
	if c.Timeout >= c.ClaimTTL {
		r.Fail("TRANSCODE_TIMEOUT", "%s must be shorter than TRANSCODE_CLAIM_TTL %s (the function's timeout), so an attempt gives up before FC kills it", c.Timeout, c.ClaimTTL)
	}
	if c.MaxDisk < 64<<20 {
		r.Fail("TRANSCODE_MAX_DISK", "%d bytes leaves no room to work", c.MaxDisk)
	}
	if err := c.Ladder.Check(); err != nil {
		r.Fail("ladder", "%v", err)
	}
	return c, r.Err()
}
