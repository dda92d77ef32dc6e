package accounts

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
)

func TestMeAndProfileEdits(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("me")
	s := e.signUp(addr, testPassword)
	bearer := "Bearer " + s.AccessToken

	var me Me
	e.me(s.AccessToken).json(t, &me)
	if me.ID != s.User.ID || me.Email != addr || me.Nickname != "Tester" || me.Tier != vodfc.TierFree || me.Bio != "" {
		t.Fatalf("me %+v", me)
	}
	res := e.do("PATCH", "/api/v1/me", map[string]string{"nickname": " Neo ", "bio": "line one\r\nline two"}, "Authorization", bearer)
	e.expect(res, 200, "")
	res.json(t, &me)
	if me.Nickname != "Neo" || me.Bio != "line one\nline two" {
		t.Fatalf("after PATCH %+v", me)
	}
	// This instance shows the edit at once.
	e.me(s.AccessToken).json(t, &me)
	if me.Nickname != "Neo" {
		t.Fatalf("GET after PATCH %+v", me)
	}
	res = e.do("PATCH", "/api/v1/me", map[string]string{"bio": "only the bio"}, "Authorization", bearer)
	res.json(t, &me)
	if me.Nickname != "Neo" || me.Bio != "only the bio" {
		t.Fatalf("a bio-only PATCH touched the nickname: %+v", me)
	}

	e.expect(e.do("PATCH", "/api/v1/me", map[string]string{}, "Authorization", bearer), 400, "nothing_to_change")
	e.expect(e.do("PATCH", "/api/v1/me", map[string]string{"bio": strings.Repeat("字", 501)}, "Authorization", bearer), 400, "invalid_field")
	e.expect(e.do("PATCH", "/api/v1/me", map[string]string{"nickname": ""}, "Authorization", bearer), 400, "invalid_field")
	e.expect(e.do("PATCH", "/api/v1/me", map[string]string{"email": "x@example.com"}, "Authorization", bearer), 400, "unknown_field")
	e.expect(e.do("PATCH", "/api/v1/me", `{"nickname":7}`, "Authorization", bearer), 400, "invalid_json")
	e.expect(e.do("PATCH", "/api/v1/me", map[string]string{"nickname": "x"}), 401, "authentication_required")
	e.expect(e.do("GET", "/api/v1/me", nil), 401, "authentication_required")
}

func TestPublicProfileShowsNoAddress(t *testing.T) {
	e := newEnv(t)
	s := e.signUp(newAddress("public"), testPassword)
	res := e.do("GET", "/api/v1/users/"+s.User.ID, nil)
	e.expect(res, 200, "")
	var fields map[string]any
	res.json(t, &fields)
	if fields["id"] != s.User.ID || fields["nickname"] != "Tester" {
		t.Fatalf("profile %v", fields)
	}
	for _, private := range []string{"email", "tier", "password", "roles"} {
		if _, ok := fields[private]; ok {
			t.Errorf("public profile shows %s", private)
		}
	}
	e.expect(e.do("GET", "/api/v1/users/"+vodfc.NewID(), nil), 404, "user_not_found")
	e.expect(e.do("GET", "/api/v1/users/..%2f..%2fetc", nil), 404, "")

	// An account that never confirmed its address has no public profile.
	pending := newAddress("pending")
	e.expect(e.do("POST", "/api/v1/auth/register", map[string]string{"email": pending, "password": testPassword, "nickname": "p"}), 202, "")
	waitMail(t, pending)
	id, err := (&store{db: testDB}).lookup(t.Context(), mustAddr(t, pending).Key)
	if err != nil || id == "" {
		t.Fatal(id, err)
	}
	e.expect(e.do("GET", "/api/v1/users/"+id, nil), 404, "user_not_found")
}

func TestAdminSetsATierThatShowsInTheNextAccessToken(t *testing.T) {
	admin := newAddress("Admin")
	e := newEnv(t, func(c *AuthConfig) { c.AdminEmails = []string{" " + strings.ToUpper(admin) + " "} })
	boss := e.signUp(admin, testPassword)
	if p := principal(t, boss.AccessToken); !p.Has(vodfc.RoleAdmin) {
		t.Fatalf("ADMIN_EMAILS address has roles %v", p.Roles)
	}
	var me Me
	e.me(boss.AccessToken).json(t, &me)
	if len(me.Roles) != 1 || me.Roles[0] != "admin" {
		t.Fatalf("admin's me %+v", me)
	}
	user := e.signUp(newAddress("customer"), testPassword)
	if p := principal(t, user.AccessToken); len(p.Roles) != 0 {
		t.Fatalf("ordinary user has roles %v", p.Roles)
	}
	path := "/api/v1/admin/users/" + user.User.ID + "/tier"

	e.expect(e.do("PUT", path, map[string]string{"tier": "member"}, "Authorization", "Bearer "+user.AccessToken), 403, "role_required")
	e.expect(e.do("PUT", path, map[string]string{"tier": "member"}), 401, "authentication_required")
	e.expect(e.do("PUT", path, map[string]string{"tier": "gold"}, "Authorization", "Bearer "+boss.AccessToken), 400, "invalid_field")
	e.expect(e.do("PUT", "/api/v1/admin/users/"+vodfc.NewID()+"/tier", map[string]string{"tier": "member"}, "Authorization", "Bearer "+boss.AccessToken), 404, "user_not_found")

	res := e.do("PUT", path, map[string]string{"tier": "member"}, "Authorization", "Bearer "+boss.AccessToken)
	e.expect(res, 200, "")
	var ch TierChange
	res.json(t, &ch)
	if ch.ID != user.User.ID || ch.Tier != vodfc.TierMember {
		t.Fatalf("answer %+v", ch)
	}
	if p := principal(t, user.AccessToken); p.Tier != vodfc.TierFree {
		t.Fatal("an issued token changed")
	}
	next := pairOf(t, e.refresh(user.RefreshToken))
	if p := principal(t, next.AccessToken); p.Tier != vodfc.TierMember {
		t.Fatalf("next access token has tier %q", p.Tier)
	}
	e.me(next.AccessToken).json(t, &me)
	if me.Tier != vodfc.TierMember {
		t.Fatalf("me shows tier %q", me.Tier)
	}
}

func TestProfileCacheIsStaleAtMostItsTTL(t *testing.T) {
	e := newEnv(t)
	s := e.signUp(newAddress("cache"), testPassword)
	var me Me
	e.me(s.AccessToken).json(t, &me)
	// Another instance changes the nickname: this one still serves its cached row...
	nick := "Changed Elsewhere"
	if err := (&store{db: testDB}).updateProfile(t.Context(), s.User.ID, &nick, nil, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.me(s.AccessToken).json(t, &me)
	if me.Nickname != "Tester" {
		t.Fatalf("the cache was not used: %+v", me)
	}
	// ...until the TTL is over.
	e.clock.Advance(DefaultProfileCacheTTL)
	e.me(s.AccessToken).json(t, &me)
	if me.Nickname != nick {
		t.Fatalf("stale beyond the TTL: %+v", me)
	}
}

func TestAccountCacheStaysBounded(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	c := &accountCache{ttl: time.Minute, max: 64, now: clock.Now, m: map[string]cachedAccount{}}
	for range 1000 {
		c.put(&account{ID: vodfc.NewID()})
	}
	if n := len(c.m); n > 64 {
		t.Fatalf("%d entries in a cache of 64", n)
	}
	a := &account{ID: "fixed"}
	c.put(a)
	if c.get("fixed") != a {
		t.Fatal("just-put entry missing")
	}
	clock.Advance(time.Minute)
	if c.get("fixed") != nil {
		t.Fatal("expired entry served")
	}
}

// Access tokens are checked by shared/auth's Verifier through httpapi.RequireAuth, the one
// path every function uses. These are the rules, proved on a real route.
func TestAccessTokenRules(t *testing.T) {
	e := newEnv(t)
	s := e.signUp(newAddress("tokens"), testPassword)
	good := principal(t, s.AccessToken)
	priv, err := auth.ParseSigningKey(testSignKey)
	if err != nil {
		t.Fatal(err)
	}
	kid := testSigner.KeyID()
	now := time.Now()
	claims := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": good.UserID, "iss": testIssuer, "aud": testAudience, "exp": now.Add(10 * time.Minute).Unix(),
			"iat": now.Unix(), "nbf": now.Unix(), "jti": vodfc.NewID(), "tier": "member"}
	}
	sign := func(method jwt.SigningMethod, key any, header map[string]any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, c)
		tok.Header["typ"] = auth.AccessTokenType
		tok.Header["kid"] = kid
		for k, v := range header {
			tok.Header[k] = v
		}
		str, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return str
	}
	signerWith := func(mod func(*auth.SignerConfig)) *auth.Signer {
		cfg := auth.SignerConfig{Key: priv, Issuer: testIssuer, Audience: testAudience}
		mod(&cfg)
		sg, err := auth.NewSigner(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return sg
	}
	issue := func(sg *auth.Signer) string {
		tok, _, err := sg.IssueAccess(good.UserID, vodfc.TierMember, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)

	// Our own crafting is sound: the real key with the right header passes.
	if res := e.me(sign(jwt.SigningMethodEdDSA, priv, nil, claims())); res.Status != 200 {
		t.Fatalf("a well-formed token crafted here fails: %s", res)
	}
	for _, tc := range []struct {
		name, token, code string
	}{
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, claims()), "invalid_token"},
		{"HS256 keyed with the public key", sign(jwt.SigningMethodHS256, []byte(testSigner.PublicKey()), nil, claims()), "invalid_token"},
		{"another key under our kid", sign(jwt.SigningMethodEdDSA, otherKey, nil, claims()), "invalid_token"},
		{"another key and kid", sign(jwt.SigningMethodEdDSA, otherKey, map[string]any{"kid": auth.KeyID(otherKey.Public().(ed25519.PublicKey))}, claims()), "invalid_token"},
		{"typ JWT", sign(jwt.SigningMethodEdDSA, priv, map[string]any{"typ": "JWT"}, claims()), "invalid_token"},
		{"expired", issue(signerWith(func(c *auth.SignerConfig) { c.Now = func() time.Time { return now.Add(-time.Hour) } })), "token_expired"},
		{"not yet valid", issue(signerWith(func(c *auth.SignerConfig) { c.Now = func() time.Time { return now.Add(time.Hour) } })), "token_not_yet_valid"},
		{"wrong aud", issue(signerWith(func(c *auth.SignerConfig) { c.Audience = "another-api" })), "invalid_token"},
		{"wrong iss", issue(signerWith(func(c *auth.SignerConfig) { c.Issuer = "https://evil.example" })), "invalid_token"},
		{"refresh token", s.RefreshToken, "invalid_token"},
		{"tampered claims", tamper(t, s.AccessToken), "invalid_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			res := e.me(tc.token)
			e.expect(res, 401, tc.code)
			if !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("challenge %q", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	e.t = t
}

// tamper swaps the payload of a token for one claiming the admin role, keeping the signature.
func tamper(t *testing.T, token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatal("not a JWS")
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"someone","roles":["admin"],"exp":9999999999}`))
	return strings.Join(parts, ".")
}
