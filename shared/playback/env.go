package playback

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/videos"
)

// Env is what a function needs to serve playback, read from its environment. Playback routes
// live in two functions (FC routes /api/v1/videos/* to `videos`, /api/v1/play/* to
// `playback`), so the reading lives here, once.
type Env struct {
	Config   Config
	TokenKey []byte
	CDN      *CDNSigner // nil: presigned OSS URLs
}

// LoadEnv reads PLAYBACK_TOKEN_KEY, PLAYBACK_TOKEN_TTL, PLAYBACK_SESSION_TTL,
// PLAYBACK_PUBLIC_URL, PLAYBACK_FREE_MAX_HEIGHT and the CDN settings (PLAYBACK_CDN_DOMAIN,
// PLAYBACK_CDN_KEY, PLAYBACK_CDN_VALIDITY), naming every problem at once.
func LoadEnv(getenv func(string) string) (Env, error) {
	var e Env
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	var err error
	if e.TokenKey, err = ParseKey(getenv("PLAYBACK_TOKEN_KEY")); err != nil {
		fail("PLAYBACK_TOKEN_KEY", "%v (base64 of %d random bytes: head -c %d /dev/urandom | base64)", err, MinKeyBytes, MinKeyBytes)
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
	e.Config = DefaultConfig()
	e.Config.TokenTTL = duration("PLAYBACK_TOKEN_TTL", e.Config.TokenTTL)
	e.Config.SessionTTL = duration("PLAYBACK_SESSION_TTL", e.Config.SessionTTL)
	e.Config.PublicURL = strings.TrimSuffix(getenv("PLAYBACK_PUBLIC_URL"), "/")
	if v := getenv("PLAYBACK_FREE_MAX_HEIGHT"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 144 {
			fail("PLAYBACK_FREE_MAX_HEIGHT", "%q is not a rendition height such as 720", v)
		} else {
			e.Config.Policy.FreeMaxHeight = n
		}
	}
	if e.Config.SessionTTL < e.Config.TokenTTL {
		fail("PLAYBACK_SESSION_TTL", "%s is shorter than PLAYBACK_TOKEN_TTL %s", e.Config.SessionTTL, e.Config.TokenTTL)
	}
	if e.Config.SessionTTL > 7*24*time.Hour {
		fail("PLAYBACK_SESSION_TTL", "%s: presigned OSS URLs live at most 7 days", e.Config.SessionTTL)
	}
	if domain := getenv("PLAYBACK_CDN_DOMAIN"); domain != "" {
		key := getenv("PLAYBACK_CDN_KEY")
		if len(key) < 6 {
			fail("PLAYBACK_CDN_KEY", "the CDN's type-A key is required with PLAYBACK_CDN_DOMAIN")
		}
		if !strings.Contains(domain, "://") {
			domain = "https://" + domain
		}
		e.CDN = &CDNSigner{Base: domain, Key: key, Validity: duration("PLAYBACK_CDN_VALIDITY", 30*time.Minute)}
	}
	return e, errors.Join(errs...)
}

// Service builds playback over the video records and the media bucket with these settings.
func (e Env) Service(store *videos.Store, media *oss.Store) (*Service, error) {
	tokens, err := NewTokens(e.TokenKey)
	if err != nil {
		return nil, err
	}
	var signer MediaSigner = OSSSigner{Store: media}
	if e.CDN != nil {
		signer = *e.CDN
	}
	return New(store, media, tokens, signer, e.Config), nil
}
