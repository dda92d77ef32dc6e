package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Environment variables read by LoadSigner, LoadVerifier and LoadCodeHasher (docs/architecture.md).
const (
	EnvSigningKey = "JWT_SIGNING_KEY"
	EnvVerifyKeys = "JWT_VERIFY_KEYS"
	EnvIssuer     = "JWT_ISSUER"
	EnvAudience   = "JWT_AUDIENCE"
)

// GenerateKey makes a fresh Ed25519 key pair and returns it ready for the environment:
// signingKey for JWT_SIGNING_KEY (base64 of the 32-byte seed, a secret) and verifyKey for
// JWT_VERIFY_KEYS ("kid=base64(public key)", public). The local cloud calls it once per data
// directory and persists the result; there is deliberately no fixed development key.
func GenerateKey() (signingKey, verifyKey string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("auth: generate Ed25519 key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(priv.Seed()), VerifyKeyEntry(pub), nil
}

// VerifyKeyEntry formats pub as one JWT_VERIFY_KEYS entry, "kid=base64(public key)".
func VerifyKeyEntry(pub ed25519.PublicKey) string {
	return KeyID(pub) + "=" + base64.StdEncoding.EncodeToString(pub)
}

// KeyID is the kid under which pub signs: its RFC 7638 JWK thumbprint (base64url SHA-256 of the
// canonical JWK). Deriving it from the key means the signer needs no second variable and a kid
// can never point at the wrong key.
func KeyID(pub ed25519.PublicKey) string {
	jwk := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(jwk))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ParseSigningKey decodes a JWT_SIGNING_KEY value: base64 (standard or URL alphabet, padded or
// not) of a 32-byte Ed25519 seed. Errors never quote the value, which is a secret.
func ParseSigningKey(s string) (ed25519.PrivateKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty")
	}
	seed, err := decodeBase64(s)
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("want base64 of a %d-byte Ed25519 seed, got %d bytes", ed25519.SeedSize, len(seed))
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ParseVerifyKeys decodes a JWT_VERIFY_KEYS value: comma-separated "kid=base64(public key)"
// entries. Each kid must be its key's KeyID, as GenerateKey prints it: a mismatch would only
// surface later as every token failing with "unknown kid", so it is refused here instead.
func ParseVerifyKeys(s string) (map[string]ed25519.PublicKey, error) {
	keys := make(map[string]ed25519.PublicKey)
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		kid, b64, ok := strings.Cut(entry, "=")
		kid, b64 = strings.TrimSpace(kid), strings.TrimSpace(b64)
		if !ok || kid == "" || b64 == "" {
			return nil, fmt.Errorf("entry %d: want kid=base64(public key)", i+1)
		}
		raw, err := decodeBase64(b64)
		if err != nil {
			return nil, fmt.Errorf("key %q: not valid base64", kid)
		}
		if len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key %q: want a %d-byte Ed25519 public key, got %d bytes", kid, ed25519.PublicKeySize, len(raw))
		}
		pub := ed25519.PublicKey(raw)
		if want := KeyID(pub); kid != want {
			return nil, fmt.Errorf("key %q: kid must be the key's thumbprint %q (as auth.GenerateKey prints it)", kid, want)
		}
		if _, dup := keys[kid]; dup {
			return nil, fmt.Errorf("key %q listed twice", kid)
		}
		keys[kid] = pub
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	return keys, nil
}

// decodeBase64 accepts the four common spellings of base64 so operators can paste keys from any
// tool; the length checks that follow catch anything else.
func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// LoadSigner builds the auth function's Signer from JWT_SIGNING_KEY, JWT_ISSUER and
// JWT_AUDIENCE, read through getenv (os.Getenv in production).
func LoadSigner(getenv func(string) string) (*Signer, error) {
	key, err := ParseSigningKey(getenv(EnvSigningKey))
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", EnvSigningKey, err)
	}
	iss, aud, err := issuerAudience(getenv)
	if err != nil {
		return nil, err
	}
	return NewSigner(SignerConfig{Key: key, Issuer: iss, Audience: aud})
}

// LoadVerifier builds a Verifier from JWT_VERIFY_KEYS, JWT_ISSUER and JWT_AUDIENCE, read through
// getenv (os.Getenv in production).
func LoadVerifier(getenv func(string) string) (*Verifier, error) {
	raw := getenv(EnvVerifyKeys)
	if strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("auth: %s is not set (kid=base64(public key),...)", EnvVerifyKeys)
	}
	keys, err := ParseVerifyKeys(raw)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", EnvVerifyKeys, err)
	}
	iss, aud, err := issuerAudience(getenv)
	if err != nil {
		return nil, err
	}
	return NewVerifier(VerifierConfig{Keys: keys, Issuer: iss, Audience: aud})
}

func issuerAudience(getenv func(string) string) (iss, aud string, err error) {
	iss, aud = strings.TrimSpace(getenv(EnvIssuer)), strings.TrimSpace(getenv(EnvAudience))
	if iss == "" {
		return "", "", fmt.Errorf("auth: %s is not set", EnvIssuer)
	}
	if aud == "" {
		return "", "", fmt.Errorf("auth: %s is not set", EnvAudience)
	}
	return iss, aud, nil
}

// ParseSecretKey reads a symmetric key given in the environment as base64 (standard or URL
// alphabet, padded or not), refusing one shorter than min bytes.
func ParseSecretKey(s string, min int) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) < min {
				return nil, fmt.Errorf("the key has %d bytes; want at least %d", len(b), min)
			}
			return b, nil
		}
	}
	return nil, errors.New("the key is not base64")
}
