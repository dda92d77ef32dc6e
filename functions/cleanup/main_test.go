package main

import (
	"strings"
	"testing"
	"time"
)

func TestConfigRejectsBadValuesNamingEach(t *testing.T) {
	base := map[string]string{"OTS_ENDPOINT": "http://127.0.0.1:1", "OTS_INSTANCE": "vodfc", "OSS_ENDPOINT": "http://127.0.0.1:1",
		"OSS_REGION": "cn-hangzhou", "MEDIA_BUCKET": "media"}
	for name, bad := range map[string]map[string]string{
		"no Tablestore instance": {"OTS_INSTANCE": ""},
		"a budget in ints":       {"CLEANUP_BUDGET": "240"},
		"a grace in days":        {"CLEANUP_DELETED_GRACE": "7d"},
		"a minute of age":        {"CLEANUP_MULTIPART_MAX_AGE": "1m"},
	} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
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
	for k, v := range base {
		t.Setenv(k, v)
	}
	c, err := loadConfig(func(k string) string { return map[string]string{"CLEANUP_DELETED_GRACE": "72h"}[k] })
	if err != nil || c.rules.DeletedGrace != 72*time.Hour || c.rules.UploadExpiry != 24*time.Hour || c.budget != 240*time.Second {
		t.Fatalf("%+v %v", c, err)
	}
}
