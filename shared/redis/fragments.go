package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Fragments cache rendered outputs of one owner (a video's danmaku segments, its XML, its
// heatmap) in one hash with a version field. A writer that changes the owner bumps the version
// and drops the affected fragments in one step; a reader that rendered from storage stores its
// fragment only if the version is still the one it saw before reading, so a render that raced
// with a change can never be cached over it.

const fragVersion = "_v"

// Fragment is a cached fragment and the owner's version when it was read.
type Fragment struct {
	Value   []byte // nil on a miss
	Version string // "" when the owner has no cached state at all
}

// GetFragment reads one fragment and the owner's version in one round trip.
func (c *Client) GetFragment(ctx context.Context, key, field string) (Fragment, error) {
	vals, err := c.rdb.HMGet(ctx, c.key(key), field, fragVersion).Result()
	if err != nil {
		return Fragment{}, wrap(err)
	}
	var f Fragment
	if s, ok := vals[0].(string); ok {
		f.Value = []byte(s)
	}
	if s, ok := vals[1].(string); ok {
		f.Version = s
	}
	return f, nil
}

var putFragmentScript = goredis.NewScript(`
local v = redis.call('HGET', KEYS[1], '_v') or ''
if v ~= ARGV[1] then return 0 end
if v == '' then redis.call('HSET', KEYS[1], '_v', '0') end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// PutFragment stores a fragment rendered after reading version seen; it reports false (and
// stores nothing) when the owner changed meanwhile.
func (c *Client) PutFragment(ctx context.Context, key, field string, value []byte, seen string, ttl time.Duration) (bool, error) {
	n, err := putFragmentScript.Run(ctx, c.rdb, []string{c.key(key)}, seen, field, value, ttl.Milliseconds()).Int64()
	return n == 1, wrap(err)
}

var invalidateScript = goredis.NewScript(`
redis.call('HINCRBY', KEYS[1], '_v', 1)
local fields = redis.call('HKEYS', KEYS[1])
for _, f in ipairs(fields) do
  if f ~= '_v' then
    local keep = false
    for i = 2, #ARGV do
      if string.sub(f, 1, #ARGV[i]) == ARGV[i] then keep = true end
    end
    if f == ARGV[1] then keep = false end
    if not keep then redis.call('HDEL', KEYS[1], f) end
  end
end
redis.call('PEXPIRE', KEYS[1], 86400000)
return 1
`)

// InvalidateFragments bumps the owner's version and drops its fragments, except those whose
// name starts with one of keepPrefixes; drop is dropped even if it matches one (a post to
// segment 3 drops "seg:3" and keeps the other segments).
func (c *Client) InvalidateFragments(ctx context.Context, key, drop string, keepPrefixes ...string) error {
	args := make([]any, 0, 1+len(keepPrefixes))
	args = append(args, drop)
	for _, p := range keepPrefixes {
		args = append(args, p)
	}
	return wrap(invalidateScript.Run(ctx, c.rdb, []string{c.key(key)}, args...).Err())
}

var claimScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return {0, v} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, ARGV[1]}
`)

// Claim stores value under key unless something is stored there already, and returns what is
// stored afterwards and whether it is this call's value (idempotency keys).
func (c *Client) Claim(ctx context.Context, key string, value []byte, ttl time.Duration) (stored []byte, claimed bool, err error) {
	res, err := claimScript.Run(ctx, c.rdb, []string{c.key(key)}, value, ttl.Milliseconds()).Slice()
	if err != nil {
		return nil, false, wrap(err)
	}
	n, _ := res[0].(int64)
	s, _ := res[1].(string)
	return []byte(s), n == 1, nil
}
