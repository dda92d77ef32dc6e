package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"

	"vodfc.dev/vodfc"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestGenerateKeyIsEnvReady(t *testing.T) {
	signing, verify, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signing2, verify2, _ := GenerateKey()
	if signing == signing2 || verify == verify2 {
		t.Fatal("two generated keys are equal")
	}
	e := env(map[string]string{EnvSigningKey: signing, EnvVerifyKeys: verify + "," + verify2,
		EnvIssuer: testIssuer, EnvAudience: testAudience})
	s, err := LoadSigner(e)
	if err != nil {
		t.Fatal(err)
	}
	v, err := LoadVerifier(e)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.IssueAccess("u_carol", vodfc.TierFree, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.VerifyAccessToken(tok); err != nil || p.UserID != "u_carol" {
		t.Fatalf("round trip through the environment: %+v %v", p, err)
	}
	if !strings.HasPrefix(verify, s.KeyID()+"=") {
		t.Fatalf("verify entry %q does not carry the signer's kid %q", verify, s.KeyID())
	}
	// A verifier without the signer's key refuses its tokens.
	v2, err := LoadVerifier(env(map[string]string{EnvVerifyKeys: verify2, EnvIssuer: testIssuer, EnvAudience: testAudience}))
	if err != nil {
		t.Fatal(err)
	}
	rejects(t, v2, tok, CodeInvalidToken, ErrUnknownKey)
}

func TestKeyIDIsJWKThumbprint(t *testing.T) {
	// RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if got, want := KeyID(ed25519.PublicKey(x)), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Fatalf("KeyID = %s, want %s", got, want)
	}
}

func TestLoadErrorsAreClear(t *testing.T) {
	signing, verify, _ := GenerateKey()
	seed, _ := base64.StdEncoding.DecodeString(signing)
	full := map[string]string{EnvSigningKey: signing, EnvVerifyKeys: verify, EnvIssuer: testIssuer, EnvAudience: testAudience}
	with := func(k, v string) func(string) string {
		m := map[string]string{}
		for a, b := range full {
			m[a] = b
		}
		m[k] = v
		return env(m)
	}
	kid, pub, _ := strings.Cut(verify, "=")
	for _, tc := range []struct {
		name string
		load func(func(string) string) error
		env  func(string) string
		want string
	}{
		{"signing unset", loadS, with(EnvSigningKey, ""), "JWT_SIGNING_KEY: empty"},
		{"signing not base64", loadS, with(EnvSigningKey, "%%%"), "JWT_SIGNING_KEY: not valid base64"},
		{"signing too short", loadS, with(EnvSigningKey, base64.StdEncoding.EncodeToString(seed[:16])), "got 16 bytes"},
		{"issuer unset", loadS, with(EnvIssuer, " "), "JWT_ISSUER is not set"},
		{"audience unset", loadV, with(EnvAudience, ""), "JWT_AUDIENCE is not set"},
		{"verify unset", loadV, with(EnvVerifyKeys, ""), "JWT_VERIFY_KEYS is not set"},
		{"verify no kid", loadV, with(EnvVerifyKeys, pub), "entry 1: want kid=base64"},
		{"verify wrong kid", loadV, with(EnvVerifyKeys, "k1="+pub), `kid must be the key's thumbprint "` + kid + `"`},
		{"verify short key", loadV, with(EnvVerifyKeys, kid+"=AAAA"), "got 3 bytes"},
		{"verify twice", loadV, with(EnvVerifyKeys, verify+","+verify), "listed twice"},
		{"verify only commas", loadV, with(EnvVerifyKeys, " , ,"), "no keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.load(tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), signing) {
				t.Fatalf("error quotes the secret key: %v", err)
			}
		})
	}
	// Keys pasted in any base64 spelling work.
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if _, err := LoadSigner(with(EnvSigningKey, enc.EncodeToString(seed))); err != nil {
			t.Errorf("%v", err)
		}
	}
}

func loadS(e func(string) string) error { _, err := LoadSigner(e); return err }
func loadV(e func(string) string) error { _, err := LoadVerifier(e); return err }
