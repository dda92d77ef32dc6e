// Command videos is the videos function. It owns /api/v1/videos and everything below it, and
// /api/v1/me/videos: creating videos with their upload plans (one presigned PUT, or a resumable
// multipart upload), reading, editing, deleting and listing them (shared/videos).
//
// FC custom domains route by path prefix only, so this function also serves the routes other
// features hang under a video: playing it (shared/playback), likes, comments and view
// heartbeats (shared/engagement), and danmaku (shared/danmaku). Each feature lives in its own
// package and is registered whole; the router's Scope keeps the routes s.yaml sends here.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/danmaku"
	"vodfc.dev/vodfc/engagement"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/playback"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/tiering"
	"vodfc.dev/vodfc/videos"
)

// scope is what s.yaml's domain routes to this function.
var scope = []string{"/api/v1/videos", "/api/v1/videos/*", "/api/v1/me/videos"}

// config is everything the function reads from its environment.
type config struct {
	tables      tablestore.Config
	media       oss.Config
	redis       redis.Config
	videos      videos.Config
	playback    playback.Env
	danmaku     danmaku.Config
	views       engagement.Config // TRUSTED_PROXY_HOPS, VIEWS_PER_ADDRESS (the views route is here)
	tiering     tiering.Policy    // TIERING_RESTORE_DAYS: how long a restore for a viewer lasts
	verifier    *auth.Verifier
	corsOrigins []string
}

func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var errs []error
	var err error
	if c.tables, err = tablestore.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if c.media, err = oss.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if c.redis, err = redis.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if c.videos, err = videos.ConfigFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if c.playback, err = playback.LoadEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if c.danmaku, err = danmaku.ConfigFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if err := engagement.LoadViewEnv(getenv, &c.views); err != nil {
		errs = append(errs, err)
	}
	if c.tiering, err = tiering.PolicyFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if c.verifier, err = auth.LoadVerifier(getenv); err != nil {
		errs = append(errs, err)
	}
	c.corsOrigins = httpapi.OriginsFromEnv(getenv)
	return c, errors.Join(errs...)
}

// newRouter wires the features into the HTTP API.
func newRouter(c config, db *tablestore.Client, media *oss.Store, rdb *redis.Client) (*httpapi.Router, error) {
	ec := c.views
	ec.Tablestore, ec.Redis, ec.Log = c.tables, rdb, slog.Default()
	eng, err := engagement.New(ec)
	if err != nil {
		return nil, err
	}
	c.danmaku.Engagement, c.danmaku.Log = eng, slog.Default()
	dm, err := danmaku.New(c.danmaku)
	if err != nil {
		return nil, err
	}
	store := videos.NewStore(db)
	play, err := c.playback.Service(store, media)
	if err != nil {
		return nil, err
	}
	// Archived renditions are left out until restored; asking to play restores them.
	cold := tiering.NewCold(db, media, c.tiering.RestoreDays, nil)
	play.SetAvailability(cold.Availability)
	play.SetRestore(cold.Restore)
	r := httpapi.NewRouter()
	r.Scope(scope...)
	r.Use(httpapi.CORS(httpapi.CORSConfig{AllowedOrigins: c.corsOrigins,
		AllowedHeaders: []string{"Authorization", "Content-Type", "Idempotency-Key"}, ExposedHeaders: []string{"ETag"}}))
	vs := videos.NewService(store, media, c.videos)
	vs.OnChange(func(ctx context.Context, id string) {
		// Without this the engagement routes served here would keep treating a video just
		// made private or deleted as visible for the gate's TTL (32 s).
		if err := eng.Gate.Forget(ctx, id); err != nil {
			slog.WarnContext(ctx, "dropping a video from the engagement cache failed; it expires within 30 s", "video", id, "err", err)
		}
	})
	vs.Register(r, c.verifier)
	play.Register(r, c.verifier)
	eng.Register(r, c.verifier)
	dm.Register(r, c.verifier)
	return r, nil
}

func main() {
	c, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "videos: configuration: %v\n", err)
		os.Exit(1)
	}
	db, err := tablestore.New(c.tables)
	if err != nil {
		fmt.Fprintf(os.Stderr, "videos: %v\n", err)
		os.Exit(1)
	}
	media, err := oss.New(c.media)
	if err != nil {
		fmt.Fprintf(os.Stderr, "videos: %v\n", err)
		os.Exit(1)
	}
	r, err := newRouter(c, db, media, redis.New(c.redis))
	if err != nil {
		fmt.Fprintf(os.Stderr, "videos: %v\n", err)
		os.Exit(1)
	}
	runtime.HTTP(r)
}
