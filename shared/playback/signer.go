package playback

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
)

// MediaSigner turns an object key into a URL a player may GET (with Range requests) until
// about expires. There are two: presigned OSS URLs, and CDN URLs signed with the CDN's type-A
// scheme when a CDN domain serves the bucket.
type MediaSigner interface {
	SignGet(key string, expires time.Time) (string, error)
}

// OSSSigner presigns GET URLs on the media bucket.
type OSSSigner struct {
	Store *oss.Store
	Now   func() time.Time
}

// SignGet presigns key until expires.
func (s OSSSigner) SignGet(key string, expires time.Time) (string, error) {
	now := runtime.Now // the clock that set expires
	if s.Now != nil {
		now = s.Now
	}
	ttl := expires.Sub(now())
	if ttl < time.Minute {
		ttl = time.Minute
	}
	p, err := s.Store.PresignGet(key, ttl)
	if err != nil {
		return "", err
	}
	return p.URL, nil
}

// CDNSigner signs URLs on a CDN domain in front of the bucket with Alibaba Cloud CDN's type-A
// URL signing: ?auth_key={timestamp}-{rand}-0-{md5("/{path}-{timestamp}-{rand}-0-{key}")}.
// The CDN lets a URL live for timestamp + its configured validity (the console's setting,
// Validity), so timestamp is the wanted expiry minus that validity.
type CDNSigner struct {
	// Base is the CDN origin, e.g. https://cdn.example.com.
	Base string
	// Key is the type-A private key configured in the CDN console.
	Key string
	// Validity is the signed-URL validity configured in the CDN console (default 30 min).
	Validity time.Duration
	Now      func() time.Time
	// Rand returns the rand field; nil uses 16 random bytes in hex.
	Rand func() string
}

// SignGet signs key (the object key is the CDN path) until about expires.
func (s CDNSigner) SignGet(key string, expires time.Time) (string, error) {
	base, err := url.Parse(strings.TrimSuffix(s.Base, "/"))
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return "", fmt.Errorf("playback: CDN base %q is not an http(s) origin", s.Base)
	}
	now := runtime.Now // the clock that set expires
	if s.Now != nil {
		now = s.Now
	}
	ts := expires.Add(-s.Validity)
	if n := now(); ts.Before(n) {
		ts = n
	}
	r := ""
	if s.Rand != nil {
		r = s.Rand()
	} else {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		r = hex.EncodeToString(b[:])
	}
	// The signed URI is the request path as the CDN sees it: escaped, starting with "/".
	uri := (&url.URL{Path: "/" + key}).EscapedPath()
	return SignTypeA(base.Scheme+"://"+base.Host+uri, uri, ts.Unix(), r, s.Key), nil
}

// SignTypeA appends a type-A auth_key to rawURL, whose path is uri.
func SignTypeA(rawURL, uri string, timestamp int64, rand, key string) string {
	ts := strconv.FormatInt(timestamp, 10)
	sum := md5.Sum([]byte(uri + "-" + ts + "-" + rand + "-0-" + key))
	return rawURL + "?auth_key=" + ts + "-" + rand + "-0-" + hex.EncodeToString(sum[:])
}
