package tiering

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
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

// BenchmarkLibrary100k measures tiering's throughput on a synthetic library of 100,009
// objects (7,693 videos of 13 objects: source, four rungs with their playlists, master, cover,
// storyboard and track) against the OSS and Tablestore emulators over loopback HTTP, through
// the real SDKs. A third of the videos are hot, a third cold, a third untouched, all published
// 100 days ago, so the first run moves every source and most top rungs. It reports, in
// objects per second: the baseline (listing every video's objects and heading its source, the
// least any per-video pass must do), a dry run (planning), the run that applies the plan, an
// idle run over the applied library, and the report alone (which both applying runs include).
// Run it alone:
//
//	go test -run '^$' -bench Library100k -benchtime 1x ./shared/tiering/
func BenchmarkLibrary100k(b *testing.B) {
	const nVideos = 7693
	ctx := context.Background()
	bclock := &simClock{t: time.Date(2025, 9, 1, 12, 0, 0, 0, time.UTC)}
	creds := func() (runtime.Credentials, bool) {
		return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
	}
	otsDir, _ := os.MkdirTemp("", "tiering-bench-ots-")
	defer os.RemoveAll(otsDir)
	ots, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc", Now: bclock.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer ots.Close()
	otsSrv := httptest.NewServer(ots)
	defer otsSrv.Close()
	bdb, err := tablestore.New(tablestore.Config{Endpoint: otsSrv.URL, Instance: "vodfc", Credentials: creds})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bdb.Ensure(ctx, tablestore.Schema); err != nil {
		b.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "tiering-bench-oss-")
	defer os.RemoveAll(dir)
	bemu, err := ossemu.Open(ossemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", DataDir: dir, Buckets: []string{"media"}, NoSync: true, Now: bclock.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer bemu.Close()
	ossSrv := httptest.NewServer(bemu)
	defer ossSrv.Close()
	bmedia, err := oss.New(oss.Config{Endpoint: ossSrv.URL, Bucket: "media", Region: "cn-hangzhou", Credentials: creds})
	if err != nil {
		b.Fatal(err)
	}

	// The library: big objects at 64 KiB (the smallest size tiering moves), the rest small.
	setup := time.Now()
	published := bclock.Now().Add(-100 * Day)
	big, small := bytes.Repeat([]byte{'b'}, MinBilledSize), bytes.Repeat([]byte{'s'}, 600)
	vids := make([]*vodfc.Video, nVideos)
	store := videos.NewStore(bdb)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, 1)
	for i := range vids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fail := func(err error) {
				select {
				case errs <- err:
				default:
				}
			}
			v := &vodfc.Video{ID: vodfc.NewID(), OwnerID: "o", Title: "t", Visibility: vodfc.Public, Status: vodfc.StatusAwaitingUpload,
				CreatedAt: published, UpdatedAt: published}
			if err := store.Insert(ctx, v); err != nil {
				fail(err)
				return
			}
			if err := store.ClaimProcessing(ctx, v.ID, videos.Claim{Attempt: "a", Request: "r", At: published}); err != nil {
				fail(err)
				return
			}
			v.MediaPrefix = vodfc.VideoMediaPrefix(v.ID, "a")
			put := func(key string, body []byte) {
				if err := bmedia.Put(ctx, key, bytes.NewReader(body), oss.PutOptions{}); err != nil {
					fail(err)
				}
			}
			put(vodfc.SourceKey(v.ID), big)
			for _, h := range []int{1080, 720, 480, 360} {
				name := fmt.Sprintf("%dp", h)
				r := vodfc.Rendition{Height: h, Width: h * 16 / 9, Playlist: v.MediaPrefix + name + ".m3u8", Media: v.MediaPrefix + name + ".mp4"}
				body := small
				if h > 480 {
					body = big
				}
				put(r.Media, body)
				put(r.Playlist, small)
				v.Renditions = append(v.Renditions, r)
			}
			for _, name := range []string{"master.m3u8", "cover.jpg", "storyboard-0.jpg", "storyboard.vtt"} {
				put(v.MediaPrefix+name, small)
			}
			err := store.Publish(ctx, v.ID, "a", videos.Published{Width: 1920, Height: 1080, Renditions: v.Renditions,
				MediaPrefix: v.MediaPrefix, CoverKey: v.MediaPrefix + "cover.jpg"}, published)
			if err != nil {
				fail(err)
			}
			vids[i] = v
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	var writes []tablestore.Write
	for i, v := range vids {
		var perDay int64
		switch i % 3 {
		case 0:
			perDay = 20 // hot
		case 1:
			perDay = 0 // cold: a view every ten days
		default:
			continue // untouched
		}
		for d := range 30 {
			n := perDay
			if perDay == 0 {
				if d%10 != 0 {
					continue
				}
				n = 1
			}
			writes = append(writes, tablestore.Write{Table: tablestore.VideoStatsDaily.Name,
				Key: tablestore.K("video_id", v.ID, "day", int64(DayKey(bclock.Now().AddDate(0, 0, -d)))), Put: tablestore.Cols{"views": n}, Cond: tablestore.Always})
		}
	}
	if err := bdb.BatchWrite(ctx, writes); err != nil {
		b.Fatal(err)
	}
	objects := nVideos * 13
	b.Logf("library: %d videos, %d objects, %d stats rows, set up in %s", nVideos, objects, len(writes), time.Since(setup).Round(time.Second))

	// Baseline: list every video's objects and head its source, eight at a time.
	start := time.Now()
	sem = make(chan struct{}, 8)
	for _, v := range vids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			bmedia.List(ctx, v.MediaPrefix, func(oss.Object) error { return nil })
			bmedia.Head(ctx, vodfc.SourceKey(v.ID))
		})
	}
	wg.Wait()
	baseline := float64(objects) / time.Since(start).Seconds()

	r, err := New(Config{DB: bdb, Media: bmedia, Policy: DefaultPolicy(), Budget: time.Hour, Log: discard})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		measure := func(what string, opt RunOptions) *RunResult {
			start := time.Now()
			res, err := r.Run(ctx, bclock.Now(), opt)
			if err != nil {
				b.Fatal(err)
			}
			d := time.Since(start)
			if res.Objects != objects || !res.PassComplete {
				b.Fatalf("%s: %+v", what, res)
			}
			rate := float64(res.Objects) / d.Seconds()
			b.ReportMetric(rate, what+"-objects/s")
			b.Logf("%-7s %6.1fs  %7.0f objects/s (%.2f× the baseline's %.0f)  moves %d (%.0f/s)  planned %v",
				what, d.Seconds(), rate, rate/baseline, baseline, res.Moves, float64(res.Moves)/d.Seconds(), res.Planned)
			return res
		}
		measure("dry", RunOptions{DryRun: true})
		if res := measure("apply", RunOptions{}); res.Moves < nVideos {
			b.Fatalf("the first run moved only %d objects", res.Moves)
		}
		bclock.Advance(Day)
		if res := measure("idle", RunOptions{}); res.Moves != 0 {
			b.Fatalf("an idle run moved %d objects", res.Moves)
		}
		// The report alone (both applying runs include it): a listing of the whole bucket
		// and a scan of media_tiers.
		start := time.Now()
		rep, err := r.Build(ctx, bclock.Now(), nil)
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		b.ReportMetric(float64(rep.Total.Objects)/d.Seconds(), "report-objects/s")
		b.Logf("report  %6.1fs  %7.0f objects/s", d.Seconds(), float64(rep.Total.Objects)/d.Seconds())
	}
	b.ReportMetric(baseline, "baseline-objects/s")
}

var discard = slog.New(slog.DiscardHandler)
