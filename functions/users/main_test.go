package main

import (
	"os"
	"strings"
	"testing"

	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/httpapi/apidoc"
)

func setEnv(t *testing.T) {
	t.Helper()
	_, vk, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"OTS_ENDPOINT": "http://127.0.0.1:9", "OTS_INSTANCE": "vodfc",
		"OSS_ENDPOINT": "http://127.0.0.1:9", "OSS_REGION": "cn-hangzhou", "MEDIA_BUCKET": "media",
		"JWT_VERIFY_KEYS": vk, "JWT_ISSUER": "https://vodfc.test", "JWT_AUDIENCE": "vodfc-api", "PROFILE_CACHE_TTL": "",
	} {
		t.Setenv(k, v)
	}
}

func TestRoutesMatchTheOpenAPIDocument(t *testing.T) {
	setEnv(t)
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	apidoc.Check(t, "../../docs/openapi.yaml", "users", r.Routes())
}

func TestConfig(t *testing.T) {
	setEnv(t)
	t.Setenv("PROFILE_CACHE_TTL", "0s")
	if cfg, err := loadConfig(os.Getenv); err != nil || cfg.CacheTTL >= 0 {
		t.Fatalf("PROFILE_CACHE_TTL=0s should disable the cache: %+v %v", cfg, err)
	}
	t.Setenv("PROFILE_CACHE_TTL", "1h")
	t.Setenv("JWT_VERIFY_KEYS", "")
	t.Setenv("OTS_ENDPOINT", "")
	_, err := loadConfig(os.Getenv)
	for _, want := range []string{"PROFILE_CACHE_TTL", "JWT_VERIFY_KEYS", "OTS_ENDPOINT"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s: %v", want, err)
		}
	}
}
