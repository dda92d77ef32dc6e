package main

import (
	"os"
	"os/exec"
	"regexp"
	"testing"

	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/danmaku"
	"vodfc.dev/vodfc/playback"
)

// The printed secrets are what the functions load: the signing key mints tokens the verify
// keys accept, and the playback key is long enough.
func TestPrintedSecretsLoad(t *testing.T) {
	if os.Getenv("KEYS_MAIN") == "1" {
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPrintedSecretsLoad$")
	cmd.Env = append(os.Environ(), "KEYS_MAIN=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{auth.EnvIssuer: "https://vodfc.test", auth.EnvAudience: "vodfc-api"}
	for _, m := range regexp.MustCompile(`(?m)^export (\w+)='([^']*)'$`).FindAllStringSubmatch(string(out), -1) {
		env[m[1]] = m[2]
	}
	getenv := func(k string) string { return env[k] }
	signer, err := auth.LoadSigner(getenv)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.LoadVerifier(getenv)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := signer.IssueAccess("u1", vodfc.TierFree, nil)
	if _, err := verifier.VerifyAccessToken(tok); err != nil {
		t.Fatal(err)
	}
	if _, err := playback.ParseKey(env["PLAYBACK_TOKEN_KEY"]); err != nil {
		t.Fatal(err)
	}
	if _, err := danmaku.ConfigFromEnv(getenv); err != nil {
		t.Fatal(err)
	}
}
