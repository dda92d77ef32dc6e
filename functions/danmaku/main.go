// Command danmaku is the HTTP function for danmaku: posting, recall, reports and the outputs
// players read — JSON segments, Bilibili-style XML, DPlayer's v3 API and a heatmap
// (docs/openapi.yaml, x-function danmaku). The feature lives in shared/danmaku.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/danmaku"
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
	CORSOrigins []string       // CORS_ORIGINS, comma separated
	Danmaku     danmaku.Config // DANMAKU_COOLDOWN, DANMAKU_DAILY_QUOTA
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
	if c.Danmaku, err = danmaku.ConfigFromEnv(os.Getenv); err != nil {
		return c, err
	}
	return c, nil
}

func main() {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "danmaku: configuration:", err)
		os.Exit(1)
	}
	eng, err := engagement.New(engagement.Config{Tablestore: cfg.Tablestore, Redis: redis.New(cfg.Redis), Log: slog.Default()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "danmaku:", err)
		os.Exit(1)
	}
	cfg.Danmaku.Engagement, cfg.Danmaku.Log = eng, slog.Default()
	svc, err := danmaku.New(cfg.Danmaku)
	if err != nil {
		fmt.Fprintln(os.Stderr, "danmaku:", err)
		os.Exit(1)
	}
	runtime.HTTP(router(svc, cfg))
}

// scope is what s.yaml's domain routes to this function. The danmaku routes under
// /api/v1/videos/{id}/ (posting, segments, XML, heatmap) are served by the videos function,
// which owns that prefix.
var scope = []string{"/api/v1/danmaku/*", "/api/v1/dplayer/*"}

func router(svc *danmaku.Service, cfg config) *httpapi.Router {
	r := httpapi.NewRouter()
	r.Scope(scope...)
	if len(cfg.CORSOrigins) > 0 {
		r.Use(httpapi.CORS(httpapi.CORSConfig{AllowedOrigins: cfg.CORSOrigins, ExposedHeaders: []string{"ETag"}}))
	}
	svc.Register(r, cfg.Verifier)
	return r
}
