package accounts

import (
	"sync"
	"testing"
	"time"

	"vodfc.dev/vodfc/auth"
)

func pairOf(t *testing.T, res response) TokenPair {
	t.Helper()
	if res.Status != 200 {
		t.Fatalf("want 200, got %s", res)
	}
	var p TokenPair
	res.json(t, &p)
	return p
}

func TestRefreshRotatesOnEveryUse(t *testing.T) {
	e := newEnv(t)
	s := e.signUp(newAddress("rotate"), testPassword)
	seen := map[string]bool{s.RefreshToken: true}
	tok := s.RefreshToken
	for i := 0; i < 5; i++ {
		p := pairOf(t, e.refresh(tok))
		if seen[p.RefreshToken] {
			t.Fatalf("refresh %d returned a token seen before", i)
		}
		seen[p.RefreshToken] = true
		tok = p.RefreshToken
	}
}

func TestReuseOfARotatedRefreshTokenRevokesTheFamily(t *testing.T) {
	e := newEnv(t)
	s := e.signUp(newAddress("reuse"), testPassword)
	child := pairOf(t, e.refresh(s.RefreshToken))
	grandchild := pairOf(t, e.refresh(child.RefreshToken))
	// The first token again, long after it was rotated: a thief or a confused client. Either
	// way the whole family ends, including the newest token the legitimate client holds.
	e.clock.Advance(time.Minute)
	e.expect(e.refresh(s.RefreshToken), 401, "invalid_refresh_token")
	e.expect(e.refresh(grandchild.RefreshToken), 401, "invalid_refresh_token")
	// Other sessions of the account are untouched.
	e.expect(e.do("POST", "/api/v1/auth/login", map[string]string{"email": s.User.Email, "password": testPassword}), 200, "")
}

func TestReuseWithinTheGraceWindowAfterTheChildWasUsedRevokes(t *testing.T) {
	e := newEnv(t)
	s := e.signUp(newAddress("graceused"), testPassword)
	child := pairOf(t, e.refresh(s.RefreshToken))
	next := pairOf(t, e.refresh(child.RefreshToken))
	// Within the grace window, but the client evidently had the child: this is reuse.
	e.expect(e.refresh(s.RefreshToken), 401, "invalid_refresh_token")
	e.expect(e.refresh(next.RefreshToken), 401, "invalid_refresh_token")
}

func TestRefreshRetriedWithinTheGraceWindowGetsTheSameChild(t *testing.T) {
	e := newEnv(t)
	s := e.signUp(newAddress("grace"), testPassword)
	first := pairOf(t, e.refresh(s.RefreshToken))
	e.clock.Advance(9 * time.Second)
	again := pairOf(t, e.refresh(s.RefreshToken))
	if again.RefreshToken != first.RefreshToken {
		t.Fatal("a retry within the grace window got a different child")
	}
	if again.AccessToken == "" || principal(t, again.AccessToken).UserID != s.User.ID {
		t.Fatal("no access token on the retry")
	}
	// The child still works normally.
	pairOf(t, e.refresh(first.RefreshToken))
}

func TestParallelRefreshesOfOneTokenGetOneChild(t *testing.T) {
	e := newEnv(t)
	s := e.signUp(newAddress("race"), testPassword)
	const n = 8
	var wg sync.WaitGroup
	children := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := e.auth.Refresh(t.Context(), s.RefreshToken)
			if err == nil {
				children[i] = p.RefreshToken
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("refresh %d: %v", i, errs[i])
		}
		if children[i] != children[0] {
			t.Fatal("racing refreshes got different children")
		}
	}
	// Exactly one child row exists and the family lives on.
	pairOf(t, e.refresh(children[0]))
}

func TestRefreshAfterLogoutIsRefused(t *testing.T) {
	e := newEnv(t)
	s := e.signUp(newAddress("logout"), testPassword)
	child := pairOf(t, e.refresh(s.RefreshToken))
	// Logging out with the current token ends the family...
	e.expect(e.do("POST", "/api/v1/auth/logout", map[string]string{"refresh_token": child.RefreshToken}), 204, "")
	e.expect(e.refresh(child.RefreshToken), 401, "invalid_refresh_token")
	// ...and logging out again, or with junk, is still a 204.
	e.expect(e.do("POST", "/api/v1/auth/logout", map[string]string{"refresh_token": child.RefreshToken}), 204, "")
	e.expect(e.do("POST", "/api/v1/auth/logout", map[string]string{"refresh_token": "junk"}), 204, "")
}

func TestPasswordResetEndsEverySession(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("resetall")
	s := e.signUp(addr, testPassword)
	var others []string
	for range 3 {
		res := e.do("POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": testPassword})
		var l Session
		res.json(t, &l)
		others = append(others, l.RefreshToken)
	}
	rotated := pairOf(t, e.refresh(others[0]))
	e.expect(e.do("POST", "/api/v1/auth/password/forgot", map[string]string{"email": addr}), 202, "")
	code := codeIn(t, waitMail(t, addr))
	e.clock.Advance(time.Millisecond)
	e.expect(e.do("POST", "/api/v1/auth/password/reset", map[string]string{"email": addr, "code": code, "new_password": "fresh start passphrase"}), 204, "")
	for _, tok := range append(others[1:], s.RefreshToken, rotated.RefreshToken) {
		e.expect(e.refresh(tok), 401, "invalid_refresh_token")
	}
	// A login after the reset starts a session that works.
	e.clock.Advance(time.Millisecond)
	res := e.do("POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": "fresh start passphrase"})
	var l Session
	res.json(t, &l)
	pairOf(t, e.refresh(l.RefreshToken))
}

func TestSessionEndsAtItsAbsoluteLifetime(t *testing.T) {
	e := newEnv(t)
	s := e.signUp(newAddress("lifetime"), testPassword)
	tok := s.RefreshToken
	// Rotating daily does not extend the session.
	for range 29 {
		e.clock.Advance(24 * time.Hour)
		tok = pairOf(t, e.refresh(tok)).RefreshToken
	}
	e.clock.Advance(24*time.Hour + time.Second)
	e.expect(e.refresh(tok), 401, "invalid_refresh_token")
}

func TestUnknownAndMalformedRefreshTokensAreRefused(t *testing.T) {
	e := newEnv(t)
	unknown, _ := auth.NewRefreshToken()
	e.expect(e.refresh(unknown), 401, "invalid_refresh_token")
	e.expect(e.refresh("not-a-token"), 401, "invalid_refresh_token")
	e.expect(e.refresh(unknown[:42]+"!"), 401, "invalid_refresh_token")
}

func TestRefreshTokenIsNotAnAccessToken(t *testing.T) {
	e := newEnv(t)
	s := e.signUp(newAddress("wrongtype"), testPassword)
	res := e.me(s.RefreshToken)
	e.expect(res, 401, "invalid_token")
	if res.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without a challenge")
	}
	// Nor is an access token a refresh token.
	e.expect(e.refresh(s.AccessToken), 401, "invalid_refresh_token")
}

func TestRefreshCarriesTheCurrentTier(t *testing.T) {
	e := newEnv(t)
	s := e.signUp(newAddress("tier"), testPassword)
	if err := (&store{db: testDB}).setTier(t.Context(), s.User.ID, "member", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if p := principal(t, pairOf(t, e.refresh(s.RefreshToken)).AccessToken); p.Tier != "member" {
		t.Fatalf("tier after refresh %q", p.Tier)
	}
}

// A login and a password reset in the same millisecond: the login read the account before the
// reset wrote it, so its session ends with every other; a login that reads the account after
// the reset, even within that millisecond, keeps its session.
func TestAResetEndsASessionStartedInItsMillisecond(t *testing.T) {
	e := newEnv(t)
	addr := newAddress("samems")
	e.signUp(addr, testPassword)
	e.expect(e.do("POST", "/api/v1/auth/password/forgot", map[string]string{"email": addr}), 202, "")
	code := codeIn(t, waitMail(t, addr))
	// The clock stands still from here on.
	var before Session
	e.do("POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": testPassword}).json(t, &before)
	e.expect(e.do("POST", "/api/v1/auth/password/reset", map[string]string{"email": addr, "code": code, "new_password": "fresh start passphrase"}), 204, "")
	e.expect(e.refresh(before.RefreshToken), 401, "invalid_refresh_token")
	var after Session
	e.do("POST", "/api/v1/auth/login", map[string]string{"email": addr, "password": "fresh start passphrase"}).json(t, &after)
	pairOf(t, e.refresh(after.RefreshToken))
}
