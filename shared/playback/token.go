package playback

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
)

// Token is what a playback URL grants: one viewer (anonymous when Viewer is "") of one tier
// may fetch the playlists of one video until Expires.
type Token struct {
	Video   string
	Viewer  string
	Tier    vodfc.Tier
	Expires time.Time
	// Session marks the long-lived token a master playlist puts on its variants. It opens
	// variants and storyboards but never a master, or every master fetch would mint another
	// session and a leaked link would live for ever.
	Session bool
}

// MinKeyBytes is the least key material a token key must have (HMAC-SHA256's block of
// security: 256 bits).
const MinKeyBytes = 32

// Tokens signs and verifies playback tokens with HMAC-SHA256. Only the functions serving
// playback hold the key (videos, which owns the play route under /api/v1/videos/, and
// playback, which serves the playlists): a token proves the play route checked the viewer's
// access moments ago, so the playlist requests that follow (made by players that cannot send
// an Authorization header) need no access token and no extra reads of the viewer.
type Tokens struct {
	key []byte
}

// ParseKey reads a key as the local cloud and deployments write it: base64 (URL or standard
// alphabet, padded or not) of at least MinKeyBytes random bytes.
func ParseKey(s string) ([]byte, error) { return auth.ParseSecretKey(s, MinKeyBytes) }

// NewTokens returns a signer over key (at least MinKeyBytes bytes).
func NewTokens(key []byte) (*Tokens, error) {
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("playback: token key has %d bytes; want at least %d", len(key), MinKeyBytes)
	}
	return &Tokens{key: append([]byte(nil), key...)}, nil
}

// tokenVersion starts every payload, so the format can change without old tokens being read
// the new way; sessionVersion starts session tokens, so the kind is under the MAC.
const (
	tokenVersion   = "p1"
	sessionVersion = "s1"
)

// Sign renders t as "payload.mac", both base64url: the payload is readable (it holds nothing
// secret) and the MAC covers every field.
func (k *Tokens) Sign(t Token) string {
	version := tokenVersion
	if t.Session {
		version = sessionVersion
	}
	payload := strings.Join([]string{version, t.Video, t.Viewer, string(t.Tier), strconv.FormatInt(t.Expires.Unix(), 10)}, "\n")
	p := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return p + "." + base64.RawURLEncoding.EncodeToString(k.mac(p))
}

func (k *Tokens) mac(payload string) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Codes of the 403 problems a bad token gets.
const (
	CodeInvalidToken = "invalid_playback_token"
	CodeTokenExpired = "playback_token_expired"
)

func errInvalidToken(cause error) error {
	return &vodfc.Error{Kind: vodfc.KindForbidden, Code: CodeInvalidToken, Message: "the playback link is not valid; ask for a new one", Cause: cause}
}

// Verify checks a token's MAC, then its fields and expiry at now. Every failure is a 403
// (invalid_playback_token, or playback_token_expired for a genuine token that ran out).
func (k *Tokens) Verify(s string, now time.Time) (Token, error) {
	p, sig, ok := strings.Cut(s, ".")
	if !ok || len(s) > 1024 {
		return Token{}, errInvalidToken(errors.New("malformed"))
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, k.mac(p)) {
		return Token{}, errInvalidToken(errors.New("bad signature"))
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Token{}, errInvalidToken(err)
	}
	f := strings.Split(string(raw), "\n")
	if len(f) != 5 || f[0] != tokenVersion && f[0] != sessionVersion {
		return Token{}, errInvalidToken(errors.New("unknown payload"))
	}
	exp, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return Token{}, errInvalidToken(err)
	}
	t := Token{Video: f[1], Viewer: f[2], Tier: vodfc.Tier(f[3]), Expires: time.Unix(exp, 0).UTC(), Session: f[0] == sessionVersion}
	if !vodfc.ValidID(t.Video) || !t.Tier.Valid() {
		return Token{}, errInvalidToken(errors.New("bad fields"))
	}
	if !now.Before(t.Expires) {
		return Token{}, &vodfc.Error{Kind: vodfc.KindForbidden, Code: CodeTokenExpired, Message: "the playback link has expired; ask for a new one"}
	}
	return t, nil
}
