// Package auth owns vodfc's credentials: access tokens (JWTs minted by the auth function and
// verified by every HTTP function), password hashes, refresh tokens and emailed one-time codes.
// It keeps no records itself: the accounts feature stores the hashes it returns in Tablestore
// and enforces lifetimes, single use and attempt limits there.
//
// # Why EdDSA (Ed25519) for access tokens
//
// With a shared HMAC secret (HS256) every function able to verify a token could also mint one,
// so a single compromised video, comment or danmaku function could forge a member or admin
// token for anyone. With Ed25519 only the auth function holds the private key
// (JWT_SIGNING_KEY, base64 of the 32-byte seed) and mints; every other function gets public
// keys only (JWT_VERIFY_KEYS, "kid=base64(public key)" pairs, several during a rotation), which
// check signatures but can never create one. Ed25519 signatures are deterministic (no
// per-signature randomness to get wrong, unlike ECDSA), keys and signatures are small (32 and
// 64 bytes) and it is in the standard library. Its price is verification time: about 60 µs
// against 5 µs for HS256 on our machines. Verifier therefore keeps a bounded cache of tokens it
// has already verified, keyed by the SHA-256 of the whole token, and re-checks exp and nbf on
// every hit, so a token is verified once per function instance rather than once per request.
//
// # Token rules (RFC 8725, RFC 9068)
//
// An access token carries sub, iss, aud, exp, iat, nbf, jti, tier and, for operators, roles,
// under the header typ "at+jwt", so a token of another type (an email-link or refresh JWT, should
// one ever exist) never passes as an access token. Each key accepts exactly one algorithm
// (EdDSA); "none", HMAC and everything else is refused before any signature check, which closes
// the classic attack of an HS256 token "signed" with the public key as secret. Keys come only
// from the static set given at start-up: kid is a lookup key into that set and jku, x5u, jwk
// and x5c headers are ignored, never fetched. A crit header is refused since we understand no
// extension. iss, aud, exp and nbf are always checked, with a small leeway for clock skew.
//
// Failures are *vodfc.Error of kind Unauthorized with code token_expired, token_not_yet_valid or
// invalid_token; the cause (ErrBadSignature, ErrWrongType, ErrUnknownKey, ...) tells them apart
// in logs and tests without handing an attacker an oracle.
//
// # Passwords
//
// argon2id (RFC 9106) at m=19456 KiB, t=2, p=1, the OWASP baseline, stored in the PHC string
// format with its parameters so they can be raised later: Verify reports needsRehash for a hash
// made with weaker parameters. Passwords are NFC-normalised (RFC 8265's OpaqueString profile) so
// the same characters typed on different systems hash alike, then must be 8–128 characters
// (runes), with no composition rules, and must not be in the list of common passwords below.
// Hashing is bounded per instance by a semaphore the size of the CPU count, since each hash
// holds 19 MiB and a core for about 20 ms; waiting for a slot honours the request context.
//
// The common-password list (common-passwords.txt.gz, 17,950 entries of 8+ characters) is
// derived from passwords.json of the npm package @zxcvbn-ts/language-common 4.1.3
// (https://github.com/zxcvbn-ts/zxcvbn, MIT licence, Copyright (c) 2012-2016 Dan Wheeler and
// Dropbox, Inc., Copyright (c) 2021 @zxcvbn-ts). That list ranks the passwords of Mark
// Burnett's ten-million-password corpus (released to the public domain, 2015) by frequency. It
// is rebuilt by internal/mkcommonpw; comparison is case-insensitive.
//
// # Refresh tokens and email codes
//
// Refresh tokens are 256-bit random values stored only as their SHA-256 (see NewRefreshToken
// for why a fast hash is right there). Email codes are six uniform decimal digits stored as an
// HMAC-SHA256 under a server key, bound to the purpose and the address (see CodeHasher).
package auth

import (
	"errors"

	"vodfc.dev/vodfc"
)

// Stable error codes clients may switch on. token_expired tells a client to refresh; anything
// else means the token will never be accepted.
const (
	CodeTokenExpired     = "token_expired"
	CodeTokenNotYetValid = "token_not_yet_valid"
	CodeInvalidToken     = "invalid_token"
)

// Causes of a rejected access token. They are wrapped in a *vodfc.Error (errors.Is finds them)
// and only ever logged: the client sees the code.
var (
	ErrMalformed     = errors.New("auth: malformed token")
	ErrAlgorithm     = errors.New("auth: token algorithm not allowed")
	ErrWrongType     = errors.New("auth: token is not an access token (typ)")
	ErrCritical      = errors.New("auth: token has critical header extensions")
	ErrUnknownKey    = errors.New("auth: token key id (kid) unknown")
	ErrBadSignature  = errors.New("auth: token signature invalid")
	ErrWrongIssuer   = errors.New("auth: token issuer (iss) not accepted")
	ErrWrongAudience = errors.New("auth: token audience (aud) not accepted")
	ErrBadClaims     = errors.New("auth: token claims missing or invalid")
	ErrExpired       = errors.New("auth: token expired")
	ErrNotYetValid   = errors.New("auth: token not valid yet")
)

func rejected(cause error) *vodfc.Error {
	switch cause {
	case ErrExpired:
		return &vodfc.Error{Kind: vodfc.KindUnauthorized, Code: CodeTokenExpired,
			Message: "the access token has expired", Cause: cause}
	case ErrNotYetValid:
		return &vodfc.Error{Kind: vodfc.KindUnauthorized, Code: CodeTokenNotYetValid,
			Message: "the access token is not valid yet", Cause: cause}
	}
	return &vodfc.Error{Kind: vodfc.KindUnauthorized, Code: CodeInvalidToken,
		Message: "the access token is not valid", Cause: cause}
}
