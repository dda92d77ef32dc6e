package main

import (
	"encoding/base64"
	"strings"
	"testing"

	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/httpapi/apidoc"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/playback"
	"vodfc.dev/vodfc/tablestore"
)

// The playback logic is tested in shared/playback and end to end in functions/transcode; here
// the function's wiring: its routes against the OpenAPI document and its configuration.

func testEnv(t *testing.T, extra map[string]string) func(string) string {
	t.Helper()
	_, vk, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"JWT_VERIFY_KEYS": vk, "JWT_ISSUER": "https://test", "JWT_AUDIENCE": "vodfc-api",
		"PLAYBACK_TOKEN_KEY": base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
	}
	for k, v := range extra {
		env[k] = v
	}
	t.Setenv("OTS_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTS_INSTANCE", "vodfc")
	t.Setenv("OSS_ENDPOINT", "http://127.0.0.1:2")
	t.Setenv("OSS_REGION", "cn-hangzhou")
	t.Setenv("MEDIA_BUCKET", "media")
	return func(k string) string { return env[k] }
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	c, err := loadConfig(testEnv(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	db, err := tablestore.New(c.tables)
	if err != nil {
		t.Fatal(err)
	}
	media, err := oss.New(c.media)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRouter(c, db, media)
	if err != nil {
		t.Fatal(err)
	}
	apidoc.Check(t, "../../docs/openapi.yaml", "playback", r.Routes())
}

func TestConfigurationErrorsStopStartUp(t *testing.T) {
	_, err := loadConfig(testEnv(t, map[string]string{
		"PLAYBACK_TOKEN_KEY":   "c2hvcnQ", // 5 bytes
		"PLAYBACK_TOKEN_TTL":   "soon",
		"PLAYBACK_SESSION_TTL": "200h",
		"PLAYBACK_CDN_DOMAIN":  "cdn.example.com",
	}))
	for _, want := range []string{"PLAYBACK_TOKEN_KEY", "PLAYBACK_TOKEN_TTL", "PLAYBACK_SESSION_TTL", "PLAYBACK_CDN_KEY"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s: %v", want, err)
		}
	}
}

func TestCDNDomainSwitchesToTypeASignedURLs(t *testing.T) {
	c, err := loadConfig(testEnv(t, map[string]string{"PLAYBACK_CDN_DOMAIN": "cdn.example.com", "PLAYBACK_CDN_KEY": "secretkey123"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.playback.CDN == nil || c.playback.CDN.Base != "https://cdn.example.com" || c.playback.CDN.Key != "secretkey123" {
		t.Fatalf("CDN signer %+v", c.playback.CDN)
	}
	var _ playback.MediaSigner = *c.playback.CDN
}
