package main

import (
	"strings"
	"testing"
	"time"
)

func baseEnv() map[string]string {
	return map[string]string{"OTS_ENDPOINT": "http://127.0.0.1:1", "OTS_INSTANCE": "vodfc", "OSS_ENDPOINT": "http://127.0.0.1:1",
		"OSS_REGION": "cn-hangzhou", "MEDIA_BUCKET": "media"}
}

func TestConfigRejectsBadValuesNamingEach(t *testing.T) {
	for name, bad := range map[string]map[string]string{
		"no bucket":          {"MEDIA_BUCKET": ""},
		"a budget in ints":   {"TIERING_BUDGET": "540"},
		"no concurrency":     {"TIERING_CONCURRENCY": "0"},
		"an unknown zone":    {"TIERING_REPORT_TZ": "Mars/Olympus"},
		"windows in days":    {"TIERING_COLD_WINDOW": "30d"},
		"an unknown class":   {"TIERING_PRICES": "Glacier=0.004"},
		"restores too long":  {"TIERING_RESTORE_DAYS": "30"},
		"flapping threshold": {"TIERING_HOT_AT_LEAST": "1"},
	} {
		t.Run(name, func(t *testing.T) {
			env := baseEnv()
			for k, v := range bad {
				env[k] = v
			}
			for k, v := range env {
				t.Setenv(k, v)
			}
			_, err := loadConfig(func(k string) string { return env[k] })
			if err == nil {
				t.Fatal("accepted")
			}
			for k := range bad {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("the error does not name %s: %v", k, err)
				}
			}
		})
	}
	env := baseEnv()
	for k, v := range env {
		t.Setenv(k, v)
	}
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil || c.budget != 540*time.Second || c.zone.String() != "Asia/Shanghai" || c.policy.PinnedMaxHeight != 480 {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestPayload(t *testing.T) {
	for _, ok := range []string{"", "{}", " {\"dryRun\":false} "} {
		if p, err := parsePayload(ok); err != nil || p.DryRun {
			t.Errorf("%q: %+v %v", ok, p, err)
		}
	}
	if p, err := parsePayload(`{"dryRun":true}`); err != nil || !p.DryRun {
		t.Errorf("dry run: %+v %v", p, err)
	}
	for _, bad := range []string{`{"dry_run":true}`, `[]`, `{"dryRun":"yes"}`} {
		if _, err := parsePayload(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
