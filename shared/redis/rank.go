package redis

import (
	"context"
	"math"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Rankings are sorted sets rebuilt from Tablestore when missing (a comment thread's "top"
// order). A sentinel member scored -inf marks a set as built even when it ranks nothing, so an
// empty ranking is not rebuilt on every read.
const rankSentinel = "\x00"

// RankFill replaces the ranking under key with members and their scores.
func (c *Client) RankFill(ctx context.Context, key string, members map[string]float64, ttl time.Duration) error {
	k := c.key(key)
	zs := make([]goredis.Z, 0, len(members)+1)
	zs = append(zs, goredis.Z{Score: math.Inf(-1), Member: rankSentinel})
	for m, s := range members {
		zs = append(zs, goredis.Z{Score: s, Member: m})
	}
	pipe := c.rdb.TxPipeline()
	pipe.Del(ctx, k)
	for start := 0; start < len(zs); start += 1000 {
		pipe.ZAdd(ctx, k, zs[start:min(start+1000, len(zs))]...)
	}
	pipe.PExpire(ctx, k, ttl)
	_, err := pipe.Exec(ctx)
	return wrap(err)
}

var rankAddScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] == '1' then
  redis.call('ZINCRBY', KEYS[1], ARGV[1], ARGV[2])
else
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
end
return 1
`)

// RankAdd sets member's score in an existing ranking (a missing one is rebuilt on its next
// read, with the member in it).
func (c *Client) RankAdd(ctx context.Context, key, member string, score float64) error {
	return wrap(rankAddScript.Run(ctx, c.rdb, []string{c.key(key)}, score, member, "0").Err())
}

// RankIncr adds delta to member's score in an existing ranking.
func (c *Client) RankIncr(ctx context.Context, key, member string, delta float64) error {
	return wrap(rankAddScript.Run(ctx, c.rdb, []string{c.key(key)}, delta, member, "1").Err())
}

// RankRemove takes member out of a ranking.
func (c *Client) RankRemove(ctx context.Context, key, member string) error {
	return wrap(c.rdb.ZRem(ctx, c.key(key), member).Err())
}

// RankPage returns up to n members from offset, highest score first; built is false when the
// ranking does not exist and must be filled.
func (c *Client) RankPage(ctx context.Context, key string, offset, n int) (members []string, built bool, err error) {
	k := c.key(key)
	pipe := c.rdb.Pipeline()
	exists := pipe.Exists(ctx, k)
	page := pipe.ZRevRange(ctx, k, int64(offset), int64(offset+n-1))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, false, wrap(err)
	}
	if exists.Val() == 0 {
		return nil, false, nil
	}
	for _, m := range page.Val() {
		if m != rankSentinel {
			members = append(members, m)
		}
	}
	return members, true, nil
}
