// Command playback is the playback function: it serves the per-viewer master playlists, variant
// playlists and storyboard tracks players fetch with the signed URLs the play route hands out
// (GET /api/v1/videos/{id}/play, served by the videos function, which shares
// PLAYBACK_TOKEN_KEY with this one). See shared/playback.
package main

import (
	"errors"
	"fmt"
	"os"

	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/playback"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/tiering"
	"vodfc.dev/vodfc/videos"
)

// scope is what s.yaml's domain routes to this function. The play route itself,
// GET /api/v1/videos/{id}/play, is served by the videos function, which owns that prefix.
var scope = []string{"/api/v1/play/*"}

// config is everything the function reads from its environment.
type config struct {
	tables      tablestore.Config
	media       oss.Config
	playback    playback.Env
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
	if c.verifier, err = auth.LoadVerifier(getenv); err != nil {
		errs = append(errs, err)
	}
	if c.playback, err = playback.LoadEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	c.corsOrigins = httpapi.OriginsFromEnv(getenv)
	return c, errors.Join(errs...)
}

// newRouter wires the feature into the HTTP API.
func newRouter(c config, db *tablestore.Client, media *oss.Store) (*httpapi.Router, error) {
	svc, err := c.playback.Service(videos.NewStore(db), media)
	if err != nil {
		return nil, err
	}
	// Playlists leave out archived renditions until they are restored (the play route, in
	// the videos function, starts the restores). Restores are never started from here.
	svc.SetAvailability(tiering.NewCold(db, media, tiering.DefaultPolicy().RestoreDays, nil).Availability)
	r := httpapi.NewRouter()
	r.Scope(scope...)
	r.Use(httpapi.CORS(httpapi.CORSConfig{AllowedOrigins: c.corsOrigins}))
	svc.Register(r, c.verifier)
	return r, nil
}

func main() {
	c, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "playback: configuration: %v\n", err)
		os.Exit(1)
	}
	db, err := tablestore.New(c.tables)
	if err != nil {
		fmt.Fprintf(os.Stderr, "playback: %v\n", err)
		os.Exit(1)
	}
	media, err := oss.New(c.media)
	if err != nil {
		fmt.Fprintf(os.Stderr, "playback: %v\n", err)
		os.Exit(1)
	}
	r, err := newRouter(c, db, media)
	if err != nil {
		fmt.Fprintf(os.Stderr, "playback: %v\n", err)
		os.Exit(1)
	}
	runtime.HTTP(r)
}
