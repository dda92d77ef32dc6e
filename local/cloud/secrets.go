package cloud

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"vodfc.dev/local/manifest"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/auth"
)

// secrets are the values that stand in, locally, for what a deployment passes in from its own
// secret store (`${env('JWT_SIGNING_KEY')}` in s.yaml): made once per data directory, kept in
// secrets.json (0600), never fixed in code, so two developers' local clouds never share a key.
type secrets struct {
	path   string
	values map[string]string
}

// jwtVars are generated together: the verify key must be the signing key's public half.
const (
	envSigningKey = "JWT_SIGNING_KEY"
	envVerifyKeys = "JWT_VERIFY_KEYS"
)

func loadSecrets(dataDir string) (*secrets, error) {
	s := &secrets{path: filepath.Join(dataDir, "secrets.json"), values: map[string]string{}}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &s.values); err != nil {
			return nil, fmt.Errorf("%s: %w (delete it to make new local secrets)", s.path, err)
		}
	}
	if s.values[envSigningKey] == "" || s.values[envVerifyKeys] == "" {
		sk, vk, err := auth.GenerateKey()
		if err != nil {
			return nil, err
		}
		s.values[envSigningKey], s.values[envVerifyKeys] = sk, vk
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// isSecretName says which empty s.yaml variables the local cloud fills with a random secret:
// keys and secrets by name (PLAYBACK_TOKEN_KEY, CODE_HASH_SECRET, ...).
func isSecretName(name string) bool {
	return strings.HasSuffix(name, "_KEY") || strings.HasSuffix(name, "_SECRET") || strings.HasSuffix(name, "_KEYS")
}

// fill gives every secret-named variable that s.yaml leaves empty for this function a value,
// making and saving new ones as needed.
func (s *secrets) fill(f *manifest.Function, env map[string]string) error {
	var names []string
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	changed := false
	for _, k := range names {
		if env[k] != "" || !isSecretName(k) {
			continue
		}
		v, ok := s.values[k]
		if !ok {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			v = base64.RawURLEncoding.EncodeToString(b)
			s.values[k] = v
			changed = true
		}
		env[k] = v
	}
	if changed {
		return s.save()
	}
	return nil
}

func (s *secrets) save() error {
	b, _ := json.MarshalIndent(s.values, "", "  ")
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}

// MintToken signs an access token for userID with the local signing key, as the auth function
// would after a login. End-to-end tests of other features use it to act as many users without
// registering each one; the token is real and goes through the same verification.
func (c *Cloud) MintToken(userID string, tier vodfc.Tier, roles ...vodfc.Role) (string, error) {
	env := map[string]string{envSigningKey: c.secrets.values[envSigningKey]}
	for _, f := range c.functions {
		for _, k := range []string{auth.EnvIssuer, auth.EnvAudience} {
			if v := f.Env[k]; v != "" && env[k] == "" {
				env[k] = v
			}
		}
	}
	signer, err := auth.LoadSigner(func(k string) string { return env[k] })
	if err != nil {
		return "", fmt.Errorf("cloud: minting a token needs JWT_ISSUER and JWT_AUDIENCE in some function's s.yaml env: %w", err)
	}
	tok, _, err := signer.IssueAccess(userID, tier, roles)
	return tok, err
}
