package tiering

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"vodfc.dev/local/ossemu"
	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// The runner is tested against the OSS and Tablestore emulators through the real SDKs, on a
// simulation clock both emulators follow, so months pass in a call.

var (
	db    *tablestore.Client
	media *oss.Store
	emu   *ossemu.Server
	clock = &simClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
)

type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *simClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	creds := func() (runtime.Credentials, bool) {
		return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
	}
	ots, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc", Now: clock.Now})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ots.Close()
	db, _ = tablestore.New(tablestore.Config{Endpoint: "http://ots.local", Instance: "vodfc", Transport: ots.Transport(), Credentials: creds})
	if _, err := db.Ensure(context.Background(), tablestore.Schema); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, _ := os.MkdirTemp("", "tiering-test-")
	defer os.RemoveAll(dir)
	emu, err = ossemu.Open(ossemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", DataDir: dir, Buckets: []string{"media"},
		NoSync: true, Now: clock.Now})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer emu.Close()
	media, _ = oss.New(oss.Config{Endpoint: "http://oss.local", Bucket: "media", Region: "cn-hangzhou", Credentials: creds,
		HTTPClient: emu.HTTPClient()})
	return m.Run()
}

// logs collects a runner's log lines, so tests can count what it says it did.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), `"msg":"`+msg+`"`)
}

func newRunner(t *testing.T, out io.Writer, tweak func(*Config)) *Runner {
	t.Helper()
	if out == nil {
		out = io.Discard
	}
	cfg := Config{DB: db, Media: media, Policy: DefaultPolicy(), Log: slog.New(slog.NewJSONHandler(out, nil))}
	if tweak != nil {
		tweak(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rungSizes are the synthetic ladder: heights and media sizes in the proportions of a real
// ladder's bitrates (6000k, 3000k, 1200k, 500k), scaled down.
var rungSizes = []struct {
	height int
	size   int
}{{1080, 600 << 10}, {720, 300 << 10}, {480, 120 << 10}, {360, 70 << 10}}

// publish stores a ready video with its ladder, cover, storyboard and source at the clock's
// now, and returns it.
func publish(t *testing.T) *vodfc.Video {
	t.Helper()
	ctx := context.Background()
	now := clock.Now()
	v := &vodfc.Video{ID: vodfc.NewID(), OwnerID: "owner", Title: "t", Visibility: vodfc.Public, Status: vodfc.StatusReady,
		Width: 1920, Height: 1080, Duration: 10 * time.Minute, CreatedAt: now, UpdatedAt: now, PublishedAt: now}
	attempt := vodfc.NewSortableID(now)
	v.MediaPrefix = vodfc.VideoMediaPrefix(v.ID, attempt)
	v.AttemptID = attempt
	put := func(key string, size int) {
		if err := media.Put(ctx, key, bytes.NewReader(bytes.Repeat([]byte{'v'}, size)), oss.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put(vodfc.SourceKey(v.ID), 1<<20)
	for _, r := range rungSizes {
		name := fmt.Sprintf("%dp", r.height)
		rd := vodfc.Rendition{Height: r.height, Width: r.height * 16 / 9, Bandwidth: r.size * 10, Codecs: "avc1.64001f,mp4a.40.2",
			Playlist: v.MediaPrefix + name + ".m3u8", Media: v.MediaPrefix + name + ".mp4", Size: int64(r.size)}
		put(rd.Playlist, 600)
		put(rd.Media, r.size)
		v.Renditions = append(v.Renditions, rd)
	}
	put(v.MediaPrefix+"master.m3u8", 500)
	v.CoverKey = v.MediaPrefix + "cover.jpg"
	put(v.CoverKey, 30<<10)
	v.StoryboardKey = v.MediaPrefix + "storyboard-0.jpg"
	put(v.StoryboardKey, 90<<10) // above 64 KiB: pinned, not merely small
	v.StoryboardVTT = v.MediaPrefix + "storyboard.vtt"
	put(v.StoryboardVTT, 2<<10)
	if err := videos.NewStore(db).Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	return v
}

// views records n views of video on the clock's day.
func views(t *testing.T, video string, n int64) {
	t.Helper()
	_, err := db.Update(context.Background(), tablestore.VideoStatsDaily.Name,
		tablestore.K("video_id", video, "day", int64(DayKey(clock.Now()))),
		tablestore.Change{Incr: map[string]int64{"views": n}}, tablestore.Always)
	if err != nil {
		t.Fatal(err)
	}
}

// classes reads the class of every object of v (source and current attempt) from OSS.
func classes(t *testing.T, v *vodfc.Video) map[string]oss.Object {
	t.Helper()
	out := map[string]oss.Object{}
	ctx := context.Background()
	if err := media.List(ctx, v.MediaPrefix, func(o oss.Object) error { out[o.Key] = o; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := media.List(ctx, vodfc.UploadsPrefix+v.ID+"/", func(o oss.Object) error { out[o.Key] = o; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func class(t *testing.T, key string) string {
	t.Helper()
	o, err := media.Head(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return o.Class
}

// runAt runs r at the clock's now and fails the test on an error.
func runAt(t *testing.T, r *Runner, opt RunOptions) *RunResult {
	t.Helper()
	res, err := r.Run(context.Background(), clock.Now(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// resetLibrary removes every video row and tiering row, so each test walks only its own
// videos (objects of other tests stay in the bucket, unreferenced).
func resetLibrary(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, tb := range []tablestore.Table{tablestore.Videos, tablestore.MediaTiers, tablestore.TieringRuns} {
		start, end := tablestore.Key{}, tablestore.Key{}
		for _, k := range tb.Key {
			start = append(start, tablestore.KeyCol{Name: k.Name, Value: tablestore.Min})
			end = append(end, tablestore.KeyCol{Name: k.Name, Value: tablestore.Max})
		}
		var keys []tablestore.Key
		if err := db.Scan(ctx, tb.Name, tablestore.Range{Start: start, End: end}, func(r *tablestore.Row) error {
			keys = append(keys, r.Key)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := db.Delete(ctx, tb.Name, k, tablestore.Always); err != nil {
				t.Fatal(err)
			}
		}
	}
}
