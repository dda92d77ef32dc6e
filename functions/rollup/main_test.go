package main

import (
	"testing"
	"time"
)

// The rollup binary is exercised end to end (killed mid-flush and rerun) by the local-cloud
// tests in functions/engagement.

func TestConfigRejectsBadValues(t *testing.T) {
	base := map[string]string{"OTS_ENDPOINT": "http://127.0.0.1:1", "OTS_INSTANCE": "vodfc", "REDIS_ADDR": "127.0.0.1:1"}
	for name, bad := range map[string]map[string]string{
		"no Tablestore instance": {"OTS_INSTANCE": ""},
		"no Redis":               {"REDIS_ADDR": ""},
		"a budget in ints":       {"ROLLUP_BUDGET": "100"},
		"a negative dead-after":  {"INTENT_DEAD_AFTER": "-2m"},
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
	for k, v := range base {
		t.Setenv(k, v)
	}
	t.Setenv("INTENT_DEAD_AFTER", "5m")
	c, err := loadConfig()
	if err != nil || c.DeadAfter != 5*time.Minute || c.Budget != 100*time.Second {
		t.Fatalf("%+v %v", c, err)
	}
}
