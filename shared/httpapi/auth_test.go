package httpapi

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"vodfc.dev/vodfc"
)

type unavailableVerifier struct{}

func (unavailableVerifier) VerifyAccessToken(string) (vodfc.Principal, error) {
	return vodfc.Principal{}, vodfc.Unavailable(errors.New("revocation list unreachable"))
}

func authRouter(v TokenVerifier) *Router {
	whoami := func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalFrom(r.Context())
		if !ok {
			WriteJSON(w, 200, map[string]string{"user": "anonymous"})
			return
		}
		WriteJSON(w, 200, map[string]string{"user": p.UserID})
	}
	r := NewRouter()
	r.HandleFunc("GET /me", whoami, RequireAuth(v))
	r.HandleFunc("GET /feed", whoami, OptionalAuth(v))
	r.HandleFunc("GET /admin", whoami, RequireAuth(v), RequireRole(vodfc.RoleAdmin))
	r.HandleFunc("GET /admin-misordered", whoami, RequireRole(vodfc.RoleAdmin))
	return r
}

func TestRequireAuth(t *testing.T) {
	r := authRouter(verifier)
	expired := verifier.sign(testClaims{Sub: "u1", Tier: "free", Exp: time.Now().Add(-time.Minute).Unix()})
	forged := (&hmacVerifier{key: []byte("another key"), now: time.Now}).sign(testClaims{Sub: "u1", Exp: time.Now().Add(time.Hour).Unix()})
	for _, tc := range []struct {
		name, auth string
		status     int
		code       string
		challenge  string
	}{
		{"valid", "Bearer " + token("u1"), 200, "", ""},
		{"scheme is case-insensitive", "bearer " + token("u1"), 200, "", ""},
		{"missing", "", 401, "authentication_required", `Bearer realm="vodfc"`},
		{"expired", "Bearer " + expired, 401, "token_expired", challengeInvalid},
		{"forged", "Bearer " + forged, 401, "invalid_token", challengeInvalid},
		{"garbage", "Bearer not-a-token", 401, "invalid_token", challengeInvalid},
		{"basic", "Basic dTpw", 401, "invalid_token", challengeInvalid},
		{"no token", "Bearer ", 401, "invalid_token", challengeInvalid},
		{"two tokens", "Bearer a b", 401, "invalid_token", challengeInvalid},
	} {
		var w = get(r, "/me")
		if tc.auth != "" {
			w = get(r, "/me", "Authorization", tc.auth)
		}
		if w.Code != tc.status {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
			continue
		}
		if tc.status == 200 {
			if w.Body.String() != "{\"user\":\"u1\"}\n" {
				t.Errorf("%s: %s", tc.name, w.Body)
			}
			continue
		}
		if p := problemOf(t, w); p.Code != tc.code || w.Header().Get("WWW-Authenticate") != tc.challenge {
			t.Errorf("%s: %+v WWW-Authenticate=%q", tc.name, p, w.Header().Get("WWW-Authenticate"))
		}
	}
	if w := get(authRouter(unavailableVerifier{}), "/me", "Authorization", "Bearer x"); w.Code != 503 {
		t.Errorf("verifier unavailable: %d", w.Code)
	}
}

func TestOptionalAuthAndRoles(t *testing.T) {
	r := authRouter(verifier)
	if w := get(r, "/feed"); w.Code != 200 || w.Body.String() != "{\"user\":\"anonymous\"}\n" {
		t.Errorf("anonymous: %d %s", w.Code, w.Body)
	}
	if w := get(r, "/feed", "Authorization", "Bearer "+token("u2")); w.Body.String() != "{\"user\":\"u2\"}\n" {
		t.Errorf("signed in: %s", w.Body)
	}
	if w := get(r, "/feed", "Authorization", "Bearer bad"); w.Code != 401 {
		t.Errorf("bad token on an optional route: %d", w.Code)
	}
	if w := get(r, "/admin", "Authorization", "Bearer "+token("u3")); w.Code != 403 || problemOf(t, w).Code != "role_required" {
		t.Errorf("non-admin: %d", w.Code)
	}
	if w := get(r, "/admin", "Authorization", "Bearer "+token("u4", "admin")); w.Code != 200 {
		t.Errorf("admin: %d %s", w.Code, w.Body)
	}
	if w := get(r, "/admin-misordered", "Authorization", "Bearer "+token("u4", "admin")); w.Code != 401 {
		t.Errorf("RequireRole without RequireAuth: %d", w.Code)
	}
}
