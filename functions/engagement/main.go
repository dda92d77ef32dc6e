// Command engagement is the HTTP function for likes, favourite folders, comments and view
// heartbeats (docs/openapi.yaml, x-function engagement). The feature lives in shared/engagement.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/engagement"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// config is everything the function reads from its environment (s.yaml).
type config struct {
	Tablestore  tablestore.Config
	Redis       redis.Config
	Verifier    *auth.Verifier
	CORSOrigins []string // CORS_ORIGINS, comma separated; none means no browser origin is allowed
}

func loadConfig() (config, error) {
	var c config
	var err error
	if c.Tablestore, err = tablestore.ConfigFromEnv(); err != nil {
		return c, err
	}
	if c.Redis, err = redis.ConfigFromEnv(); err != nil {
		return c, err
	}
	if c.Verifier, err = auth.LoadVerifier(os.Getenv); err != nil {
		return c, err
	}
	c.CORSOrigins = httpapi.OriginsFromEnv(os.Getenv)
	return c, nil
}

func main() {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "engagement: configuration:", err)
		os.Exit(1)
	}
	svc, err := engagement.New(engagement.Config{Tablestore: cfg.Tablestore, Redis: redis.New(cfg.Redis), Log: slog.Default()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "engagement:", err)
		os.Exit(1)
	}
	runtime.HTTP(router(svc, cfg))
}

// scope is what s.yaml's domain routes to this function. The engagement routes under
// /api/v1/videos/{id}/ (likes, comments, views) are served by the videos function, which owns
// that prefix.
var scope = []string{"/api/v1/me/likes", "/api/v1/me/engagement", "/api/v1/me/favourites/*", "/api/v1/comments/*"}

func router(svc *engagement.Service, cfg config) *httpapi.Router {
	r := httpapi.NewRouter()
	r.Scope(scope...)
	if len(cfg.CORSOrigins) > 0 {
		r.Use(httpapi.CORS(httpapi.CORSConfig{AllowedOrigins: cfg.CORSOrigins, AllowedHeaders: []string{"Authorization", "Content-Type", "Idempotency-Key"}}))
	}
	svc.Register(r, cfg.Verifier)
	return r
}
