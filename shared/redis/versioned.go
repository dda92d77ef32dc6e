package redis

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Versioned integers: a hash of counters tagged with the generation of the row they were read
// from. Writers race (two requests finish out of order), so a write only lands when its
// generation is at least the cached one; a cache filled from an older read can never hide a
// newer one.

var setIfNewerScript = goredis.NewScript(`
local cur = redis.call('HGET', KEYS[1], '_gen')
if cur and tonumber(cur) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], '_gen', ARGV[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// SetIfNewer stores fields under key tagged with gen unless the cached generation is newer;
// it reports whether it stored them.
func (c *Client) SetIfNewer(ctx context.Context, key string, gen int64, fields map[string]int64, ttl time.Duration) (bool, error) {
	args := make([]any, 0, 2+2*len(fields))
	args = append(args, gen, ttl.Milliseconds())
	for f, v := range fields {
		args = append(args, f, v)
	}
	n, err := setIfNewerScript.Run(ctx, c.rdb, []string{c.key(key)}, args...).Int64()
	return n == 1, wrap(err)
}

// Versioned is one cached hash of counters.
type Versioned struct {
	Gen    int64
	Fields map[string]int64
}

// GetVersioned reads many versioned hashes in one pipelined round trip; nil where missing.
func (c *Client) GetVersioned(ctx context.Context, keys []string, fields ...string) ([]*Versioned, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	pipe := c.rdb.Pipeline()
	cmds := make([]*goredis.SliceCmd, len(keys))
	names := append([]string{"_gen"}, fields...)
	for i, k := range keys {
		cmds[i] = pipe.HMGet(ctx, c.key(k), names...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !IsNil(err) {
		return nil, wrap(err)
	}
	out := make([]*Versioned, len(keys))
	for i, cmd := range cmds {
		vals := cmd.Val()
		if len(vals) == 0 || vals[0] == nil {
			continue
		}
		v := &Versioned{Fields: make(map[string]int64, len(fields))}
		v.Gen = toInt(vals[0])
		for j, f := range fields {
			if vals[j+1] != nil {
				v.Fields[f] = toInt(vals[j+1])
			}
		}
		out[i] = v
	}
	return out, nil
}

func toInt(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
