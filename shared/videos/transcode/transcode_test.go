package transcode_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vodfc.dev/local/ossemu"
	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/ffmpeg"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
	"vodfc.dev/vodfc/videos/transcode"
)

// The processor runs real ffmpeg against the Tablestore and OSS emulators in-process. The
// event path through OSS triggers and fcemu, and the hostile uploads, are tested end to end in
// functions/transcode; here the claim rules, failures and crashes are driven directly.

var (
	store *videos.Store
	media *oss.Store
	tools ffmpeg.Tools
	clips = map[string][]byte{}
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	creds := func() (runtime.Credentials, bool) {
		return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
	}
	ots, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ots.Close()
	db, _ := tablestore.New(tablestore.Config{Endpoint: "http://ots.local", Instance: "vodfc", Transport: ots.Transport(), Credentials: creds})
	if _, err := db.Ensure(context.Background(), tablestore.Schema); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, _ := os.MkdirTemp("", "transcode-test-")
	defer os.RemoveAll(dir)
	emu, err := ossemu.Open(ossemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", DataDir: filepath.Join(dir, "oss"), Buckets: []string{"media"}, NoSync: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer emu.Close()
	srv := httptest.NewServer(emu)
	defer srv.Close()
	media, _ = oss.New(oss.Config{Endpoint: srv.URL, Bucket: "media", Region: "cn-hangzhou", Credentials: creds})
	store = videos.NewStore(db)
	if tools, err = ffmpeg.FromEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for name, src := range map[string]string{
		"small": "testsrc2=s=640x360:r=24:d=2",
		"long":  "testsrc2=s=1280x720:r=30:d=20",
	} {
		out := filepath.Join(dir, name+".mp4")
		b, err := exec.Command(tools.FFmpeg, "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i", src,
			"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", out).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n%s", name, err, b)
			return 1
		}
		clips[name], _ = os.ReadFile(out)
	}
	return m.Run()
}

func config(t *testing.T) transcode.Config {
	c := transcode.DefaultConfig()
	c.WorkDir = t.TempDir()
	c.ProgressInterval = 20 * time.Millisecond
	c.Encode.Preset = "ultrafast"
	return c
}

// uploaded stores a video awaiting its upload with clip already uploaded as its source.
func uploaded(t *testing.T, clip string) *vodfc.Video {
	t.Helper()
	now := time.Now()
	v := &vodfc.Video{ID: vodfc.NewID(), OwnerID: vodfc.NewID(), Title: clip, Visibility: vodfc.Public, Status: vodfc.StatusAwaitingUpload,
		ContentType: "video/mp4", DeclaredSize: int64(len(clips[clip])), CreatedAt: now, UpdatedAt: now}
	if err := store.Insert(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	if err := media.Put(context.Background(), vodfc.SourceKey(v.ID), bytes.NewReader(clips[clip]), oss.PutOptions{ContentType: "video/mp4"}); err != nil {
		t.Fatal(err)
	}
	return v
}

func event(v *vodfc.Video) runtime.ObjectEvent {
	return runtime.ObjectEvent{Bucket: "media", Key: vodfc.SourceKey(v.ID), Size: v.DeclaredSize, Name: "ObjectCreated:PutObject", Time: time.Now()}
}

// delivery is the context of one delivery of an event by FC.
func delivery(request string, retry int) context.Context {
	return runtime.WithInvocation(context.Background(), &runtime.Invocation{RequestID: request, FunctionName: "vodfc-transcode", RetryCount: retry})
}

func reload(t *testing.T, id string) *vodfc.Video {
	t.Helper()
	v, err := store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func objects(t *testing.T, prefix string) []string {
	t.Helper()
	var keys []string
	if err := media.List(context.Background(), prefix, func(o oss.Object) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

func sourceExists(t *testing.T, id string) bool {
	ok, err := media.Exists(context.Background(), vodfc.SourceKey(id))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestPublishesTheLadderUnderTheAttemptsPrefix(t *testing.T) {
	c := config(t)
	p := transcode.New(store, media, tools, c)
	v := uploaded(t, "small")
	if err := p.Handle(delivery("req", 0), event(v)); err != nil {
		t.Fatal(err)
	}
	got := reload(t, v.ID)
	if got.Status != vodfc.StatusReady || got.Progress != 100 || got.AttemptID == "" || got.MediaPrefix != vodfc.VideoMediaPrefix(v.ID, got.AttemptID) {
		t.Fatalf("published %+v", got)
	}
	r := got.Renditions[0]
	if len(got.Renditions) != 1 || r.Height != 360 || r.Playlist != got.MediaPrefix+"360p.m3u8" || r.Media != got.MediaPrefix+"360p.mp4" || r.Size == 0 || !strings.HasPrefix(r.Codecs, "avc1.") {
		t.Fatalf("renditions %+v", got.Renditions)
	}
	for _, k := range []string{r.Playlist, r.Media, got.CoverKey, got.StoryboardVTT, got.StoryboardKey, got.MediaPrefix + "master.m3u8"} {
		o, err := media.Head(context.Background(), k)
		if err != nil || o.Meta["video"] != v.ID || o.Meta["attempt"] != got.AttemptID {
			t.Errorf("%s: %+v %v", k, o, err)
		}
	}
	if !sourceExists(t, v.ID) {
		t.Error("the source was deleted though KeepSource is set")
	}
	if entries, _ := os.ReadDir(c.WorkDir); len(entries) != 1 {
		t.Errorf("work dir entries %v", entries)
	} else if left, _ := os.ReadDir(filepath.Join(c.WorkDir, entries[0].Name())); len(left) != 0 {
		t.Errorf("the attempt left files in the work directory: %v", left)
	}
	// A redelivery of the event afterwards changes nothing, and keeps the source.
	if err := p.Handle(delivery("req-2", 0), event(v)); err != nil {
		t.Fatal(err)
	}
	if again := reload(t, v.ID); again.AttemptID != got.AttemptID || !sourceExists(t, v.ID) {
		t.Fatalf("a redelivered event changed a published video: %+v", again)
	}
}

func TestSourceIsDeletedAfterPublishingWhenNotKept(t *testing.T) {
	c := config(t)
	c.KeepSource = false
	v := uploaded(t, "small")
	if err := transcode.New(store, media, tools, c).Handle(delivery("req", 0), event(v)); err != nil {
		t.Fatal(err)
	}
	if reload(t, v.ID).Status != vodfc.StatusReady || sourceExists(t, v.ID) {
		t.Fatal("want ready without its source")
	}
}

func TestAFreshClaimOfAnotherDeliveryIsLeftAlone(t *testing.T) {
	v := uploaded(t, "small")
	if err := store.ClaimProcessing(context.Background(), v.ID, videos.Claim{Attempt: "busy", Request: "req-1", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	p := transcode.New(store, media, tools, config(t))
	for _, ctx := range []context.Context{delivery("req-2", 0), delivery("req-2", 1)} {
		if err := p.Handle(ctx, event(v)); err != nil {
			t.Fatal(err)
		}
	}
	if got := reload(t, v.ID); got.Status != vodfc.StatusProcessing || got.AttemptID != "busy" {
		t.Fatalf("another delivery touched the claim: %+v", got)
	}
	if keys := objects(t, vodfc.MediaPrefix+v.ID+"/"); len(keys) != 0 {
		t.Fatalf("media written: %v", keys)
	}
}

// TestTheRedeliveryOfADeadInvocationTakesOverAtOnce: FC redelivers a failed event under the
// same request id; the claim its first run left behind belongs to a dead attempt.
func TestTheRedeliveryOfADeadInvocationTakesOverAtOnce(t *testing.T) {
	v := uploaded(t, "small")
	if err := store.ClaimProcessing(context.Background(), v.ID, videos.Claim{Attempt: "dead", Request: "req-1", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := transcode.New(store, media, tools, config(t)).Handle(delivery("req-1", 1), event(v)); err != nil {
		t.Fatal(err)
	}
	got := reload(t, v.ID)
	if got.Status != vodfc.StatusReady || got.AttemptID == "dead" {
		t.Fatalf("%+v", got)
	}
	// The dead attempt, had it come back, could not publish over it.
	if err := store.Publish(context.Background(), v.ID, "dead", videos.Published{MediaPrefix: "media/x/dead/", Renditions: got.Renditions}, time.Now()); err != videos.ErrClaimLost {
		t.Fatalf("the old attempt published: %v", err)
	}
}

func TestAClaimOlderThanTheFunctionTimeoutIsTakenOver(t *testing.T) {
	c := config(t)
	v := uploaded(t, "small")
	if err := store.ClaimProcessing(context.Background(), v.ID, videos.Claim{Attempt: "stale", Request: "req-1", At: time.Now().Add(-c.ClaimTTL - time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := transcode.New(store, media, tools, c).Handle(delivery("req-9", 0), event(v)); err != nil {
		t.Fatal(err)
	}
	if got := reload(t, v.ID); got.Status != vodfc.StatusReady || got.AttemptID == "stale" {
		t.Fatalf("%+v", got)
	}
}

// TestAFailureARetryMayCureReleasesTheClaim: an encoder that cannot run fails the delivery
// (FC retries it) and reopens the video; on the last delivery the video fails for good.
func TestAFailureARetryMayCureReleasesTheClaim(t *testing.T) {
	broken := tools
	broken.FFmpeg = filepath.Join(t.TempDir(), "no-ffmpeg")
	c := config(t)
	p := transcode.New(store, media, broken, c)
	v := uploaded(t, "small")
	if err := p.Handle(delivery("req", 0), event(v)); err == nil {
		t.Fatal("a delivery that could not encode succeeded")
	}
	got := reload(t, v.ID)
	if got.Status != vodfc.StatusAwaitingUpload || got.AttemptID != "" || !sourceExists(t, v.ID) {
		t.Fatalf("after a curable failure: %+v, source %v", got, sourceExists(t, v.ID))
	}
	if err := p.Handle(delivery("req", c.MaxRetries), event(v)); err != nil {
		t.Fatalf("the last delivery: %v", err)
	}
	got = reload(t, v.ID)
	if got.Status != vodfc.StatusFailed || got.FailureCode != transcode.CodeProcessingFailed || sourceExists(t, v.ID) {
		t.Fatalf("after the last delivery: %+v, source %v", got, sourceExists(t, v.ID))
	}
	if keys := objects(t, vodfc.MediaPrefix+v.ID+"/"); len(keys) != 0 {
		t.Fatalf("media left: %v", keys)
	}
}

// logged captures what the processor logs (through slog's default logger) while f runs, one
// decoded JSON record per entry.
func logged(t *testing.T, f func()) []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	defer slog.SetDefault(prev)
	f()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

func TestUploadsWithoutAVideoAreDeletedAndLogged(t *testing.T) {
	p := transcode.New(store, media, tools, config(t))
	ctx := context.Background()
	for _, key := range []string{"uploads/notes.txt", "uploads/" + vodfc.NewID() + "/source", "uploads/" + vodfc.NewID() + "/other", "uploads/../x/source"} {
		if err := media.Put(ctx, key, strings.NewReader("x"), oss.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		recs := logged(t, func() {
			if err := p.Handle(delivery("r", 0), runtime.ObjectEvent{Bucket: "media", Key: key, Size: 1, Name: "ObjectCreated:PutObject"}); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
		})
		if ok, _ := media.Exists(ctx, key); ok {
			t.Errorf("%s was kept", key)
		}
		// Operators see which object went and why.
		if !slices.ContainsFunc(recs, func(r map[string]any) bool {
			msg, _ := r["msg"].(string)
			return r["level"] == "WARN" && r["key"] == key && strings.HasPrefix(msg, "deleting an upload")
		}) {
			t.Errorf("%s: no warning names the deleted object: %v", key, recs)
		}
	}
}

// TestProgressIsWrittenAtMostOncePerInterval: during the encode the row's progress changes
// no more often than ProgressInterval allows. With an interval longer than the encode, the
// only values ever written are the stage marks (5 after the probe, 95 after the encode, 100
// on publish) and the encoder's first report; a processor writing every ffmpeg report shows
// values in between.
func TestProgressIsWrittenAtMostOncePerInterval(t *testing.T) {
	c := config(t)
	c.ProgressInterval = time.Hour
	c.Encode.ProgressInterval = 100 * time.Millisecond // ffmpeg reports ten times a second
	v := uploaded(t, "long")
	done := make(chan error, 1)
	go func() { done <- transcode.New(store, media, tools, c).Handle(delivery("req", 0), event(v)) }()
	seen := map[int]bool{}
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		case <-time.After(2 * time.Millisecond):
		}
		if got := reload(t, v.ID); got.Status == vodfc.StatusProcessing {
			seen[got.Progress] = true
		}
	}
	if reload(t, v.ID).Status != vodfc.StatusReady {
		t.Fatal("not published")
	}
	var between []int
	for p := range seen {
		if p > 5 && p < 95 {
			between = append(between, p)
		}
	}
	// The first report (at the start of the encode) may land a little above 5; nothing else.
	if len(between) > 1 {
		t.Fatalf("progress written more than once in the interval: %v", seen)
	}
	if !seen[5] && len(between) == 0 {
		t.Fatalf("never saw the encode's progress: %v", seen)
	}
}

func TestRenditionsThatWouldNotFitTheDiskAreRefused(t *testing.T) {
	c := config(t)
	// Room for the source twice over, not for its renditions: refused before any encode.
	c.MaxDisk = int64(len(clips["long"]))*2 + 1<<20
	v := uploaded(t, "long")
	if err := transcode.New(store, media, tools, c).Handle(delivery("req", 0), event(v)); err != nil {
		t.Fatal(err)
	}
	if got := reload(t, v.ID); got.Status != vodfc.StatusFailed || got.FailureCode != ffmpeg.CodeTooLarge || sourceExists(t, v.ID) {
		t.Fatalf("%+v", got)
	}
}

// TestDeletingTheVideoWhileItIsEncodedStopsTheAttempt: the owner deletes the video mid-encode;
// the next progress write finds the claim gone, ffmpeg is stopped, and nothing is left.
func TestDeletingTheVideoWhileItIsEncodedStopsTheAttempt(t *testing.T) {
	c := config(t)
	c.Encode.Preset = "veryfast"
	v := uploaded(t, "long")
	done := make(chan error, 1)
	go func() { done <- transcode.New(store, media, tools, c).Handle(delivery("req", 0), event(v)) }()
	deadline := time.Now().Add(time.Minute)
	for {
		got := reload(t, v.ID)
		if got.Status == vodfc.StatusProcessing && got.Progress > 5 {
			if err := store.SoftDelete(context.Background(), got, time.Now()); err != nil {
				t.Fatal(err)
			}
			break
		}
		if got.Status != vodfc.StatusProcessing && got.Status != vodfc.StatusAwaitingUpload || time.Now().After(deadline) {
			t.Fatalf("never saw the encode running: %+v", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the attempt did not stop")
	}
	if got := reload(t, v.ID); got.Status != vodfc.StatusDeleted || got.MediaPrefix != "" {
		t.Fatalf("%+v", got)
	}
	if keys := objects(t, vodfc.MediaPrefix+v.ID+"/"); len(keys) != 0 {
		t.Fatalf("media left: %v", keys)
	}
}

func TestCleanStaleRemovesOnlyDeadProcessesDirectories(t *testing.T) {
	dir := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(dir, fmt.Sprintf("vodfc-transcode-%d", os.Getpid()))
	gone := filepath.Join(dir, fmt.Sprintf("vodfc-transcode-%d", dead.Process.Pid))
	other := filepath.Join(dir, "something-else")
	for _, d := range []string{mine, gone, other} {
		if err := os.MkdirAll(filepath.Join(d, "attempt"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n, err := transcode.CleanStale(dir)
	if err != nil || n != 1 {
		t.Fatalf("removed %d: %v", n, err)
	}
	for d, want := range map[string]bool{mine: true, gone: false, other: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", d, err == nil, want)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	c, err := transcode.ConfigFromEnv(func(string) string { return "" })
	if err != nil || c.Timeout >= c.ClaimTTL || !c.KeepSource || c.Limits.MaxDuration != 2*time.Hour {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	_, err = transcode.ConfigFromEnv(func(k string) string {
		return map[string]string{"MEDIA_OUTPUT_PREFIX": "uploads/out/", "TRANSCODE_TIMEOUT": "4h", "TRANSCODE_KEEP_SOURCE": "maybe"}[k]
	})
	for _, want := range []string{"MEDIA_OUTPUT_PREFIX", "TRANSCODE_TIMEOUT", "TRANSCODE_KEEP_SOURCE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s: %v", want, err)
		}
	}
}

// TestAnEncodeOverTheTimeLimitIsRefusedAsTooLong: the transcoder's own time limit is far above
// what a video within the limits needs, so running out of it refuses the video instead of
// spending the same time again on every retry.
func TestAnEncodeOverTheTimeLimitIsRefusedAsTooLong(t *testing.T) {
	c := config(t)
	c.Timeout = 300 * time.Millisecond
	v := uploaded(t, "long")
	if err := transcode.New(store, media, tools, c).Handle(delivery("req", 0), event(v)); err != nil {
		t.Fatal(err)
	}
	if got := reload(t, v.ID); got.Status != vodfc.StatusFailed || got.FailureCode != ffmpeg.CodeTooLong || sourceExists(t, v.ID) {
		t.Fatalf("%+v", got)
	}
	if keys := objects(t, vodfc.MediaPrefix+v.ID+"/"); len(keys) != 0 {
		t.Fatalf("media left: %v", keys)
	}
}
