package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// refreshTokenBytes is the entropy of a refresh token: 256 bits.
const refreshTokenBytes = 32

// NewRefreshToken returns a new opaque refresh token for the client and the hash to store in
// its place.
//
// A plain SHA-256 is the right hash here, unlike for passwords: slow, salted hashing exists to
// make guessing low-entropy secrets expensive, but a 256-bit random token cannot be guessed
// at any speed, so a leaked table of hashes yields nothing usable. A fast, unsalted,
// deterministic hash also lets the stored hash be the lookup key of the token's record.
func NewRefreshToken() (token, hash string) {
	var b [refreshTokenBytes]byte
	rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashRefreshToken(token)
}

// HashRefreshToken returns the stored form of token: base64url of its SHA-256. A token that
// was never issued simply hashes to something no record has.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
