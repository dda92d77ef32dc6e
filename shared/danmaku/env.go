package danmaku

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"vodfc.dev/vodfc/auth"
)

// ConfigFromEnv reads the posting rules a deployment may tune: DANMAKU_COOLDOWN (a duration,
// default 5s) and DANMAKU_DAILY_QUOTA (per user per day, default 300), and the key of the
// sender hashes, DANMAKU_SENDER_KEY (required). The caller adds the engagement service and
// the logger.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	if v := getenv("DANMAKU_COOLDOWN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("DANMAKU_COOLDOWN=%q: want a positive duration such as 5s", v))
		}
		c.Cooldown = d
	}
	if v := getenv("DANMAKU_DAILY_QUOTA"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("DANMAKU_DAILY_QUOTA=%q: want a positive number of danmaku per user per day", v))
		}
		c.DailyQuota = n
	}
	key, err := auth.ParseSecretKey(getenv("DANMAKU_SENDER_KEY"), 16)
	if err != nil {
		errs = append(errs, fmt.Errorf("DANMAKU_SENDER_KEY: %v (base64 of 32 random bytes: head -c 32 /dev/urandom | base64)", err))
	}
	c.SenderKey = key
	return c, errors.Join(errs...)
}
