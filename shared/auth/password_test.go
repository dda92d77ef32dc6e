package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"vodfc.dev/vodfc"
)

func newHasher(t testing.TB, concurrency int) *PasswordHasher {
	t.Helper()
	h, err := NewPasswordHasher(DefaultArgon2, concurrency)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestPasswordRoundTrip(t *testing.T) {
	h := newHasher(t, 0)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(enc) {
		t.Fatalf("hash %q is not the expected PHC string", enc)
	}
	again, _ := h.Hash(ctx, "correct horse battery staple")
	if again == enc {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	ok, rehash, err := h.Verify(ctx, "correct horse battery staple", enc)
	if !ok || rehash || err != nil {
		t.Fatalf("Verify(right) = %v %v %v", ok, rehash, err)
	}
	for _, wrong := range []string{"correct horse battery stapl", "Correct horse battery staple", "", strings.Repeat("x", 10000)} {
		if ok, _, err := h.Verify(ctx, wrong, enc); ok || err != nil {
			t.Fatalf("Verify(%.20q) = %v %v", wrong, ok, err)
		}
	}
	// An independent argon2id computation agrees with the stored hash (it is plain RFC 9106).
	parts := strings.Split(enc, "$")
	salt, _ := base64.RawStdEncoding.DecodeString(parts[4])
	want := base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("correct horse battery staple"), salt, 2, 19456, 1, 32))
	if parts[5] != want {
		t.Fatal("stored hash differs from argon2id(password, salt, t=2, m=19456, p=1)")
	}
}

func TestPasswordNormalisedNFC(t *testing.T) {
	h := newHasher(t, 0)
	ctx := context.Background()
	composed, decomposed := "caf\u00e9 au lait", "cafe\u0301 au lait"
	enc, err := h.Hash(ctx, decomposed)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := h.Verify(ctx, composed, enc); !ok {
		t.Fatal("the composed spelling of the same password does not verify")
	}
}

func TestNeedsRehash(t *testing.T) {
	ctx := context.Background()
	old := newHasher(t, 0)
	enc, _ := old.Hash(ctx, "a long enough passphrase")
	stronger, err := NewPasswordHasher(Argon2Params{Memory: 24 * 1024, Iterations: 3, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err := stronger.Verify(ctx, "a long enough passphrase", enc)
	if !ok || !rehash || err != nil {
		t.Fatalf("old hash under raised params: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	if ok, rehash, _ := stronger.Verify(ctx, "wrong passphrase!", enc); ok || rehash {
		t.Fatalf("a wrong password reported ok=%v rehash=%v", ok, rehash)
	}
	// A hash made elsewhere with t=1 verifies but wants replacing.
	salt := []byte("0123456789abcdef")
	weak := fmt.Sprintf("$argon2id$v=19$m=19456,t=1,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("hunter2hunter2"), salt, 1, 19456, 1, 32)))
	if ok, rehash, err := old.Verify(ctx, "hunter2hunter2", weak); !ok || !rehash || err != nil {
		t.Fatalf("t=1 hash: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	// Parameters below the floor are refused for new hashes.
	if _, err := NewPasswordHasher(Argon2Params{Memory: 8 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 0); err == nil {
		t.Fatal("NewPasswordHasher accepted 8 MiB")
	}
}

func TestCorruptHash(t *testing.T) {
	h := newHasher(t, 0)
	good, _ := h.Hash(context.Background(), "some password here")
	p := strings.Split(good, "$")
	for _, enc := range []string{
		"",
		"plaintext",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=19456,t=2,p=1", "t=2,m=19456,p=1", 1),
		strings.Replace(good, "m=19456", "m=99999999", 1),
		strings.Replace(good, "t=2", "t=0", 1),
		strings.Replace(good, "p=1", "p=x", 1),
		"$" + strings.Join(p[1:5], "$") + "$!!!",
		"$" + strings.Join(p[1:4], "$") + "$$" + p[5],
		good + "$extra",
	} {
		ok, _, err := h.Verify(context.Background(), "some password here", enc)
		if ok || !errors.Is(err, errCorruptHash) || !vodfc.IsKind(err, vodfc.KindInternal) {
			t.Errorf("Verify(%q) = %v, %v; want a corrupt-hash error", enc, ok, err)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	for _, tc := range []struct {
		pw     string
		inputs []string
		code   string // "" = accepted
	}{
		{"short12", nil, "password_too_short"},
		{"eight ch", nil, ""},
		{"e\u0301e\u0301e\u0301e\u0301", nil, "password_too_short"}, // 8 code points, 4 characters in NFC
		{"视频弹幕哔哩哔哩", nil, ""},                                       // 8 characters, 24 bytes
		{strings.Repeat("ab", 64), nil, ""},                         // 128
		{strings.Repeat("ab", 64) + "c", nil, "password_too_long"},
		{strings.Repeat("界", 129), nil, "password_too_long"},
		{"password", nil, "password_too_common"},
		{"PassWord1", nil, "password_too_common"},
		{"baseball", nil, "password_too_common"},
		{"qwertyuiop", nil, "password_too_common"},
		{"iloveyou", nil, "password_too_common"},
		{"Alice@Example.com", []string{"alice@example.com", "alice"}, "password_too_common"},
		{"velvet-otter-parade", []string{"alice@example.com", "alice"}, ""},
		{"bad\xffutf8bytes", nil, "password_invalid"},
	} {
		err := ValidatePassword(tc.pw, tc.inputs...)
		if tc.code == "" {
			if err != nil {
				t.Errorf("ValidatePassword(%.20q) = %v, want accepted", tc.pw, err)
			}
			continue
		}
		var e *vodfc.Error
		if !errors.As(err, &e) || e.Kind != vodfc.KindInvalid || e.Code != tc.code || e.Fields["password"] == "" {
			t.Errorf("ValidatePassword(%.20q) = %#v, want %s", tc.pw, err, tc.code)
		}
	}
}

func TestCommonPasswordList(t *testing.T) {
	list := commonPasswords()
	if len(list) < 10000 {
		t.Fatalf("only %d common passwords embedded", len(list))
	}
	for _, p := range list[:100] {
		if !IsCommonPassword(strings.ToUpper(p)) {
			t.Fatalf("%q not found", p)
		}
	}
	if IsCommonPassword("velvet-otter-parade") {
		t.Fatal("a made-up passphrase is listed as common")
	}
}

// TestHashConcurrencyBounded counts hashes in flight inside the slot, so it measures the bound
// itself rather than timing.
func TestHashConcurrencyBounded(t *testing.T) {
	h := newHasher(t, 2)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), fmt.Sprintf("password number %d", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if peak := h.peak.Load(); peak < 1 || peak > 2 {
		t.Fatalf("peak concurrent hashes = %d, bound is 2", peak)
	}
	if runs := h.runs.Load(); runs != 6 {
		t.Fatalf("runs = %d, want 6", runs)
	}
}

func TestHashWaitHonoursContext(t *testing.T) {
	h := newHasher(t, 1)
	h.slots <- struct{}{} // the only slot is busy
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := h.Hash(ctx, "waiting for a slot")
	if !errors.Is(err, context.DeadlineExceeded) || !vodfc.IsKind(err, vodfc.KindUnavailable) {
		t.Fatalf("err = %v, want unavailable wrapping DeadlineExceeded", err)
	}
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	<-h.slots
	if _, _, err := h.Verify(cancelled, "x", "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$"+strings.Repeat("A", 43)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Verify: %v", err)
	}
	if h.runs.Load() != 0 {
		t.Fatal("argon2 ran despite the context")
	}
}

func TestVerifyDummyRunsArgon2(t *testing.T) {
	h := newHasher(t, 0)
	if err := h.VerifyDummy(context.Background(), "whatever the user typed"); err != nil {
		t.Fatal(err)
	}
	if h.runs.Load() != 1 {
		t.Fatalf("dummy verify ran argon2 %d times, want 1", h.runs.Load())
	}
	// It costs what a real verify costs: same parameters, same salt and key sizes.
	if len(h.dummySalt) != int(DefaultArgon2.SaltLength) || len(h.dummyHash) != int(DefaultArgon2.KeyLength) {
		t.Fatal("dummy salt or hash has the wrong size")
	}
}
