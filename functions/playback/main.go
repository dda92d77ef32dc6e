// Command playback is the playback function: it hands viewers signed playback URLs and serves
// the per-viewer master playlists, variant playlists and storyboard tracks players fetch with
// them. Only this function holds PLAYBACK_TOKEN_KEY. See shared/playback.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/playback"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// config is everything the function reads from its environment.
type config struct {
	tables      tablestore.Config
	media       oss.Config
	playback    playback.Config
	tokenKey    []byte
	cdn         *playback.CDNSigner // nil: presigned OSS URLs
	verifier    *auth.Verifier
	corsOrigins []string
}

func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
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
	if c.tokenKey, err = playback.ParseKey(getenv("PLAYBACK_TOKEN_KEY")); err != nil {
		fail("PLAYBACK_TOKEN_KEY", "%v (base64 of %d random bytes: head -c %d /dev/urandom | base64)", err, playback.MinKeyBytes, playback.MinKeyBytes)
	}
	duration := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fail(name, "%q is not a positive duration such as 10m", v)
			return def
		}
		return d
	}
	c.playback = playback.DefaultConfig()
	c.playback.TokenTTL = duration("PLAYBACK_TOKEN_TTL", c.playback.TokenTTL)
	c.playback.SessionTTL = duration("PLAYBACK_SESSION_TTL", c.playback.SessionTTL)
	c.playback.PublicURL = strings.TrimSuffix(getenv("PLAYBACK_PUBLIC_URL"), "/")
	if v := getenv("PLAYBACK_FREE_MAX_HEIGHT"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 144 {
			fail("PLAYBACK_FREE_MAX_HEIGHT", "%q is not a rendition height such as 720", v)
		} else {
			c.playback.Policy.FreeMaxHeight = n
		}
	}
	if c.playback.SessionTTL < c.playback.TokenTTL {
		fail("PLAYBACK_SESSION_TTL", "%s is shorter than PLAYBACK_TOKEN_TTL %s", c.playback.SessionTTL, c.playback.TokenTTL)
	}
	if c.playback.SessionTTL > 7*24*time.Hour {
		fail("PLAYBACK_SESSION_TTL", "%s: presigned OSS URLs live at most 7 days", c.playback.SessionTTL)
	}
	if domain := getenv("PLAYBACK_CDN_DOMAIN"); domain != "" {
		key := getenv("PLAYBACK_CDN_KEY")
		if len(key) < 6 {
			fail("PLAYBACK_CDN_KEY", "the CDN's type-A key is required with PLAYBACK_CDN_DOMAIN")
		}
		if !strings.Contains(domain, "://") {
			domain = "https://" + domain
		}
		c.cdn = &playback.CDNSigner{Base: domain, Key: key, Validity: duration("PLAYBACK_CDN_VALIDITY", 30*time.Minute)}
	}
	for _, p := range strings.Split(getenv("CORS_ORIGINS"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.corsOrigins = append(c.corsOrigins, p)
		}
	}
	return c, errors.Join(errs...)
}

// newRouter wires the feature into the HTTP API.
func newRouter(c config, db *tablestore.Client, media *oss.Store) (*httpapi.Router, error) {
	tokens, err := playback.NewTokens(c.tokenKey)
	if err != nil {
		return nil, err
	}
	var signer playback.MediaSigner = playback.OSSSigner{Store: media}
	if c.cdn != nil {
		signer = *c.cdn
	}
	r := httpapi.NewRouter()
	r.Use(httpapi.CORS(httpapi.CORSConfig{AllowedOrigins: c.corsOrigins}))
	playback.New(videos.NewStore(db), media, tokens, signer, c.playback).Register(r, c.verifier)
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
