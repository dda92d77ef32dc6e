package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"vodfc.dev/vodfc"
)

// TokenVerifier proves who sent an access token. shared/auth implements it; every function
// verifies through RequireAuth / OptionalAuth and nowhere else.
type TokenVerifier interface {
	VerifyAccessToken(token string) (vodfc.Principal, error)
}

type principalKey struct{}

// PrincipalFrom returns the caller proven by a verified access token, if any.
func PrincipalFrom(ctx context.Context) (vodfc.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*vodfc.Principal)
	if !ok {
		return vodfc.Principal{}, false
	}
	return *p, true
}

// WithPrincipal returns ctx carrying p, as the auth middleware does; for tests of handlers.
func WithPrincipal(ctx context.Context, p vodfc.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, &p)
}

// RequireAuth lets a request through only with a valid "Authorization: Bearer <token>"; any
// other request gets a 401 problem with a WWW-Authenticate challenge (RFC 6750: bare
// `Bearer realm="vodfc"` when no token was sent, `error="invalid_token"` when one failed).
func RequireAuth(v TokenVerifier) Middleware { return authenticate(v, true) }

// OptionalAuth verifies a token when one is sent and lets anonymous requests through. A token
// that fails is still a 401: a client holding an expired token must learn to refresh it rather
// than silently see the anonymous view.
func OptionalAuth(v TokenVerifier) Middleware { return authenticate(v, false) }

const challengeInvalid = `Bearer realm="vodfc", error="invalid_token"`

func authenticate(v TokenVerifier, required bool) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			values := r.Header["Authorization"]
			if len(values) == 0 {
				if required {
					WriteError(w, r, vodfc.Unauthorized("authentication_required", "this endpoint needs an access token"))
					return
				}
				next.ServeHTTP(w, r)
				return
			}
			token, ok := bearer(values)
			if !ok {
				w.Header().Set("WWW-Authenticate", challengeInvalid)
				WriteError(w, r, vodfc.Unauthorized("invalid_token", `Authorization must be "Bearer <access token>"`))
				return
			}
			p, err := v.VerifyAccessToken(token)
			if err != nil {
				var e *vodfc.Error
				if errors.As(err, &e) && e.Kind != vodfc.KindUnauthorized {
					WriteError(w, r, err) // the verifier could not decide (e.g. unavailable)
					return
				}
				w.Header().Set("WWW-Authenticate", challengeInvalid)
				if e == nil {
					e = &vodfc.Error{Kind: vodfc.KindUnauthorized, Code: "invalid_token", Message: "the access token is not valid"}
				}
				WriteError(w, r, e)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// bearer extracts the token of a single "Bearer" Authorization header (scheme
// case-insensitive, RFC 9110 §11.1).
func bearer(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// RequireRole lets through only principals holding role; place it after RequireAuth. A
// request without a principal gets 401, one without the role 403.
func RequireRole(role vodfc.Role) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := PrincipalFrom(r.Context())
			if !ok {
				WriteError(w, r, vodfc.Unauthorized("authentication_required", "this endpoint needs an access token"))
				return
			}
			if !p.Has(role) {
				WriteError(w, r, vodfc.Forbidden("role_required", "this endpoint needs the "+string(role)+" role"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
