package main

import (
	"testing"
	"time"

	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/danmaku"
	"vodfc.dev/vodfc/engagement"
	"vodfc.dev/vodfc/httpapi/apidoc"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/tablestore"
)

// The end-to-end tests of danmaku run through the local cloud in functions/engagement, which
// starts this function's binary next to engagement's and rollup's (one cloud for the three).

func TestRoutesMatchOpenAPI(t *testing.T) {
	eng, err := engagement.New(engagement.Config{Tablestore: tablestore.Config{Endpoint: "http://127.0.0.1:1", Instance: "x"}, Redis: redis.New(redis.Config{Addr: "127.0.0.1:1"})})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := danmaku.New(danmaku.Config{Engagement: eng})
	if err != nil {
		t.Fatal(err)
	}
	apidoc.Check(t, "../../docs/openapi.yaml", "danmaku", router(svc, config{}).Routes())
}

func TestConfigRejectsBadValues(t *testing.T) {
	_, verifyKey, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"OTS_ENDPOINT": "http://127.0.0.1:1", "OTS_INSTANCE": "vodfc", "REDIS_ADDR": "127.0.0.1:1",
		"JWT_VERIFY_KEYS": verifyKey, "JWT_ISSUER": "i", "JWT_AUDIENCE": "a",
		"DANMAKU_SENDER_KEY": "dm9kZmMgZGFubWFrdSBzZW5kZXIga2V5IGZvciB0ZXM="}
	for name, bad := range map[string]map[string]string{
		"no Tablestore":      {"OTS_ENDPOINT": ""},
		"no Redis":           {"REDIS_ADDR": ""},
		"a zero cooldown":    {"DANMAKU_COOLDOWN": "0s"},
		"a cooldown in ints": {"DANMAKU_COOLDOWN": "5"},
		"a negative quota":   {"DANMAKU_DAILY_QUOTA": "-1"},
		"no sender key":      {"DANMAKU_SENDER_KEY": ""},
		"a short sender key": {"DANMAKU_SENDER_KEY": "c2hvcnQ="},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range base {
				t.Setenv(k, v)
			}
			for k, v := range bad {
				t.Setenv(k, v)
			}
			if _, err := loadConfig(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	t.Run("good values", func(t *testing.T) {
		for k, v := range base {
			t.Setenv(k, v)
		}
		t.Setenv("DANMAKU_COOLDOWN", "3s")
		t.Setenv("DANMAKU_DAILY_QUOTA", "10")
		c, err := loadConfig()
		if err != nil {
			t.Fatal(err)
		}
		if c.Danmaku.Cooldown != 3*time.Second || c.Danmaku.DailyQuota != 10 || len(c.Danmaku.SenderKey) != 32 {
			t.Fatalf("%+v", c)
		}
	})
}
