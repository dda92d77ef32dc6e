package main

import (
	"testing"

	"vodfc.dev/vodfc/engagement"
	"vodfc.dev/vodfc/httpapi/apidoc"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/tablestore"
)

func TestRoutesMatchOpenAPI(t *testing.T) {
	svc, err := engagement.New(engagement.Config{Tablestore: tablestore.Config{Endpoint: "http://127.0.0.1:1", Instance: "x"},
		Redis: redis.New(redis.Config{Addr: "127.0.0.1:1"})})
	if err != nil {
		t.Fatal(err)
	}
	apidoc.Check(t, "../../docs/openapi.yaml", "engagement", router(svc, config{}).Routes())
}

func TestConfigNamesWhatIsMissing(t *testing.T) {
	t.Setenv("OTS_ENDPOINT", "")
	if _, err := loadConfig(); err == nil {
		t.Fatal("a config without Tablestore was accepted")
	}
	t.Setenv("OTS_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTS_INSTANCE", "vodfc")
	t.Setenv("REDIS_ADDR", "127.0.0.1:1")
	t.Setenv("JWT_VERIFY_KEYS", "")
	if _, err := loadConfig(); err == nil {
		t.Fatal("a config without verify keys was accepted")
	}
}
