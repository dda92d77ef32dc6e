// Command users is the users function: the caller's own account (GET and PATCH /api/v1/me),
// public profiles (GET /api/v1/users/{id}) and the admin's tier switch
// (PUT /api/v1/admin/users/{id}/tier), from shared/accounts, and the admin's storage report
// (GET /api/v1/admin/storage/report, shared/tiering). FC routes /api/v1/users/* here, so
// it also serves a user's public videos (GET /api/v1/users/{id}/videos, shared/videos). It
// verifies access tokens with public keys only.
package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"vodfc.dev/vodfc/accounts"
	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/tiering"
	"vodfc.dev/vodfc/videos"
)

// scope is what s.yaml's domain routes to this function.
var scope = []string{"/api/v1/me", "/api/v1/users/*", "/api/v1/admin/users/*", "/api/v1/admin/storage/*"}

// Config is the users function's configuration, all of it from the environment.
type Config struct {
	Tablestore tablestore.Config // OTS_ENDPOINT, OTS_INSTANCE
	Media      oss.Config        // OSS_*, MEDIA_BUCKET: cover URLs in video lists
	Videos     videos.Config     // VIDEOS_*
	Verifier   *auth.Verifier    // JWT_VERIFY_KEYS, JWT_ISSUER, JWT_AUDIENCE
	// CacheTTL (PROFILE_CACHE_TTL, a Go duration, "0s" to disable) is how stale a profile
	// may be on an instance that did not make the change.
	CacheTTL time.Duration
}

func loadConfig(getenv func(string) string) (Config, error) {
	var cfg Config
	var errs []error
	var err error
	if cfg.Tablestore, err = tablestore.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Media, err = oss.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Videos, err = videos.ConfigFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if cfg.Verifier, err = auth.LoadVerifier(getenv); err != nil {
		errs = append(errs, err)
	}
	cfg.CacheTTL = accounts.DefaultProfileCacheTTL
	if v := getenv("PROFILE_CACHE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			errs = append(errs, fmt.Errorf("PROFILE_CACHE_TTL=%q: want a duration from 0s to 1m", v))
		}
		cfg.CacheTTL = d
		if d == 0 {
			cfg.CacheTTL = -1 // no cache
		}
	}
	return cfg, errors.Join(errs...)
}

func newHandler(cfg Config) (*httpapi.Router, error) {
	db, err := tablestore.New(cfg.Tablestore)
	if err != nil {
		return nil, err
	}
	p, err := accounts.NewProfiles(accounts.ProfilesConfig{DB: db, Verifier: cfg.Verifier, CacheTTL: cfg.CacheTTL})
	if err != nil {
		return nil, err
	}
	media, err := oss.New(cfg.Media)
	if err != nil {
		return nil, err
	}
	r := httpapi.NewRouter()
	r.Scope(scope...)
	p.Routes(r)
	videos.NewService(videos.NewStore(db), media, cfg.Videos).Register(r, cfg.Verifier)
	// The nightly storage report (shared/tiering) is read from the media bucket, which this
	// function already reaches; FC routes /api/v1/admin/storage/* here.
	tiering.NewReports(media).Register(r, cfg.Verifier)
	return r, nil
}

func main() {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "users: configuration:\n%v\n", err)
		os.Exit(1)
	}
	h, err := newHandler(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "users: %v\n", err)
		os.Exit(1)
	}
	runtime.HTTP(h)
}
