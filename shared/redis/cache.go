package redis

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Get returns the cached bytes under key; ok is false on a miss.
func (c *Client) Get(ctx context.Context, key string) (val []byte, ok bool, err error) {
	b, err := c.rdb.Get(ctx, c.key(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap(err)
	}
	return b, true, nil
}

// Set caches val under key for ttl.
func (c *Client) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	return wrap(c.rdb.Set(ctx, c.key(key), val, ttl).Err())
}

// Delete removes keys (cache invalidation).
func (c *Client) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.key(k)
	}
	return wrap(c.rdb.Del(ctx, full...).Err())
}

// GetJSON decodes the cached JSON under key into v; ok is false on a miss or an entry that no
// longer decodes (a cache written by an older version is a miss, not an error).
func (c *Client) GetJSON(ctx context.Context, key string, v any) (ok bool, err error) {
	b, ok, err := c.Get(ctx, key)
	if err != nil || !ok {
		return false, err
	}
	if json.Unmarshal(b, v) != nil {
		return false, nil
	}
	return true, nil
}

// SetJSON caches v as JSON under key for ttl.
func (c *Client) SetJSON(ctx context.Context, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Set(ctx, key, b, ttl)
}

// Incr adds delta to the integer under key, creating it with ttl when new, and returns the sum.
func (c *Client) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	k := c.key(key)
	pipe := c.rdb.TxPipeline()
	incr := pipe.IncrBy(ctx, k, delta)
	if ttl > 0 {
		pipe.ExpireNX(ctx, k, ttl)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, wrap(err)
	}
	return incr.Val(), nil
}
