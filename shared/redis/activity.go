package redis

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Activity is the views log and the daily tallies of engagement: heartbeats turn into counted
// views, and counted views plus every like, favourite, comment and danmaku are tallied per
// (video, UTC day, column) in one pending hash. A flush (rollup) rotates the pending hash into
// a numbered batch, applies the batch to Tablestore and then drops it; batch ids only grow, so
// the rows a batch was applied to can remember it and a re-run applies nothing twice.
//
// Keys (after the client prefix): act:pending (hash), act:batch:{id} (hash), act:batches
// (sorted set of batch ids), act:lastbatch, one act:seen:{video}:{viewer} string per viewer
// and hour, and one act:src:{video}:{source} counter per anonymous source that counted a view. The batch names are built inside the rotation script, so these structures need a
// non-cluster Redis (Tair standard edition or a replica set), which is what s.yaml deploys.
const (
	keyPending   = "act:pending"
	keyBatches   = "act:batches"
	keyLastBatch = "act:lastbatch"
	prefixBatch  = "act:batch:"
	prefixSeen   = "act:seen:"
	prefixSource = "act:src:"
)

// Heartbeat is one "still watching" signal of a player.
type Heartbeat struct {
	VideoID string
	// Viewer is who watches: a user id, or an anonymous session's id; the caller prefixes them
	// so that they cannot collide.
	Viewer string
	// Day is the UTC day (yyyymmdd) a view counted now belongs to.
	Day int
	// Source is where an anonymous viewer's heartbeat came from (its client address), whose
	// views of one video ViewRule.MaxPerSource caps; empty for a signed-in viewer, who is one
	// viewer however many sessions they open.
	Source string
}

// HeartbeatResult says what one heartbeat did.
type HeartbeatResult int

const (
	// HeartbeatFirst started a viewing window: nothing is counted yet.
	HeartbeatFirst HeartbeatResult = iota
	// HeartbeatWatching is inside a window that has not reached the minimum watch time.
	HeartbeatWatching
	// HeartbeatCounted counted the view: the window reached the minimum watch time just now.
	HeartbeatCounted
	// HeartbeatAlreadyCounted is inside a window whose view was counted before.
	HeartbeatAlreadyCounted
	// HeartbeatCapped reached the minimum watch time, but its source had already added
	// MaxPerSource views of the video in this window: the window is closed uncounted.
	HeartbeatCapped
)

// ViewRule is when a view counts: once per viewer and video per Window, after MinWatch, and at
// most MaxPerSource times per Window for the anonymous sessions of one source (0: no cap), so
// that a script minting session ids cannot inflate a video's views.
type ViewRule struct {
	MinWatch     time.Duration
	Window       time.Duration
	MaxPerSource int
}

// A viewer's window key holds the time (ms) of the window's first heartbeat until the view
// counts, then "c" and that time for the rest of the window. Most heartbeats come from viewers whose window
// is running, so a batch starts with one MGET of every window key: a running window needs
// nothing more. New windows are started with SET NX (which also reports a window a racing
// heartbeat started), and a heartbeat that crosses MinWatch counts the view with a
// compare-and-set of its window key to "c" together with the tally, so two heartbeats of the
// same viewer crossing at once count one view. Those go in one second pipeline. Keeping the
// start after "c" lets a caller know when a counted window ends without asking again.
//
// A capped source's tally of the window (KEYS[3], ARGV[3] the cap, ARGV[4] the window in ms)
// is counted in the same script: the view is closed either way, and added only under the cap.
var countViewScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], 'c' .. ARGV[1], 'KEEPTTL')
local cap = tonumber(ARGV[3])
if cap > 0 then
  local n = redis.call('INCR', KEYS[3])
  if n == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[4]) end
  if n > cap then return 2 end
end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
return 1
`)

// HeartbeatWindow is what one heartbeat did and the viewing window it fell in.
type HeartbeatWindow struct {
	Result HeartbeatResult
	// StartMS is when the window's first heartbeat was seen (ms since the epoch), as Redis
	// holds it; 0 when this answer does not tell. The window ends ViewRule.Window later.
	StartMS int64
}

// Heartbeats applies a batch of heartbeats seen at now (the caller's clock: FC instances keep
// NTP time, far closer than the 10 s that matter here) and says what each did. It costs one
// round trip, plus one when some heartbeat starts a window or counts a view.
func (c *Client) Heartbeats(ctx context.Context, rule ViewRule, now time.Time, hbs []Heartbeat) ([]HeartbeatResult, error) {
	ws, err := c.HeartbeatWindows(ctx, rule, now, hbs)
	if err != nil {
		return nil, err
	}
	out := make([]HeartbeatResult, len(ws))
	for i, w := range ws {
		out[i] = w.Result
	}
	return out, nil
}

// windowStart reads the start kept in a window key's value: "1700000000000" while watching,
// "c1700000000000" once counted ("c" alone, written before the start was kept, tells nothing).
func windowStart(v string) (counted bool, startMS int64) {
	if counted = strings.HasPrefix(v, "c"); counted {
		v = v[1:]
	}
	startMS, err := strconv.ParseInt(v, 10, 64)
	if err != nil || startMS <= 0 {
		return counted, 0
	}
	return counted, startMS
}

// HeartbeatWindows is Heartbeats telling also each heartbeat's window, so that a caller can
// answer the next heartbeats of a running window without a round trip.
func (c *Client) HeartbeatWindows(ctx context.Context, rule ViewRule, now time.Time, hbs []Heartbeat) ([]HeartbeatWindow, error) {
	if len(hbs) == 0 {
		return nil, nil
	}
	nowMS := now.UnixMilli()
	keys := make([]string, len(hbs))
	for i, hb := range hbs {
		keys[i] = c.key(prefixSeen + hb.VideoID + ":" + hb.Viewer)
	}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]HeartbeatWindow, len(hbs))
	var pipe goredis.Pipeliner
	type step struct {
		i     int
		start *goredis.StatusCmd // a new window
		count *goredis.Cmd       // a view to count
	}
	var steps []step
	for i, v := range vals {
		s, ok := v.(string)
		if !ok { // no window: start one
			if pipe == nil {
				pipe = c.rdb.Pipeline()
			}
			steps = append(steps, step{i: i, start: pipe.SetArgs(ctx, keys[i], nowMS, goredis.SetArgs{Mode: "NX", TTL: rule.Window, Get: true})})
			continue
		}
		switch counted, first := windowStart(s); {
		case counted:
			out[i] = HeartbeatWindow{HeartbeatAlreadyCounted, first}
		case first == 0 || nowMS-first < rule.MinWatch.Milliseconds():
			out[i] = HeartbeatWindow{HeartbeatWatching, first}
		default:
			if pipe == nil {
				pipe = c.rdb.Pipeline()
			}
			source, limit := keys[i], 0 // the window's own key stands in when nothing is capped
			if hbs[i].Source != "" && rule.MaxPerSource > 0 {
				source, limit = c.key(prefixSource+hbs[i].VideoID+":"+hbs[i].Source), rule.MaxPerSource
			}
			steps = append(steps, step{i: i, count: countViewScript.Eval(ctx, pipe, []string{keys[i], c.key(keyPending), source}, s,
				TallyField(hbs[i].VideoID, hbs[i].Day, "views"), limit, rule.Window.Milliseconds())})
		}
	}
	if pipe == nil {
		return out, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !IsNil(err) {
		return nil, wrap(err)
	}
	for _, st := range steps {
		if st.count != nil {
			// 0: another heartbeat of the same viewer counted the view a moment ago (or the
			// window ended and began again): which window this was is not known.
			out[st.i] = HeartbeatWindow{Result: HeartbeatAlreadyCounted}
			switch n, _ := st.count.Int64(); n {
			case 1:
				_, first := windowStart(vals[st.i].(string))
				out[st.i] = HeartbeatWindow{HeartbeatCounted, first}
			case 2:
				_, first := windowStart(vals[st.i].(string))
				out[st.i] = HeartbeatWindow{HeartbeatCapped, first}
			}
			continue
		}
		switch v, err := st.start.Result(); {
		case IsNil(err):
			out[st.i] = HeartbeatWindow{HeartbeatFirst, nowMS}
		case err != nil:
			return nil, wrap(err)
		default:
			// A racing heartbeat started the window a moment ago, and may have counted it.
			if counted, first := windowStart(v); counted {
				out[st.i] = HeartbeatWindow{HeartbeatAlreadyCounted, first}
			} else {
				out[st.i] = HeartbeatWindow{HeartbeatWatching, first}
			}
		}
	}
	return out, nil
}

// HeartbeatEach is Heartbeats with one round trip per heartbeat, the way a handler without
// batching would call it; it exists as the baseline of the batching benchmark.
func (c *Client) HeartbeatEach(ctx context.Context, rule ViewRule, now time.Time, hb Heartbeat) (HeartbeatResult, error) {
	res, err := c.Heartbeats(ctx, rule, now, []Heartbeat{hb})
	if err != nil {
		return 0, err
	}
	return res[0], nil
}

// Tally is one increment of a daily figure.
type Tally struct {
	VideoID string
	Day     int
	Column  string // views, likes, favourites, comments, danmaku
	Delta   int64
}

// TallyField is the pending-hash field of (video, day, column).
func TallyField(videoID string, day int, column string) string {
	return videoID + "|" + strconv.Itoa(day) + "|" + column
}

// ParseTallyField reads a field made by TallyField.
func ParseTallyField(f string) (videoID string, day int, column string, err error) {
	parts := strings.Split(f, "|")
	if len(parts) != 3 {
		return "", 0, "", fmt.Errorf("redis: malformed tally field %q", f)
	}
	day, err = strconv.Atoi(parts[1])
	if err != nil {
		return "", 0, "", fmt.Errorf("redis: malformed tally field %q", f)
	}
	return parts[0], day, parts[2], nil
}

// AddTallies adds increments to the pending hash in one pipelined round trip.
func (c *Client) AddTallies(ctx context.Context, ts ...Tally) error {
	if len(ts) == 0 {
		return nil
	}
	pipe := c.rdb.Pipeline()
	for _, t := range ts {
		pipe.HIncrBy(ctx, c.key(keyPending), TallyField(t.VideoID, t.Day, t.Column), t.Delta)
	}
	_, err := pipe.Exec(ctx)
	return wrap(err)
}

// rotateScript turns the pending hash into batch max(server time ms, last id + 1), so ids grow
// even if the server clock steps back, and records it among the open batches. It refuses (-1)
// while a batch is open: a row that took batch b is then sure to have taken every batch below
// b, which is what lets it refuse them.
var rotateScript = goredis.NewScript(nowMillisLua + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('ZCARD', KEYS[2]) > 0 then return -1 end
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
local id = math.max(now, last + 1)
redis.call('SET', KEYS[3], id)
redis.call('RENAME', KEYS[1], ARGV[1] .. id)
redis.call('ZADD', KEYS[2], id, id)
return id
`)

// ErrBatchOpen is RotateTallies' refusal while a batch is open: apply and drop the open batches
// (OpenBatches), then rotate again.
var ErrBatchOpen = errors.New("redis: a tally batch is still open")

// RotateTallies closes the pending hash as a new batch and returns its id (0 when nothing was
// pending). It returns ErrBatchOpen while an earlier batch is open, as when another flush
// rotated one since the caller listed them: a batch id only means something to the rows if
// each batch is applied everywhere before the next exists.
func (c *Client) RotateTallies(ctx context.Context) (int64, error) {
	id, err := rotateScript.Run(ctx, c.rdb, []string{c.key(keyPending), c.key(keyBatches), c.key(keyLastBatch)},
		c.key(prefixBatch)).Int64()
	if err == nil && id < 0 {
		return 0, ErrBatchOpen
	}
	return id, wrap(err)
}

// OpenBatches lists the batches rotated and not yet dropped, oldest first.
func (c *Client) OpenBatches(ctx context.Context) ([]int64, error) {
	ids, err := c.rdb.ZRange(ctx, c.key(keyBatches), 0, -1).Result()
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]int64, 0, len(ids))
	for _, s := range ids {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis: malformed batch id %q", s)
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// ReadBatch returns the tallies of batch id (field → sum), read in pages so a large batch
// does not block the server.
func (c *Client) ReadBatch(ctx context.Context, id int64) (map[string]int64, error) {
	key := c.key(prefixBatch + strconv.FormatInt(id, 10))
	out := map[string]int64{}
	var cursor uint64
	for {
		kv, next, err := c.rdb.HScan(ctx, key, cursor, "*", 1000).Result()
		if err != nil {
			return nil, wrap(err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			n, err := strconv.ParseInt(kv[i+1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("redis: batch %d field %q: %w", id, kv[i], err)
			}
			// HSCAN may return a field twice; the last value is as good as the first.
			out[kv[i]] = n
		}
		if next == 0 {
			return out, nil
		}
		cursor = next
	}
}

// DropBatch forgets batch id once it has been applied everywhere.
func (c *Client) DropBatch(ctx context.Context, id int64) error {
	s := strconv.FormatInt(id, 10)
	pipe := c.rdb.TxPipeline()
	pipe.Del(ctx, c.key(prefixBatch+s))
	pipe.ZRem(ctx, c.key(keyBatches), s)
	_, err := pipe.Exec(ctx)
	return wrap(err)
}

// IsNil reports a missing key or field (for callers of the lower-level helpers).
func IsNil(err error) bool { return errors.Is(err, goredis.Nil) }
