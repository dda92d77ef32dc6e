package auth

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// CodeDigits is the length of an email code.
const CodeDigits = 6

// codeSpace is the number of distinct codes, 10^CodeDigits.
const codeSpace = 1_000_000

// CodePurpose says what a code was sent for; a code for one purpose never works for another.
type CodePurpose string

const (
	PurposeVerifyEmail   CodePurpose = "verify_email"
	PurposeResetPassword CodePurpose = "reset_password"
)

// NewEmailCode returns six decimal digits drawn uniformly from a CSPRNG.
func NewEmailCode() string {
	code, err := codeFrom(rand.Reader)
	if err != nil {
		// crypto/rand.Reader does not fail on supported systems (it aborts the program first).
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return code
}

// codeFrom draws a code from r by rejection sampling: 32-bit values at or above the largest
// multiple of 10^6 are discarded, so every code is exactly equally likely (a plain modulo would
// favour the codes below 2^32 mod 10^6).
func codeFrom(r io.Reader) (string, error) {
	const limit = (1 << 32) / codeSpace * codeSpace
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", err
		}
		if v := binary.BigEndian.Uint32(b[:]); v < limit {
			return fmt.Sprintf("%0*d", CodeDigits, v%codeSpace), nil
		}
	}
}

// IsEmailCode reports whether s has the shape of an email code.
func IsEmailCode(s string) bool {
	if len(s) != CodeDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CodeHasher turns email codes into the keyed hashes that are stored instead of them. A code
// has only 10^6 values, so a plain hash of it would be reversed by trying them all; an HMAC
// under a server key is not, without the key. The purpose and the address are part of the
// MAC, so a code stored for one address or purpose never matches another.
type CodeHasher struct {
	key []byte
}

// NewCodeHasher returns a hasher keyed with key, at least 32 bytes of secret.
func NewCodeHasher(key []byte) (*CodeHasher, error) {
	if len(key) < 32 {
		return nil, errors.New("auth: email code key must be at least 32 bytes")
	}
	return &CodeHasher{key: append([]byte(nil), key...)}, nil
}

// codeKeyInfo separates the derived key from any other use of the signing seed.
const codeKeyInfo = "vodfc email code hmac v1"

// LoadCodeHasher keys a CodeHasher from JWT_SIGNING_KEY through HKDF-SHA256. Only the auth
// function sends and checks codes, and it already holds that secret; deriving a separate key
// from it, instead of provisioning one more secret, keeps the two uses cryptographically
// independent. Rotating the signing key invalidates codes in flight, which live ten minutes
// at most.
func LoadCodeHasher(getenv func(string) string) (*CodeHasher, error) {
	key, err := ParseSigningKey(getenv(EnvSigningKey))
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", EnvSigningKey, err)
	}
	derived, err := hkdf.Key(sha256.New, key.Seed(), nil, codeKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("auth: derive email code key: %w", err)
	}
	return NewCodeHasher(derived)
}

// Hash returns the stored form of code sent to email for purpose: base64url of
// HMAC-SHA256(key, purpose | email | code), each field length-prefixed so none can run into
// the next. email is compared case-insensitively.
func (h *CodeHasher) Hash(purpose CodePurpose, email, code string) string {
	return base64.RawURLEncoding.EncodeToString(h.mac(purpose, email, code))
}

// Verify reports, in constant time, whether code is the one whose Hash for purpose and email
// is stored.
func (h *CodeHasher) Verify(purpose CodePurpose, email, code, stored string) bool {
	want, err := base64.RawURLEncoding.DecodeString(stored)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	got := h.mac(purpose, email, code)
	return hmac.Equal(got, want) && IsEmailCode(code)
}

func (h *CodeHasher) mac(purpose CodePurpose, email, code string) []byte {
	m := hmac.New(sha256.New, h.key)
	for _, field := range []string{string(purpose), strings.ToLower(strings.TrimSpace(email)), code} {
		var n [binary.MaxVarintLen64]byte
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(field)))])
		io.WriteString(m, field)
	}
	return m.Sum(nil)
}
