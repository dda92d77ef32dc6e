package cleanup

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

// The rules run against the OSS and Tablestore emulators through the real SDKs, on a
// simulation clock both follow. Each test works on its own videos; the sweeps see the whole
// bucket, so expectations are about those videos' objects.

var (
	db    *tablestore.Client
	media *oss.Store
	store *videos.Store
	clock = &simClock{t: time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)}
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

func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
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
	dir, _ := os.MkdirTemp("", "cleanup-test-")
	defer os.RemoveAll(dir)
	emu, err := ossemu.Open(ossemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", DataDir: dir, Buckets: []string{"media"},
		NoSync: true, Now: clock.Now})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer emu.Close()
	media, _ = oss.New(oss.Config{Endpoint: "http://oss.local", Bucket: "media", Region: "cn-hangzhou", Credentials: creds,
		HTTPClient: emu.HTTPClient()})
	store = videos.NewStore(db)
	return m.Run()
}

func cleaner(t *testing.T, out io.Writer) *Cleaner {
	t.Helper()
	if out == nil {
		out = io.Discard
	}
	c, err := New(Config{DB: db, Media: media, Rules: DefaultRules(), Log: slog.New(slog.NewJSONHandler(out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func runOnce(t *testing.T, c *Cleaner) *Report {
	t.Helper()
	rep, err := c.Run(context.Background(), clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func put(t *testing.T, key string, size int) {
	t.Helper()
	if err := media.Put(context.Background(), key, bytes.NewReader(bytes.Repeat([]byte{'x'}, size)), oss.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, key string) bool {
	t.Helper()
	ok, err := media.Exists(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func keysUnder(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	if err := media.List(context.Background(), prefix, func(o oss.Object) error { out = append(out, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// newVideo stores a video in status st at the clock's now; a ready one gets a published
// attempt with a few outputs and its source.
func newVideo(t *testing.T, st vodfc.VideoStatus) *vodfc.Video {
	t.Helper()
	now := clock.Now()
	ctx := context.Background()
	v := &vodfc.Video{ID: vodfc.NewID(), OwnerID: "owner-" + vodfc.NewID(), Title: "t", Visibility: vodfc.Public,
		Status: vodfc.StatusAwaitingUpload, CreatedAt: now, UpdatedAt: now}
	if err := store.Insert(ctx, v); err != nil {
		t.Fatal(err)
	}
	if st != vodfc.StatusReady {
		return v
	}
	// Published the way transcode does it: claim, outputs, publish.
	attempt := vodfc.NewSortableID(now)
	if err := store.ClaimProcessing(ctx, v.ID, videos.Claim{Attempt: attempt, Request: "r", At: now}); err != nil {
		t.Fatal(err)
	}
	pre := vodfc.VideoMediaPrefix(v.ID, attempt)
	for _, name := range []string{"master.m3u8", "720p.m3u8", "720p.mp4", "cover.jpg"} {
		put(t, pre+name, 2000)
	}
	put(t, vodfc.SourceKey(v.ID), 5000)
	err := store.Publish(ctx, v.ID, attempt, videos.Published{Width: 1280, Height: 720, MediaPrefix: pre, CoverKey: pre + "cover.jpg",
		Renditions: []vodfc.Rendition{{Height: 720, Width: 1280, Playlist: pre + "720p.m3u8", Media: pre + "720p.mp4"}}}, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func status(t *testing.T, id string) (vodfc.VideoStatus, string) {
	t.Helper()
	v, err := store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return v.Status, v.FailureCode
}

func TestMultipartUploadsOlderThanADayAreAborted(t *testing.T) {
	ctx := context.Background()
	old1, _ := media.StartMultipart(ctx, "uploads/"+vodfc.NewID()+"/source", "video/mp4")
	old2, _ := media.StartMultipart(ctx, "uploads/"+vodfc.NewID()+"/source", "video/mp4")
	clock.Advance(20 * time.Hour)
	young, _ := media.StartMultipart(ctx, "uploads/"+vodfc.NewID()+"/source", "video/mp4")
	clock.Advance(5 * time.Hour)
	var l strings.Builder
	rep := runOnce(t, cleaner(t, &l))
	if rep.AbortedUploads < 2 {
		t.Fatalf("aborted %d", rep.AbortedUploads)
	}
	left := map[string]bool{}
	media.ListUploads(ctx, "", func(u oss.Upload) error { left[u.ID] = true; return nil })
	if left[old1] || left[old2] || !left[young] {
		t.Fatalf("uploads left %v (old %s %s, young %s)", left, old1, old2, young)
	}
	if !strings.Contains(l.String(), `"msg":"cleanup: stale multipart uploads aborted","uploads":`) {
		t.Fatal("the rule did not log its count")
	}
	if rep := runOnce(t, cleaner(t, nil)); rep.AbortedUploads != 0 {
		t.Fatalf("a second run aborted %d", rep.AbortedUploads)
	}
}

func TestVideosStuckAwaitingUploadExpireWithTheirPartialSources(t *testing.T) {
	ctx := context.Background()
	// A multipart upload half done, a single PUT whose video never got processed, nothing at
	// all, and one created later.
	multi := newVideo(t, vodfc.StatusAwaitingUpload)
	uploadID, err := media.StartMultipart(ctx, vodfc.SourceKey(multi.ID), "video/mp4")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SetSession(ctx, multi.ID, "", videos.Session{UploadID: uploadID, PartSize: 5 << 20, PartCount: 3}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	single := newVideo(t, vodfc.StatusAwaitingUpload)
	put(t, vodfc.SourceKey(single.ID), 3000)
	empty := newVideo(t, vodfc.StatusAwaitingUpload)
	ready := newVideo(t, vodfc.StatusReady)
	clock.Advance(10 * time.Hour)
	young := newVideo(t, vodfc.StatusAwaitingUpload)
	clock.Advance(15 * time.Hour)

	rep := runOnce(t, cleaner(t, nil))
	if rep.ExpiredVideos < 3 {
		t.Fatalf("expired %d", rep.ExpiredVideos)
	}
	for _, v := range []*vodfc.Video{multi, single, empty} {
		if st, code := status(t, v.ID); st != vodfc.StatusFailed || code != videos.FailureUploadExpired {
			t.Errorf("%s: %s %s", v.ID, st, code)
		}
	}
	if st, _ := status(t, young.ID); st != vodfc.StatusAwaitingUpload {
		t.Errorf("the young video is %s", st)
	}
	if st, _ := status(t, ready.ID); st != vodfc.StatusReady || !exists(t, vodfc.SourceKey(ready.ID)) {
		t.Errorf("the ready video is %s", st)
	}
	if exists(t, vodfc.SourceKey(single.ID)) {
		t.Error("the expired video's source is still there")
	}
	if _, err := media.ListParts(ctx, vodfc.SourceKey(multi.ID), uploadID); !oss.IsNotFound(err) {
		t.Errorf("the expired video's multipart upload is still open: %v", err)
	}
	// A file arriving now can no longer be processed.
	err = store.ClaimProcessing(ctx, single.ID, videos.Claim{Attempt: "late", Request: "r", At: clock.Now()})
	if err != videos.ErrClaimLost {
		t.Fatalf("claiming an expired video: %v", err)
	}
	if rep := runOnce(t, cleaner(t, nil)); rep.ExpiredVideos != 0 {
		t.Fatalf("a second run expired %d", rep.ExpiredVideos)
	}
}

func TestDeletedVideosLoseTheirMediaAfterTheGracePeriod(t *testing.T) {
	ctx := context.Background()
	v := newVideo(t, vodfc.StatusReady)
	keep := newVideo(t, vodfc.StatusReady)
	if err := store.SoftDelete(ctx, v, clock.Now()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(6 * 24 * time.Hour)
	runOnce(t, cleaner(t, nil))
	if len(keysUnder(t, v.MediaPrefix)) != 4 || !exists(t, vodfc.SourceKey(v.ID)) {
		t.Fatal("media went before the grace period was over")
	}
	clock.Advance(25 * time.Hour)
	var l strings.Builder
	rep := runOnce(t, cleaner(t, &l))
	if n := len(keysUnder(t, "media/"+v.ID+"/")); n != 0 || exists(t, vodfc.SourceKey(v.ID)) {
		t.Fatalf("%d media objects and the source left after the grace period", n)
	}
	if rep.Media.Deleted < 4 || rep.Uploads.Deleted < 1 || !rep.Media.Complete {
		t.Fatalf("report %+v", rep)
	}
	for _, want := range []string{
		fmt.Sprintf(`"msg":"cleanup: objects removed","prefix":"media/%s/`, v.ID), `"objects":4,"reason":"deleted"`,
		fmt.Sprintf(`"msg":"cleanup: swept","prefix":"media/","listed":%d,"deleted_videos_objects":%d`, rep.Media.Listed, rep.Media.Deleted),
	} {
		if !strings.Contains(l.String(), want) {
			t.Errorf("the run did not log %s:\n%s", want, l.String())
		}
	}
	if len(keysUnder(t, keep.MediaPrefix)) != 4 || !exists(t, vodfc.SourceKey(keep.ID)) {
		t.Fatal("a live video lost media")
	}
	if rep := runOnce(t, cleaner(t, nil)); rep.Media.Deleted != 0 || rep.Uploads.Deleted != 0 {
		t.Fatalf("a second run deleted %+v", rep)
	}
}

func TestOlderAttemptsOfARepublishedVideoAndOrphansGo(t *testing.T) {
	ctx := context.Background()
	v := newVideo(t, vodfc.StatusReady)
	older := vodfc.VideoMediaPrefix(v.ID, "00older")
	for _, name := range []string{"master.m3u8", "720p.mp4"} {
		put(t, older+name, 1000)
	}
	// A video being processed: its attempt at work stays, whatever its age; a taken-over
	// attempt goes.
	p := newVideo(t, vodfc.StatusAwaitingUpload)
	if err := store.ClaimProcessing(ctx, p.ID, videos.Claim{Attempt: "01dead", Request: "r1", At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	put(t, vodfc.VideoMediaPrefix(p.ID, "01dead")+"720p.mp4", 1000)
	if err := store.ClaimProcessing(ctx, p.ID, videos.Claim{Attempt: "02live", Request: "r2", At: clock.Now(), Replaces: "01dead"}); err != nil {
		t.Fatal(err)
	}
	put(t, vodfc.VideoMediaPrefix(p.ID, "02live")+"720p.mp4", 1000)
	// Objects of a video that does not exist.
	ghost := vodfc.NewID()
	put(t, vodfc.VideoMediaPrefix(ghost, "x")+"720p.mp4", 1000)
	put(t, vodfc.SourceKey(ghost), 1000)

	clock.Advance(2 * time.Hour)
	young := vodfc.VideoMediaPrefix(v.ID, "01young")
	put(t, young+"720p.mp4", 1000) // an attempt an hour old: maybe still being written
	runOnce(t, cleaner(t, nil))
	if len(keysUnder(t, older)) != 2 || len(keysUnder(t, "media/"+ghost+"/")) != 1 {
		t.Fatal("objects went before AttemptGrace")
	}

	clock.Advance(23 * time.Hour)
	rep := runOnce(t, cleaner(t, nil))
	if len(keysUnder(t, older)) != 0 || len(keysUnder(t, vodfc.VideoMediaPrefix(p.ID, "01dead"))) != 0 {
		t.Fatal("older attempts are still there")
	}
	if len(keysUnder(t, "media/"+ghost+"/")) != 0 || exists(t, vodfc.SourceKey(ghost)) {
		t.Fatal("orphans are still there")
	}
	if len(keysUnder(t, v.MediaPrefix)) != 4 || len(keysUnder(t, vodfc.VideoMediaPrefix(p.ID, "02live"))) != 1 || len(keysUnder(t, young)) != 1 {
		t.Fatal("the published attempt, the attempt at work or a young attempt lost objects")
	}
	if rep.Media.OldAttempts < 3 || rep.Media.Orphans < 1 || rep.Uploads.Orphans < 1 {
		t.Fatalf("report %+v", rep)
	}
	if rep := runOnce(t, cleaner(t, nil)); rep.Media.OldAttempts != 0 || rep.Media.Orphans != 0 || rep.Uploads.Orphans != 0 {
		t.Fatalf("a second run removed more: %+v", rep)
	}
}

func TestTheSweepResumesWhereTheLastRunStopped(t *testing.T) {
	ctx := context.Background()
	ghost := vodfc.NewID()
	for i := range 2500 {
		put(t, fmt.Sprintf("%s%05d.bin", vodfc.VideoMediaPrefix(ghost, "x"), i), 10)
	}
	clock.Advance(25 * time.Hour)
	c, err := New(Config{DB: db, Media: media, Rules: DefaultRules(), Budget: time.Nanosecond, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// A budget spent after the first batch: each run sweeps 1000 keys of media/.
	var runs int
	for runs = 1; runs < 10; runs++ {
		rep, err := c.Run(ctx, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Media.Complete {
			break
		}
		if rep.Media.Cursor == "" || rep.Media.Listed != 1000 {
			t.Fatalf("run %d: %+v", runs, rep.Media)
		}
	}
	if n := len(keysUnder(t, "media/"+ghost+"/")); n != 0 || runs < 3 {
		t.Fatalf("%d objects left after %d runs", n, runs)
	}
}
