package redis

import (
	"context"
	"math"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Rate is a sustained rate with a burst: Count events per Per, at most Burst at once.
type Rate struct {
	Count int
	Per   time.Duration
	Burst int // 0 means Count
}

// Decision is the outcome of a limit check.
type Decision struct {
	Allowed    bool
	RetryAfter time.Duration // how long until the next event would be allowed; 0 when Allowed
	Remaining  int           // events still allowed right now, after this one
}

// The scripts read the clock with TIME on the server so every FC instance judges by the same
// clock, whatever its own drift.
const nowMillisLua = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

// gcraScript implements the generic cell rate algorithm: one key holding the theoretical
// arrival time, so a limit costs one round trip and one small string whatever the rate.
var gcraScript = goredis.NewScript(nowMillisLua + `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local newTat = tat + interval * cost
local allowAt = newTat - burst * interval
if allowAt > now then
  return {0, allowAt - now, 0}
end
redis.call('SET', KEYS[1], newTat, 'PX', math.max(1, math.ceil(newTat - now)))
return {1, 0, math.floor((now - allowAt) / interval)}
`)

// Allow spends one event of rate r under key and says whether it was allowed.
func (c *Client) Allow(ctx context.Context, key string, r Rate) (Decision, error) {
	burst := r.Burst
	if burst <= 0 {
		burst = r.Count
	}
	interval := float64(r.Per.Milliseconds()) / float64(r.Count)
	res, err := gcraScript.Run(ctx, c.rdb, []string{c.key(key)}, interval, burst, 1).Int64Slice()
	if err != nil {
		return Decision{}, wrap(err)
	}
	return Decision{Allowed: res[0] == 1, RetryAfter: ceilMillis(res[1]), Remaining: int(res[2])}, nil
}

// Cooldown allows one event per d under key (e.g. one verification mail a minute).
func (c *Client) Cooldown(ctx context.Context, key string, d time.Duration) (Decision, error) {
	k := c.key(key)
	ok, err := c.rdb.SetNX(ctx, k, 1, d).Result()
	if err != nil {
		return Decision{}, wrap(err)
	}
	if ok {
		return Decision{Allowed: true}, nil
	}
	ttl, err := c.rdb.PTTL(ctx, k).Result()
	if err != nil {
		return Decision{}, wrap(err)
	}
	if ttl <= 0 {
		ttl = time.Millisecond
	}
	return Decision{RetryAfter: ttl}, nil
}

// ClearCooldown ends a cooldown early.
func (c *Client) ClearCooldown(ctx context.Context, key string) error {
	return wrap(c.rdb.Del(ctx, c.key(key)).Err())
}

var windowScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
`)

// Quota counts events in a fixed window that starts with the first event (e.g. 200 danmaku a
// day); the event is counted even when refused, so hammering does not reset anything.
func (c *Client) Quota(ctx context.Context, key string, limit int, window time.Duration) (Decision, error) {
	res, err := windowScript.Run(ctx, c.rdb, []string{c.key(key)}, window.Milliseconds()).Int64Slice()
	if err != nil {
		return Decision{}, wrap(err)
	}
	n, ttl := int(res[0]), res[1]
	if n > limit {
		return Decision{RetryAfter: ceilMillis(ttl)}, nil
	}
	return Decision{Allowed: true, Remaining: limit - n}, nil
}

// Backoff limits repeated failures (wrong passwords, wrong codes): the first Free failures in
// Window cost nothing, each further one doubles a wait starting at Base up to Max, and after
// Limit failures everything is refused until the window ends.
type Backoff struct {
	Window time.Duration
	Free   int
	Base   time.Duration
	Max    time.Duration
	Limit  int
}

var backoffCheckScript = goredis.NewScript(nowMillisLua + `
local untilMs = tonumber(redis.call('HGET', KEYS[1], 'until') or 0)
if untilMs > now then return untilMs - now end
return 0
`)

// Check reports how long the caller must wait before the next attempt under key.
func (c *Client) Check(ctx context.Context, key string) (time.Duration, error) {
	ms, err := backoffCheckScript.Run(ctx, c.rdb, []string{c.key(key)}).Int64()
	if err != nil {
		return 0, wrap(err)
	}
	return ceilMillis(ms), nil
}

var backoffFailScript = goredis.NewScript(nowMillisLua + `
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local free, base, max, limit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local wait = 0
if n >= limit then
  wait = redis.call('PTTL', KEYS[1])
elseif n > free then
  wait = math.min(max, base * 2 ^ (n - free - 1))
end
if wait > 0 then redis.call('HSET', KEYS[1], 'until', now + wait) end
return {n, wait}
`)

// Fail records one failure under key and returns the wait it imposes on the next attempt.
func (c *Client) Fail(ctx context.Context, key string, b Backoff) (failures int, wait time.Duration, err error) {
	res, err := backoffFailScript.Run(ctx, c.rdb, []string{c.key(key)},
		b.Window.Milliseconds(), b.Free, b.Base.Milliseconds(), b.Max.Milliseconds(), b.Limit).Int64Slice()
	if err != nil {
		return 0, 0, wrap(err)
	}
	return int(res[0]), ceilMillis(res[1]), nil
}

// Forget clears the failures under key (after a success).
func (c *Client) Forget(ctx context.Context, key string) error {
	return wrap(c.rdb.Del(ctx, c.key(key)).Err())
}

func ceilMillis(ms int64) time.Duration {
	if ms <= 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// RetryAfterSeconds rounds a wait up to whole seconds for a Retry-After header (never 0 for a
// refusal, which clients would read as "now").
func RetryAfterSeconds(d time.Duration) int {
	return int(math.Max(1, math.Ceil(d.Seconds())))
}
