package main

import (
	"os"
	"strings"
	"testing"

	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/httpapi/apidoc"
)

// setEnv gives the function a complete environment, as s.yaml and the local cloud do.
func setEnv(t *testing.T) {
	t.Helper()
	sk, _, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"OTS_ENDPOINT": "http://127.0.0.1:9", "OTS_INSTANCE": "vodfc", "REDIS_ADDR": "127.0.0.1:9",
		"SMTP_ADDR": "127.0.0.1:2525", "SMTP_TLS": "none", "MAIL_FROM": "vodfc <noreply@vodfc.test>",
		"JWT_SIGNING_KEY": sk, "JWT_ISSUER": "https://vodfc.test", "JWT_AUDIENCE": "vodfc-api",
		"ADMIN_EMAILS": "root@vodfc.test, Ops@Vodfc.Test", "FC_SERVER_PORT": "9000",
		"TRUSTED_PROXY_HOPS": "", "PASSWORD_HASH_CONCURRENCY": "",
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
	r, closeClients, err := newHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer closeClients()
	apidoc.Check(t, "../../docs/openapi.yaml", "auth", r.Routes())
}

func TestConfigDefaultsFollowThePlatform(t *testing.T) {
	setEnv(t)
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	// The custom runtime: FC's front end appends the client to X-Forwarded-For.
	if cfg.ProxyHops != 1 || cfg.HashConcurrency < 1 || len(cfg.AdminEmails) != 2 || cfg.SessionKey == nil || cfg.Codes == nil {
		t.Fatalf("config %+v", cfg)
	}
	t.Setenv("FC_SERVER_PORT", "")
	t.Setenv("FC_RUNTIME_API", "127.0.0.1:9001")
	if cfg, _ = loadConfig(os.Getenv); cfg.ProxyHops != 0 {
		t.Fatalf("go1 runtime: proxy hops %d, want 0 (the event carries the source address)", cfg.ProxyHops)
	}
	t.Setenv("TRUSTED_PROXY_HOPS", "2")
	t.Setenv("PASSWORD_HASH_CONCURRENCY", "3")
	if cfg, _ = loadConfig(os.Getenv); cfg.ProxyHops != 2 || cfg.HashConcurrency != 3 {
		t.Fatalf("overrides: %+v", cfg)
	}
}

func TestConfigErrorsNameEveryMissingVariable(t *testing.T) {
	for _, k := range []string{"OTS_ENDPOINT", "OTS_INSTANCE", "REDIS_ADDR", "SMTP_ADDR", "MAIL_FROM", "JWT_SIGNING_KEY",
		"JWT_ISSUER", "JWT_AUDIENCE", "ADMIN_EMAILS"} {
		t.Setenv(k, "")
	}
	t.Setenv("TRUSTED_PROXY_HOPS", "many")
	t.Setenv("PASSWORD_HASH_CONCURRENCY", "0")
	_, err := loadConfig(os.Getenv)
	if err == nil {
		t.Fatal("an empty environment was accepted")
	}
	for _, want := range []string{"OTS_ENDPOINT", "REDIS_ADDR", "SMTP_ADDR", "JWT_SIGNING_KEY", "TRUSTED_PROXY_HOPS", "PASSWORD_HASH_CONCURRENCY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s:\n%v", want, err)
		}
	}
}

func TestAMalformedAdminAddressStopsTheStart(t *testing.T) {
	setEnv(t)
	t.Setenv("ADMIN_EMAILS", "root@vodfc.test, not-an-address")
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := newHandler(cfg); err == nil || !strings.Contains(err.Error(), "not-an-address") {
		t.Fatalf("err %v", err)
	}
}
