// Command danmaku is the HTTP function for danmaku: posting, recall, reports and the outputs
// players read — JSON segments, Bilibili-style XML, DPlayer's v3 API and a heatmap
// (docs/openapi.yaml, x-function danmaku). The feature lives in shared/danmaku.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

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
	CORSOrigins []string      // CORS_ORIGINS, comma separated
	Cooldown    time.Duration // DANMAKU_COOLDOWN, default 5s
	DailyQuota  int           // DANMAKU_DAILY_QUOTA, default 300
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
	for _, p := range strings.Split(os.Getenv("CORS_ORIGINS"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.CORSOrigins = append(c.CORSOrigins, p)
		}
	}
	if v := os.Getenv("DANMAKU_COOLDOWN"); v != "" {
		if c.Cooldown, err = time.ParseDuration(v); err != nil || c.Cooldown <= 0 {
			return c, fmt.Errorf("DANMAKU_COOLDOWN=%q: want a positive duration such as 5s", v)
		}
	}
	if v := os.Getenv("DANMAKU_DAILY_QUOTA"); v != "" {
		if c.DailyQuota, err = strconv.Atoi(v); err != nil || c.DailyQuota <= 0 {
			return c, fmt.Errorf("DANMAKU_DAILY_QUOTA=%q: want a positive number of danmaku per user per day", v)
		}
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
	svc, err := danmaku.New(danmaku.Config{Engagement: eng, Log: slog.Default(), Cooldown: cfg.Cooldown, DailyQuota: cfg.DailyQuota})
	if err != nil {
		fmt.Fprintln(os.Stderr, "danmaku:", err)
		os.Exit(1)
	}
	runtime.HTTP(router(svc, cfg))
}

func router(svc *danmaku.Service, cfg config) *httpapi.Router {
	r := httpapi.NewRouter()
	if len(cfg.CORSOrigins) > 0 {
		r.Use(httpapi.CORS(httpapi.CORSConfig{AllowedOrigins: cfg.CORSOrigins, ExposedHeaders: []string{"ETag"}}))
	}
	svc.Register(r, cfg.Verifier)
	return r
}
