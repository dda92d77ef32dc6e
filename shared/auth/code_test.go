package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strconv"
	"testing"
)

func TestEmailCodeFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c := NewEmailCode()
		if !IsEmailCode(c) {
			t.Fatalf("code %q is not six digits", c)
		}
		seen[c] = true
	}
	if len(seen) < 990 { // birthday collisions among 1000 draws of 10^6: about 0.5 expected
		t.Fatalf("only %d distinct codes in 1000 draws", len(seen))
	}
	for _, s := range []string{"12345", "1234567", "12345a", " 12345", "１２３４５６"} {
		if IsEmailCode(s) {
			t.Errorf("IsEmailCode(%q) = true", s)
		}
	}
}

// TestEmailCodeUniform is a loose chi-square sanity check: 200k codes into 1000 buckets by
// their leading three digits, and each digit position into 10 buckets. The bounds sit many
// standard deviations out, so the test fails on a broken generator, not on bad luck.
func TestEmailCodeUniform(t *testing.T) {
	const n = 200_000
	var lead [1000]int
	var digit [CodeDigits][10]int
	for range n {
		c := NewEmailCode()
		v, _ := strconv.Atoi(c)
		lead[v/1000]++
		for i := range CodeDigits {
			digit[i][c[i]-'0']++
		}
	}
	chi := func(counts []int) float64 {
		exp := float64(n) / float64(len(counts))
		var s float64
		for _, c := range counts {
			d := float64(c) - exp
			s += d * d / exp
		}
		return s
	}
	// 999 degrees of freedom: mean 999, standard deviation about 45.
	if x := chi(lead[:]); x < 750 || x > 1300 {
		t.Errorf("chi-square over leading digits = %.0f, want about 999", x)
	}
	// 9 degrees of freedom: P(chi2 > 45) is about 1e-6.
	for i := range CodeDigits {
		if x := chi(digit[i][:]); x > 45 {
			t.Errorf("chi-square of digit %d = %.1f", i, x)
		}
	}
}

// TestEmailCodeRejectionSampling feeds values a plain modulo would fold onto low codes.
func TestEmailCodeRejectionSampling(t *testing.T) {
	src := bytes.NewReader([]byte{
		0xff, 0xff, 0xff, 0xff, // 4294967295 >= 4294000000: rejected (modulo would give 967295)
		0xff, 0xf1, 0x3d, 0x80, // 4294000000, the first rejected value
		0xff, 0xf1, 0x3d, 0x7f, // 4293999999, the last accepted one
		0x00, 0x00, 0x00, 0x07, // 7
	})
	for _, want := range []string{"999999", "000007"} {
		code, err := codeFrom(src)
		if err != nil || code != want {
			t.Fatalf("codeFrom = %q, %v; want %s", code, err, want)
		}
	}
	if _, err := codeFrom(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff})); !errors.Is(err, io.EOF) {
		t.Fatalf("exhausted source: %v", err)
	}
}

func TestCodeHasher(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	h, err := NewCodeHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	stored := h.Hash(PurposeVerifyEmail, "alice@example.com", "042917")
	if raw, err := base64.RawURLEncoding.DecodeString(stored); err != nil || len(raw) != sha256.Size {
		t.Fatalf("stored form %q is not base64url of 32 bytes", stored)
	}
	if !h.Verify(PurposeVerifyEmail, "alice@example.com", "042917", stored) {
		t.Fatal("the right code does not verify")
	}
	if !h.Verify(PurposeVerifyEmail, " Alice@Example.COM", "042917", stored) {
		t.Fatal("address case or spacing changes the hash")
	}
	for name, ok := range map[string]bool{
		"other code":    h.Verify(PurposeVerifyEmail, "alice@example.com", "042918", stored),
		"other email":   h.Verify(PurposeVerifyEmail, "bob@example.com", "042917", stored),
		"other purpose": h.Verify(PurposeResetPassword, "alice@example.com", "042917", stored),
		"garbage":       h.Verify(PurposeVerifyEmail, "alice@example.com", "042917", "not-a-hash"),
		"empty stored":  h.Verify(PurposeVerifyEmail, "alice@example.com", "042917", ""),
	} {
		if ok {
			t.Errorf("%s verified", name)
		}
	}
	other, _ := NewCodeHasher(bytes.Repeat([]byte{8}, 32))
	if other.Verify(PurposeVerifyEmail, "alice@example.com", "042917", stored) {
		t.Fatal("a code verified under another server key")
	}
	// Fields are length-prefixed: moving a boundary changes the hash.
	if h.Hash("ab", "c@d", "123456") == h.Hash("a", "bc@d", "123456") {
		t.Fatal("field boundaries are ambiguous")
	}
	if _, err := NewCodeHasher(key[:16]); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}

func TestLoadCodeHasher(t *testing.T) {
	signing, _, _ := GenerateKey()
	signing2, _, _ := GenerateKey()
	h1, err := LoadCodeHasher(env(map[string]string{EnvSigningKey: signing}))
	if err != nil {
		t.Fatal(err)
	}
	h1again, _ := LoadCodeHasher(env(map[string]string{EnvSigningKey: signing}))
	h2, _ := LoadCodeHasher(env(map[string]string{EnvSigningKey: signing2}))
	stored := h1.Hash(PurposeResetPassword, "a@b.c", "123456")
	if !h1again.Verify(PurposeResetPassword, "a@b.c", "123456", stored) {
		t.Fatal("same signing key, different code key: codes would not survive a restart")
	}
	if h2.Verify(PurposeResetPassword, "a@b.c", "123456", stored) {
		t.Fatal("another signing key verifies the code")
	}
	seed, _ := base64.StdEncoding.DecodeString(signing)
	if bytes.Equal(h1.key, seed) {
		t.Fatal("the code key is the signing seed itself, not derived from it")
	}
	if _, err := LoadCodeHasher(env(nil)); err == nil {
		t.Fatal("LoadCodeHasher without a key succeeded")
	}
}

func TestRefreshToken(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok, hash := NewRefreshToken()
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q is not base64url of 32 bytes", tok)
		}
		sum := sha256.Sum256([]byte(tok))
		if hash != base64.RawURLEncoding.EncodeToString(sum[:]) || hash != HashRefreshToken(tok) {
			t.Fatal("hash is not base64url(SHA-256(token))")
		}
		if seen[tok] {
			t.Fatal("repeated refresh token")
		}
		seen[tok] = true
	}
	if HashRefreshToken("a") == HashRefreshToken("b") {
		t.Fatal("distinct tokens hash alike")
	}
}
