package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"vodfc.dev/vodfc"
)

// The interface shared/httpapi authenticates requests through.
var _ interface {
	VerifyAccessToken(string) (vodfc.Principal, error)
} = (*Verifier)(nil)

const (
	testIssuer   = "https://vodfc.test/auth"
	testAudience = "vodfc-api"
)

// clock is a settable time source shared by a signer and a verifier.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)         { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

type fixture struct {
	key    ed25519.PrivateKey
	kid    string
	clock  *clock
	signer *Signer
	v      *Verifier
}

func newFixture(t testing.TB, cacheSize int) *fixture {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{key: key, clock: &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	f.signer, err = NewSigner(SignerConfig{Key: key, Issuer: testIssuer, Audience: testAudience, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.kid = f.signer.KeyID()
	f.v, err = NewVerifier(VerifierConfig{Keys: map[string]ed25519.PublicKey{f.kid: f.signer.PublicKey()},
		Issuer: testIssuer, Audience: testAudience, CacheSize: cacheSize, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// claims returns valid access-token claims at the fixture's current time, for tests that forge
// tokens by hand.
func (f *fixture) claims() jwt.MapClaims {
	now := f.clock.Now()
	return jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "sub": "u_alice", "tier": "member",
		"jti": "j1", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
}

// forge signs claims with method and key under the given header fields (typ at+jwt and the
// fixture's kid unless overridden; a nil value deletes the field).
func (f *fixture) forge(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["typ"] = AccessTokenType
	tok.Header["kid"] = f.kid
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rejects asserts that token is refused with the given client code and cause.
func rejects(t *testing.T, v *Verifier, token, code string, want error) {
	t.Helper()
	p, err := v.VerifyAccessToken(token)
	if err == nil {
		t.Fatalf("token accepted as %+v, want %v", p, want)
	}
	var e *vodfc.Error
	if !errors.As(err, &e) || e.Kind != vodfc.KindUnauthorized || e.Code != code {
		t.Fatalf("err = %#v, want unauthorized %s", err, code)
	}
	if !errors.Is(err, want) {
		t.Fatalf("cause = %v, want %v", e.Cause, want)
	}
	if p.UserID != "" || p.Tier != "" || p.Roles != nil || p.TokenID != "" {
		t.Fatalf("rejected token still yielded principal %+v", p)
	}
}

func TestIssueAndVerify(t *testing.T) {
	f := newFixture(t, 0)
	tok, expiresIn, err := f.signer.IssueAccess("u_alice", vodfc.TierMember, nil)
	if err != nil {
		t.Fatal(err)
	}
	if expiresIn != 15*time.Minute {
		t.Errorf("expiresIn = %v, want 15m", expiresIn)
	}
	p, err := f.v.VerifyAccessToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != "u_alice" || p.Tier != vodfc.TierMember || len(p.Roles) != 0 || p.TokenID == "" {
		t.Fatalf("principal = %+v", p)
	}

	// The wire format: header and every claim the issue names.
	parts := strings.Split(tok, ".")
	var header, claims map[string]any
	decodeSegment(t, parts[0], &header)
	decodeSegment(t, parts[1], &claims)
	if header["alg"] != "EdDSA" || header["typ"] != "at+jwt" || header["kid"] != f.kid {
		t.Errorf("header = %v", header)
	}
	for _, name := range []string{"sub", "iss", "aud", "exp", "iat", "nbf", "jti", "tier"} {
		if _, ok := claims[name]; !ok {
			t.Errorf("claim %s missing from %v", name, claims)
		}
	}
	if _, ok := claims["roles"]; ok {
		t.Errorf("a user without roles got a roles claim: %v", claims)
	}
	if claims["aud"] != testAudience {
		t.Errorf("aud = %#v, want the single string %q", claims["aud"], testAudience)
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 900 {
		t.Errorf("exp - iat = %v s, want 900", exp-iat)
	}

	// Two tokens for the same user are distinct (jti).
	tok2, _, _ := f.signer.IssueAccess("u_alice", vodfc.TierMember, nil)
	p2, err := f.v.VerifyAccessToken(tok2)
	if err != nil || tok2 == tok || p2.TokenID == p.TokenID {
		t.Fatalf("second token: %v, same token %v, same jti %v", err, tok2 == tok, p2.TokenID == p.TokenID)
	}
}

func TestAdminRoles(t *testing.T) {
	f := newFixture(t, 0)
	tok, _, err := f.signer.IssueAccess("u_root", vodfc.TierFree, []vodfc.Role{vodfc.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // miss, then cache hit
		p, err := f.v.VerifyAccessToken(tok)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Has(vodfc.RoleAdmin) || p.Tier != vodfc.TierFree {
			t.Fatalf("principal = %+v", p)
		}
		p.Roles[0] = "tampered" // a handler scribbling on its copy must not reach the cache
	}
}

func TestIssueRefusesBadInput(t *testing.T) {
	f := newFixture(t, 0)
	for _, tc := range []struct {
		sub   string
		tier  vodfc.Tier
		roles []vodfc.Role
	}{
		{"", vodfc.TierFree, nil},
		{strings.Repeat("x", 256), vodfc.TierFree, nil},
		{"u", "gold", nil},
		{"u", vodfc.TierFree, []vodfc.Role{"superuser"}},
	} {
		if _, _, err := f.signer.IssueAccess(tc.sub, tc.tier, tc.roles); err == nil {
			t.Errorf("IssueAccess(%.10q, %q, %v) succeeded", tc.sub, tc.tier, tc.roles)
		}
	}
}

func TestAlgNone(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, f.claims())
	rejects(t, f.v, tok, CodeInvalidToken, ErrAlgorithm)
	// The same with the signature of a real token glued on.
	real, _, _ := f.signer.IssueAccess("u_alice", vodfc.TierMember, nil)
	rejects(t, f.v, tok+strings.Split(real, ".")[2], CodeInvalidToken, ErrAlgorithm)
	// And spelled differently: golang-jwt does not know "None", which must not help either.
	rejects(t, f.v, hand(t, map[string]any{"alg": "None", "typ": "at+jwt", "kid": f.kid}, f.claims(), ""), CodeInvalidToken, ErrAlgorithm)
	rejects(t, f.v, hand(t, map[string]any{"typ": "at+jwt", "kid": f.kid}, f.claims(), ""), CodeInvalidToken, ErrAlgorithm)
}

// TestAlgorithmConfusion is the classic attack on verifiers that let the token pick the
// algorithm: an HS256 token whose HMAC secret is the (public) verification key.
func TestAlgorithmConfusion(t *testing.T) {
	f := newFixture(t, 0)
	pub := []byte(f.signer.PublicKey())
	for name, secret := range map[string][]byte{
		"raw public key":    pub,
		"base64 public key": []byte(base64.StdEncoding.EncodeToString(pub)),
	} {
		for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS512} {
			t.Run(name+" "+m.Alg(), func(t *testing.T) {
				rejects(t, f.v, f.forge(t, m, secret, nil, f.claims()), CodeInvalidToken, ErrAlgorithm)
			})
		}
	}
}

func TestOtherKey(t *testing.T) {
	f := newFixture(t, 0)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	// Our kid, someone else's key.
	rejects(t, f.v, f.forge(t, jwt.SigningMethodEdDSA, other, nil, f.claims()), CodeInvalidToken, ErrBadSignature)
	// Their own kid.
	otherKid := KeyID(other.Public().(ed25519.PublicKey))
	rejects(t, f.v, f.forge(t, jwt.SigningMethodEdDSA, other, map[string]any{"kid": otherKid}, f.claims()), CodeInvalidToken, ErrUnknownKey)
}

func TestExpired(t *testing.T) {
	f := newFixture(t, 0)
	tok, _, _ := f.signer.IssueAccess("u_alice", vodfc.TierFree, nil)
	f.clock.Advance(15*time.Minute + DefaultLeeway)
	rejects(t, f.v, tok, CodeTokenExpired, ErrExpired)

	// Within the leeway it still passes: clocks of two functions may differ a little.
	f2 := newFixture(t, -1)
	tok, _, _ = f2.signer.IssueAccess("u_alice", vodfc.TierFree, nil)
	f2.clock.Advance(15*time.Minute + DefaultLeeway - time.Second)
	if _, err := f2.v.VerifyAccessToken(tok); err != nil {
		t.Fatalf("token within leeway: %v", err)
	}
	c := f2.claims()
	delete(c, "exp")
	rejects(t, f2.v, f2.forge(t, jwt.SigningMethodEdDSA, f2.key, nil, c), CodeInvalidToken, ErrBadClaims)
}

func TestNotYetValid(t *testing.T) {
	f := newFixture(t, 0)
	f.clock.Advance(time.Hour) // the signer's clock runs ahead...
	tok, _, _ := f.signer.IssueAccess("u_alice", vodfc.TierFree, nil)
	f.clock.Advance(-time.Hour) // ...of the verifier's
	rejects(t, f.v, tok, CodeTokenNotYetValid, ErrNotYetValid)

	c := f.claims()
	c["nbf"] = f.clock.Now().Add(5 * time.Minute).Unix()
	rejects(t, f.v, f.forge(t, jwt.SigningMethodEdDSA, f.key, nil, c), CodeTokenNotYetValid, ErrNotYetValid)
}

func TestWrongAudienceAndIssuer(t *testing.T) {
	f := newFixture(t, 0)
	c := f.claims()
	c["aud"] = "another-api"
	rejects(t, f.v, f.forge(t, jwt.SigningMethodEdDSA, f.key, nil, c), CodeInvalidToken, ErrWrongAudience)
	delete(c, "aud")
	rejects(t, f.v, f.forge(t, jwt.SigningMethodEdDSA, f.key, nil, c), CodeInvalidToken, ErrBadClaims)
	c["aud"] = []string{"another-api", testAudience} // ours among others is fine (RFC 7519 §4.1.3)
	if _, err := f.v.VerifyAccessToken(f.forge(t, jwt.SigningMethodEdDSA, f.key, nil, c)); err != nil {
		t.Fatalf("aud array containing ours: %v", err)
	}

	c = f.claims()
	c["iss"] = "https://evil.test/"
	rejects(t, f.v, f.forge(t, jwt.SigningMethodEdDSA, f.key, nil, c), CodeInvalidToken, ErrWrongIssuer)

	// Not ours and expired: the client must not be told to refresh it.
	c = f.claims()
	c["aud"] = "another-api"
	c["exp"] = f.clock.Now().Add(-time.Hour).Unix()
	rejects(t, f.v, f.forge(t, jwt.SigningMethodEdDSA, f.key, nil, c), CodeInvalidToken, ErrWrongAudience)
}

func TestWrongType(t *testing.T) {
	f := newFixture(t, 0)
	for _, typ := range []any{"refresh+jwt", "email+jwt", "JWT", "", "at+jwt ", 42} {
		tok := f.forge(t, jwt.SigningMethodEdDSA, f.key, map[string]any{"typ": typ}, f.claims())
		t.Run(fmt.Sprint(typ), func(t *testing.T) { rejects(t, f.v, tok, CodeInvalidToken, ErrWrongType) })
	}
	rejects(t, f.v, f.forge(t, jwt.SigningMethodEdDSA, f.key, map[string]any{"typ": nil}, f.claims()), CodeInvalidToken, ErrWrongType)
	for _, typ := range []string{"AT+JWT", "application/at+jwt"} {
		if _, err := f.v.VerifyAccessToken(f.forge(t, jwt.SigningMethodEdDSA, f.key, map[string]any{"typ": typ}, f.claims())); err != nil {
			t.Errorf("typ %q: %v", typ, err)
		}
	}
}

func TestUnknownKid(t *testing.T) {
	f := newFixture(t, 0)
	for _, kid := range []any{"nope", "", nil, 7, strings.ToUpper(f.kid)} {
		tok := f.forge(t, jwt.SigningMethodEdDSA, f.key, map[string]any{"kid": kid}, f.claims())
		rejects(t, f.v, tok, CodeInvalidToken, ErrUnknownKey)
	}
}

func TestCriticalHeader(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.forge(t, jwt.SigningMethodEdDSA, f.key, map[string]any{"crit": []string{"exp"}, "exp": 1}, f.claims())
	rejects(t, f.v, tok, CodeInvalidToken, ErrCritical)
}

func TestBadClaims(t *testing.T) {
	f := newFixture(t, 0)
	for _, tc := range []struct {
		name  string
		edit  func(jwt.MapClaims)
		cause error
	}{
		{"no sub", func(c jwt.MapClaims) { delete(c, "sub") }, ErrBadClaims},
		{"no jti", func(c jwt.MapClaims) { delete(c, "jti") }, ErrBadClaims},
		{"no iat", func(c jwt.MapClaims) { delete(c, "iat") }, ErrBadClaims},
		{"no nbf", func(c jwt.MapClaims) { delete(c, "nbf") }, ErrBadClaims},
		{"no tier", func(c jwt.MapClaims) { delete(c, "tier") }, ErrBadClaims},
		{"unknown tier", func(c jwt.MapClaims) { c["tier"] = "platinum" }, ErrBadClaims},
		{"unknown role", func(c jwt.MapClaims) { c["roles"] = []string{"owner"} }, ErrBadClaims},
		{"iat in future", func(c jwt.MapClaims) { c["iat"] = f.clock.Now().Add(time.Hour).Unix() }, ErrNotYetValid},
		{"exp not a number", func(c jwt.MapClaims) { c["exp"] = "tomorrow" }, ErrMalformed},
		{"sub not a string", func(c jwt.MapClaims) { c["sub"] = 12 }, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := f.claims()
			tc.edit(c)
			tok := f.forge(t, jwt.SigningMethodEdDSA, f.key, nil, c)
			code := CodeInvalidToken
			if tc.cause == ErrNotYetValid {
				code = CodeTokenNotYetValid
			}
			rejects(t, f.v, tok, code, tc.cause)
		})
	}
}

func TestMalformed(t *testing.T) {
	f := newFixture(t, 0)
	good, _, _ := f.signer.IssueAccess("u_alice", vodfc.TierFree, nil)
	parts := strings.Split(good, ".")
	for name, tok := range map[string]string{
		"empty":            "",
		"one segment":      "abc",
		"two segments":     parts[0] + "." + parts[1],
		"four segments":    good + ".x",
		"header not b64":   "!!!." + parts[1] + "." + parts[2],
		"header not json":  base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2],
		"signature padded": good + "==",
		"huge":             good + strings.Repeat("A", maxTokenBytes),
	} {
		t.Run(name, func(t *testing.T) { rejects(t, f.v, tok, CodeInvalidToken, ErrMalformed) })
	}
}

func TestTamperedPayload(t *testing.T) {
	f := newFixture(t, 0)
	tok, _, _ := f.signer.IssueAccess("u_bob", vodfc.TierFree, nil)
	if _, err := f.v.VerifyAccessToken(tok); err != nil { // now cached
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	var claims map[string]any
	decodeSegment(t, parts[1], &claims)
	for name, edit := range map[string]func(map[string]any){
		"tier":  func(c map[string]any) { c["tier"] = "member" },
		"sub":   func(c map[string]any) { c["sub"] = "u_alice" },
		"roles": func(c map[string]any) { c["roles"] = []string{"admin"} },
		"exp":   func(c map[string]any) { c["exp"] = c["exp"].(float64) + 86400 },
	} {
		t.Run(name, func(t *testing.T) {
			c := map[string]any{}
			for k, v := range claims {
				c[k] = v
			}
			edit(c)
			b, _ := json.Marshal(c)
			forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
			rejects(t, f.v, forged, CodeInvalidToken, ErrBadSignature)
		})
	}
	// A flipped bit in the signature itself.
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1
	rejects(t, f.v, parts[0]+"."+parts[1]+"."+base64.RawURLEncoding.EncodeToString(sig), CodeInvalidToken, ErrBadSignature)
}

// TestKeyURLHeadersIgnored: jku and x5u point at a server offering the attacker's key; the
// verifier must neither fetch it nor trust it, and must not mind the headers on a good token.
func TestKeyURLHeadersIgnored(t *testing.T) {
	f := newFixture(t, 0)
	attackerPub, attacker, _ := ed25519.GenerateKey(rand.Reader)
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		fmt.Fprintf(w, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":%q,"x":%q}]}`,
			KeyID(attackerPub), base64.RawURLEncoding.EncodeToString(attackerPub))
	}))
	defer srv.Close()
	urls := map[string]any{"jku": srv.URL + "/jwks.json", "x5u": srv.URL + "/cert.pem"}
	withKid := func(kid string) map[string]any {
		h := map[string]any{"kid": kid}
		for k, v := range urls {
			h[k] = v
		}
		return h
	}

	rejects(t, f.v, f.forge(t, jwt.SigningMethodEdDSA, attacker, withKid(KeyID(attackerPub)), f.claims()), CodeInvalidToken, ErrUnknownKey)
	rejects(t, f.v, f.forge(t, jwt.SigningMethodEdDSA, attacker, withKid(f.kid), f.claims()), CodeInvalidToken, ErrBadSignature)
	// An embedded jwk is no better.
	jwk := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(attackerPub)}
	rejects(t, f.v, f.forge(t, jwt.SigningMethodEdDSA, attacker, map[string]any{"jwk": jwk}, f.claims()), CodeInvalidToken, ErrBadSignature)

	good := f.forge(t, jwt.SigningMethodEdDSA, f.key, withKid(f.kid), f.claims())
	if _, err := f.v.VerifyAccessToken(good); err != nil {
		t.Fatalf("good token with jku/x5u headers: %v", err)
	}
	if n := fetches.Load(); n != 0 {
		t.Fatalf("verifier fetched the key URL %d times", n)
	}
}

// TestCacheDoesNotExtendValidity: once cached, a token still dies at exp, and a clock that
// jumps back before nbf is still honoured.
func TestCacheDoesNotExtendValidity(t *testing.T) {
	f := newFixture(t, 0)
	start := f.clock.Now()
	tok, _, _ := f.signer.IssueAccess("u_alice", vodfc.TierMember, nil)
	for range 3 {
		if _, err := f.v.VerifyAccessToken(tok); err != nil {
			t.Fatal(err)
		}
	}
	if f.v.cache.len() != 1 {
		t.Fatalf("cache holds %d tokens, want 1", f.v.cache.len())
	}
	f.clock.Set(start.Add(-DefaultLeeway - time.Second))
	rejects(t, f.v, tok, CodeTokenNotYetValid, ErrNotYetValid)
	f.clock.Set(start.Add(14 * time.Minute))
	if _, err := f.v.VerifyAccessToken(tok); err != nil {
		t.Fatalf("cached token before exp: %v", err)
	}
	f.clock.Set(start.Add(15*time.Minute + DefaultLeeway))
	rejects(t, f.v, tok, CodeTokenExpired, ErrExpired)
	rejects(t, f.v, tok, CodeTokenExpired, ErrExpired) // and again, now from a full parse
	if f.v.cache.len() != 0 {
		t.Fatalf("expired token still cached")
	}
}

func TestCacheBounded(t *testing.T) {
	f := newFixture(t, 64)
	first, _, _ := f.signer.IssueAccess("u_0", vodfc.TierFree, nil)
	for i := range 1000 {
		tok, _, _ := f.signer.IssueAccess(fmt.Sprintf("u_%d", i), vodfc.TierFree, nil)
		if _, err := f.v.VerifyAccessToken(tok); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 { // a token in steady use survives the churn
			if p, err := f.v.VerifyAccessToken(first); err != nil || p.UserID != "u_0" {
				t.Fatalf("first token: %+v %v", p, err)
			}
		}
	}
	if n := f.v.cache.len(); n > 64 {
		t.Fatalf("cache holds %d tokens, bound is 64", n)
	}
}

func TestCacheDisabled(t *testing.T) {
	f := newFixture(t, -1)
	tok, _, _ := f.signer.IssueAccess("u_alice", vodfc.TierFree, nil)
	for range 2 {
		if _, err := f.v.VerifyAccessToken(tok); err != nil {
			t.Fatal(err)
		}
	}
	if f.v.cache != nil {
		t.Fatal("negative CacheSize still built a cache")
	}
}

func TestConcurrentVerify(t *testing.T) {
	f := newFixture(t, 128)
	toks := make([]string, 200)
	for i := range toks {
		toks[i], _, _ = f.signer.IssueAccess(fmt.Sprintf("u_%d", i), vodfc.TierFree, nil)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				j := (i*7 + g) % len(toks)
				p, err := f.v.VerifyAccessToken(toks[j])
				if err != nil || p.UserID != fmt.Sprintf("u_%d", j) {
					t.Errorf("token %d: %+v %v", j, p, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestKeyRotation(t *testing.T) {
	_, k1, _ := ed25519.GenerateKey(rand.Reader)
	_, k2, _ := ed25519.GenerateKey(rand.Reader)
	s1, _ := NewSigner(SignerConfig{Key: k1, Issuer: testIssuer, Audience: testAudience})
	s2, _ := NewSigner(SignerConfig{Key: k2, Issuer: testIssuer, Audience: testAudience})
	keys, err := ParseVerifyKeys(VerifyKeyEntry(s1.PublicKey()) + ", " + VerifyKeyEntry(s2.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Keys: keys, Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Signer{s1, s2} {
		tok, _, _ := s.IssueAccess("u", vodfc.TierFree, nil)
		if _, err := v.VerifyAccessToken(tok); err != nil {
			t.Fatalf("token of %s: %v", s.KeyID(), err)
		}
	}
}

func decodeSegment(t *testing.T, seg string, into any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}

// hand assembles a token from raw parts, for headers golang-jwt refuses to produce.
func hand(t *testing.T, header map[string]any, claims jwt.MapClaims, sig string) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." + sig
}
