package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"vodfc.dev/vodfc"
)

// Password length bounds, in characters (runes) after NFC normalisation.
const (
	MinPasswordRunes = 8
	MaxPasswordRunes = 128
)

// maxVerifyBytes bounds what Verify hashes: no valid password is longer than 128 four-byte
// runes, and the bound keeps an attacker from making us hash megabytes.
const maxVerifyBytes = MaxPasswordRunes * utf8.UTFMax

// Argon2Params are the argon2id parameters of a hash.
type Argon2Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32 // bytes
	KeyLength   uint32 // bytes
}

// DefaultArgon2 is the OWASP baseline for argon2id: 19 MiB, two passes, one lane (about 20 ms
// on one core of our machines).
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Sanity bounds for parameters read back from a stored hash, so a corrupt record cannot make
// an instance allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB  = 1 << 20 // 1 GiB
	maxIterations = 64
)

// PasswordHasher hashes and verifies passwords with argon2id, at most a fixed number at a
// time per instance. It is safe for concurrent use.
type PasswordHasher struct {
	params Argon2Params
	slots  chan struct{}
	// dummySalt and dummyHash let VerifyDummy do exactly the work of a real Verify.
	dummySalt, dummyHash []byte

	// active, peak and runs are observable by tests and cost two atomic adds per hash.
	active, peak, runs atomic.Int64
}

// NewPasswordHasher returns a hasher using params, which must not be weaker than
// DefaultArgon2, running at most concurrency hashes at once (runtime.NumCPU() when <= 0).
func NewPasswordHasher(params Argon2Params, concurrency int) (*PasswordHasher, error) {
	if params.Memory < DefaultArgon2.Memory || params.Iterations < DefaultArgon2.Iterations ||
		params.Parallelism < 1 || params.SaltLength < 16 || params.KeyLength < 32 {
		return nil, fmt.Errorf("auth: argon2id parameters %+v are weaker than the floor %+v", params, DefaultArgon2)
	}
	if params.Memory > maxMemoryKiB || params.Iterations > maxIterations {
		return nil, fmt.Errorf("auth: argon2id parameters %+v are beyond the sanity bounds", params)
	}
	if concurrency <= 0 {
		concurrency = runtime.NumCPU()
	}
	h := &PasswordHasher{params: params, slots: make(chan struct{}, concurrency)}
	h.dummySalt = make([]byte, params.SaltLength)
	h.dummyHash = make([]byte, params.KeyLength)
	rand.Read(h.dummySalt)
	rand.Read(h.dummyHash)
	return h, nil
}

// Params returns the parameters new hashes are made with.
func (h *PasswordHasher) Params() Argon2Params { return h.params }

// Runs reports how many argon2id derivations h has run (hashes, verifications and dummy
// verifications alike), so a test can prove that two code paths do the same hashing work.
func (h *PasswordHasher) Runs() int64 { return h.runs.Load() }

// Hash returns the PHC string of password ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash"). It does
// not judge the password: call ValidatePassword first when a user chooses one.
func (h *PasswordHasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLength)
	rand.Read(salt)
	key, err := h.derive(ctx, NormalizePassword(password), salt, h.params)
	if err != nil {
		return "", err
	}
	p := h.params
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify reports whether password matches encoded, a PHC string made by Hash, and whether the
// hash should be replaced (its parameters are weaker than the hasher's) once it has matched.
// err is for a corrupt hash or a cancelled context, never for a wrong password.
func (h *PasswordHasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if len(password) > maxVerifyBytes {
		return false, false, nil
	}
	got, err := h.derive(ctx, NormalizePassword(password), salt, p)
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	needsRehash = p.Memory < h.params.Memory || p.Iterations < h.params.Iterations ||
		p.Parallelism < h.params.Parallelism || p.SaltLength < h.params.SaltLength || p.KeyLength < h.params.KeyLength
	return true, needsRehash, nil
}

// VerifyDummy does the work of a Verify that fails, for a login or reset naming an unknown
// user, so that the answer takes as long as for a known one.
func (h *PasswordHasher) VerifyDummy(ctx context.Context, password string) error {
	if len(password) > maxVerifyBytes {
		return nil
	}
	got, err := h.derive(ctx, NormalizePassword(password), h.dummySalt, h.params)
	if err != nil {
		return err
	}
	subtle.ConstantTimeCompare(got, h.dummyHash)
	return nil
}

// derive runs argon2id once a slot is free.
func (h *PasswordHasher) derive(ctx context.Context, password string, salt []byte, p Argon2Params) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, vodfc.Unavailable(fmt.Errorf("auth: password hashing: %w", err))
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, vodfc.Unavailable(fmt.Errorf("auth: waiting to hash a password: %w", ctx.Err()))
	}
	defer func() { <-h.slots }()
	n := h.active.Add(1)
	for {
		peak := h.peak.Load()
		if n <= peak || h.peak.CompareAndSwap(peak, n) {
			break
		}
	}
	h.runs.Add(1)
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	h.active.Add(-1)
	return key, nil
}

// errCorruptHash is the cause for every malformed stored hash; it is an internal error because
// only our own code writes these strings.
var errCorruptHash = errors.New("auth: stored password hash is not a valid argon2id PHC string")

func corrupt(detail string) error {
	return vodfc.Internal(fmt.Errorf("%w: %s", errCorruptHash, detail))
}

// decodePHC parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash".
func decodePHC(s string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, nil, nil, corrupt("want 5 $-separated fields")
	}
	if parts[1] != "argon2id" {
		return p, nil, nil, corrupt("algorithm " + strconv.Quote(parts[1]))
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, corrupt("version " + strconv.Quote(parts[2]))
	}
	var m, t, par uint64
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return p, nil, nil, corrupt("want m,t,p parameters")
	}
	for i, dst := range []*uint64{&m, &t, &par} {
		name, val, _ := strings.Cut(fields[i], "=")
		if name != "mtp"[i:i+1] {
			return p, nil, nil, corrupt("parameter " + strconv.Quote(fields[i]))
		}
		if *dst, err = strconv.ParseUint(val, 10, 32); err != nil {
			return p, nil, nil, corrupt("parameter " + strconv.Quote(fields[i]))
		}
	}
	if m < 8 || m > maxMemoryKiB || t < 1 || t > maxIterations || par < 1 || par > 255 || m < 8*par {
		return p, nil, nil, corrupt("parameters out of range")
	}
	if salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, corrupt("salt")
	}
	if key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 128 {
		return p, nil, nil, corrupt("hash")
	}
	p = Argon2Params{Memory: uint32(m), Iterations: uint32(t), Parallelism: uint8(par),
		SaltLength: uint32(len(salt)), KeyLength: uint32(len(key))}
	return p, salt, key, nil
}

// NormalizePassword puts password in Unicode NFC, as the OpaqueString profile of RFC 8265
// does: "é" typed as one code point on one system and as "e" plus a combining accent on
// another is the same password. NFC rather than NFKC keeps compatibility characters (full-width
// forms, ligatures) distinct, as the user typed them. Hash and Verify apply it themselves.
func NormalizePassword(password string) string { return norm.NFC.String(password) }

// ValidatePassword applies the password policy to a password a user is choosing: valid UTF-8,
// 8 to 128 characters after normalisation, not a common password, and not equal (ignoring case)
// to any of userInputs (say the email address and its local part). There are no composition
// rules (NIST SP 800-63B). Errors are *vodfc.Error of kind Invalid with codes
// password_invalid, password_too_short, password_too_long or password_too_common.
func ValidatePassword(password string, userInputs ...string) error {
	invalid := func(code, reason string) error {
		return &vodfc.Error{Kind: vodfc.KindInvalid, Code: code, Message: "password: " + reason,
			Fields: map[string]string{"password": reason}}
	}
	if !utf8.ValidString(password) {
		return invalid("password_invalid", "is not valid UTF-8 text")
	}
	password = NormalizePassword(password)
	switch n := utf8.RuneCountInString(password); {
	case n < MinPasswordRunes:
		return invalid("password_too_short", fmt.Sprintf("must be at least %d characters", MinPasswordRunes))
	case n > MaxPasswordRunes:
		return invalid("password_too_long", fmt.Sprintf("must be at most %d characters", MaxPasswordRunes))
	}
	if IsCommonPassword(password) {
		return invalid("password_too_common", "is one of the most common passwords; choose another")
	}
	for _, in := range userInputs {
		if in != "" && strings.EqualFold(password, NormalizePassword(strings.TrimSpace(in))) {
			return invalid("password_too_common", "must not be your email address or name")
		}
	}
	return nil
}
