package cloud

import (
	"testing"

	"vodfc.dev/local/manifest"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
)

func TestSecretsArePerDataDirAndStable(t *testing.T) {
	dir := t.TempDir()
	s1, err := loadSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &manifest.Function{Name: "vodfc-x"}
	env1 := map[string]string{"JWT_SIGNING_KEY": "", "JWT_VERIFY_KEYS": "", "PLAYBACK_TOKEN_KEY": "", "TITLE": "", "SET_KEY": "given"}
	if err := s1.fill(f, env1); err != nil {
		t.Fatal(err)
	}
	if env1["PLAYBACK_TOKEN_KEY"] == "" || env1["TITLE"] != "" || env1["SET_KEY"] != "given" {
		t.Fatalf("fill: %v", env1)
	}
	s2, _ := loadSecrets(dir)
	env2 := map[string]string{"JWT_SIGNING_KEY": "", "JWT_VERIFY_KEYS": "", "PLAYBACK_TOKEN_KEY": ""}
	s2.fill(f, env2)
	for k, v := range env2 {
		if env1[k] != v {
			t.Fatalf("%s changed across restarts", k)
		}
	}
	other, _ := loadSecrets(t.TempDir())
	if other.values[envSigningKey] == s1.values[envSigningKey] {
		t.Fatal("two data directories share a signing key")
	}
	// The generated pair verifies: what the signing half mints, the verify half accepts.
	env := map[string]string{envSigningKey: env1[envSigningKey], envVerifyKeys: env1[envVerifyKeys],
		auth.EnvIssuer: "vodfc-local", auth.EnvAudience: "vodfc-api"}
	signer, err := auth.LoadSigner(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.LoadVerifier(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := signer.IssueAccess("u1", vodfc.TierMember, nil)
	if p, err := verifier.VerifyAccessToken(tok); err != nil || p.UserID != "u1" || p.Tier != vodfc.TierMember {
		t.Fatalf("verify: %+v %v", p, err)
	}
}
