package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"vodfc.dev/vodfc"
)

// AccessTokenType is the typ header of an access token (RFC 9068 §2.1).
const AccessTokenType = "at+jwt"

// Defaults for SignerConfig and VerifierConfig.
const (
	DefaultAccessTTL = 15 * time.Minute
	DefaultLeeway    = 30 * time.Second
	DefaultCacheSize = 10000
)

// maxTokenBytes bounds what is hashed, base64-decoded and JSON-parsed for an unauthenticated
// caller. Our tokens are about 400 bytes.
const maxTokenBytes = 4096

// maxSubjectBytes bounds sub; user ids are short.
const maxSubjectBytes = 255

// SignerConfig configures NewSigner.
type SignerConfig struct {
	Key      ed25519.PrivateKey
	Issuer   string
	Audience string
	// AccessTTL is the lifetime of an access token; DefaultAccessTTL when zero.
	AccessTTL time.Duration
	// Now replaces the clock in tests.
	Now func() time.Time
}

// Signer mints access tokens. Only the auth function has one.
type Signer struct {
	key      ed25519.PrivateKey
	kid      string
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// NewSigner checks cfg and returns a Signer whose kid is KeyID of the key's public half.
func NewSigner(cfg SignerConfig) (*Signer, error) {
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("auth: signer needs an Ed25519 private key")
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("auth: signer needs an issuer and an audience")
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.AccessTTL < time.Second || cfg.AccessTTL > 24*time.Hour {
		return nil, fmt.Errorf("auth: access token lifetime %v out of range (1s to 24h)", cfg.AccessTTL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pub := cfg.Key.Public().(ed25519.PublicKey)
	return &Signer{key: cfg.Key, kid: KeyID(pub), issuer: cfg.Issuer, audience: cfg.Audience,
		ttl: cfg.AccessTTL, now: cfg.Now}, nil
}

// KeyID is the kid the signer puts in its tokens.
func (s *Signer) KeyID() string { return s.kid }

// PublicKey is the key verifiers need; VerifyKeyEntry formats it for JWT_VERIFY_KEYS.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// IssueAccess mints an access token for user sub with the given tier and roles (nil for
// everyone but operators). expiresIn is the token's lifetime, for the expires_in of a token
// response.
func (s *Signer) IssueAccess(sub string, tier vodfc.Tier, roles []vodfc.Role) (token string, expiresIn time.Duration, err error) {
	if sub == "" || len(sub) > maxSubjectBytes {
		return "", 0, fmt.Errorf("auth: subject must be 1 to %d bytes", maxSubjectBytes)
	}
	if !tier.Valid() {
		return "", 0, fmt.Errorf("auth: unknown tier %q", tier)
	}
	for _, r := range roles {
		if r != vodfc.RoleAdmin {
			return "", 0, fmt.Errorf("auth: unknown role %q", r)
		}
	}
	// Whole seconds, so exp - iat is exactly the lifetime we report.
	now := s.now().Truncate(time.Second)
	claims := jwt.MapClaims{
		"iss":  s.issuer,
		"sub":  sub,
		"aud":  s.audience,
		"exp":  now.Add(s.ttl).Unix(),
		"nbf":  now.Unix(),
		"iat":  now.Unix(),
		"jti":  newTokenID(),
		"tier": string(tier),
	}
	if len(roles) > 0 {
		claims["roles"] = roles
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["typ"] = AccessTokenType
	t.Header["kid"] = s.kid
	token, err = t.SignedString(s.key)
	if err != nil {
		return "", 0, fmt.Errorf("auth: sign access token: %w", err)
	}
	return token, s.ttl, nil
}

// newTokenID returns a 128-bit random jti: unique without coordination between instances.
func newTokenID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// VerifierConfig configures NewVerifier.
type VerifierConfig struct {
	// Keys maps kid to public key. Every key verifies EdDSA only.
	Keys     map[string]ed25519.PublicKey
	Issuer   string
	Audience string
	// Leeway tolerates clock skew on exp, nbf and iat; DefaultLeeway when zero, none when
	// negative.
	Leeway time.Duration
	// CacheSize bounds the cache of verified tokens; DefaultCacheSize when zero, no cache when
	// negative.
	CacheSize int
	// Now replaces the clock in tests.
	Now func() time.Time
}

// Verifier checks access tokens against a static set of public keys. It is safe for
// concurrent use and implements the token verifier interface of shared/httpapi.
type Verifier struct {
	keys     map[string]ed25519.PublicKey
	issuer   string
	audience string
	leeway   time.Duration
	now      func() time.Time
	parser   *jwt.Parser
	cache    *tokenCache // nil when disabled
}

// NewVerifier checks cfg and returns a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("auth: verifier needs at least one public key")
	}
	keys := make(map[string]ed25519.PublicKey, len(cfg.Keys))
	for kid, k := range cfg.Keys {
		if kid == "" || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("auth: key %q is not a named Ed25519 public key", kid)
		}
		keys[kid] = append(ed25519.PublicKey(nil), k...)
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("auth: verifier needs an issuer and an audience")
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{keys: keys, issuer: cfg.Issuer, audience: cfg.Audience, leeway: cfg.Leeway, now: cfg.Now}
	// The algorithm is checked in keyFor, per key, rather than with WithValidMethods, so that a
	// wrong algorithm is reported as such and not as a bad signature.
	v.parser = jwt.NewParser(
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(),
	)
	switch {
	case cfg.CacheSize == 0:
		v.cache = newTokenCache(DefaultCacheSize)
	case cfg.CacheSize > 0:
		v.cache = newTokenCache(cfg.CacheSize)
	}
	return v, nil
}

// VerifyAccessToken checks token and returns who it proves the caller to be. Errors are
// *vodfc.Error of kind Unauthorized (see the package doc for codes and causes).
func (v *Verifier) VerifyAccessToken(token string) (vodfc.Principal, error) {
	if token == "" || len(token) > maxTokenBytes {
		return vodfc.Principal{}, rejected(ErrMalformed)
	}
	var sum [sha256.Size]byte
	if v.cache != nil {
		sum = sha256.Sum256([]byte(token))
		if e, ok := v.cache.get(sum); ok {
			// A hit skips only the signature and the static claims; the clock is checked again
			// with the same rules as the parser, so caching never extends a token's life.
			now := v.now()
			if !now.Before(e.exp.Add(v.leeway)) {
				v.cache.remove(sum)
				return vodfc.Principal{}, rejected(ErrExpired)
			}
			if now.Before(e.nbf.Add(-v.leeway)) {
				return vodfc.Principal{}, rejected(ErrNotYetValid)
			}
			return e.principal(), nil
		}
	}
	var c accessClaims
	if _, err := v.parser.ParseWithClaims(token, &c, v.keyFor); err != nil {
		return vodfc.Principal{}, rejected(cause(err))
	}
	e := cachedToken{userID: c.Subject, tier: c.Tier, tokenID: c.ID, exp: c.ExpiresAt.Time, nbf: c.NotBefore.Time}
	if len(c.Roles) > 0 {
		e.roles = c.Roles
	}
	if v.cache != nil {
		v.cache.put(sum, e)
	}
	return e.principal(), nil
}

// keyFor is the jwt.Keyfunc: it decides from the header alone, before any signature check,
// whether the token could be ours.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodEdDSA {
		return nil, ErrAlgorithm
	}
	typ, _ := t.Header["typ"].(string)
	if !isAccessTokenType(typ) {
		return nil, ErrWrongType
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, ErrCritical
	}
	kid, _ := t.Header["kid"].(string)
	key, ok := v.keys[kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	return key, nil
}

// isAccessTokenType accepts "at+jwt" and its full media type; media types are
// case-insensitive (RFC 7515 §4.1.9).
func isAccessTokenType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == AccessTokenType || typ == "application/"+AccessTokenType
}

// cause maps a golang-jwt error to ours. Claim errors can come several at once; the ones that
// mean "not for us" win over the ones about time, so a client is never told to refresh a
// token that would be refused anyway.
func cause(err error) error {
	for _, ours := range []error{ErrAlgorithm, ErrWrongType, ErrCritical, ErrUnknownKey} {
		if errors.Is(err, ours) {
			return ours
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ErrMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// alg missing or not registered: ParseUnverified fails before the keyfunc runs.
		return ErrAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrBadSignature
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return ErrWrongIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return ErrWrongAudience
	case errors.Is(err, ErrBadClaims), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return ErrBadClaims
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ErrNotYetValid
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	}
	return ErrBadClaims
}

// accessClaims is what a verified access token says.
type accessClaims struct {
	jwt.RegisteredClaims
	Tier  vodfc.Tier   `json:"tier"`
	Roles []vodfc.Role `json:"roles,omitempty"`
}

// Validate checks the claims golang-jwt does not know about; the parser calls it.
func (c *accessClaims) Validate() error {
	switch {
	case c.Subject == "" || len(c.Subject) > maxSubjectBytes:
		return fmt.Errorf("%w: sub", ErrBadClaims)
	case c.ID == "":
		return fmt.Errorf("%w: jti", ErrBadClaims)
	case c.IssuedAt == nil:
		return fmt.Errorf("%w: iat", ErrBadClaims)
	case !c.Tier.Valid():
		return fmt.Errorf("%w: tier", ErrBadClaims)
	}
	for _, r := range c.Roles {
		if r != vodfc.RoleAdmin {
			return fmt.Errorf("%w: role %q", ErrBadClaims, r)
		}
	}
	return nil
}
