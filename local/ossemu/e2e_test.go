package ossemu_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/aliyun/fc-runtime-go-sdk/events"

	"vodfc.dev/local/fcemu"
	"vodfc.dev/local/manifest"
	"vodfc.dev/local/ossemu"
)

// The end-to-end test runs the OSS triggers of testdata/s.yaml for real: uploads reach a go1
// function (testdata/ossfn) through fcemu, which runs it as a child process; the function reads
// the object its event names back from the emulator with the credentials fcemu handed it.

var (
	ossfnOnce sync.Once
	ossfnPath string
	ossfnErr  error
)

func buildOSSFn(t *testing.T) string {
	t.Helper()
	ossfnOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ossemu-e2e-")
		if err != nil {
			ossfnErr = err
			return
		}
		ossfnPath = filepath.Join(dir, "main")
		out, err := exec.Command("go", "build", "-o", ossfnPath, "./testdata/ossfn").CombinedOutput()
		if err != nil {
			ossfnErr = &buildError{err, out}
		}
	})
	if ossfnErr != nil {
		t.Fatal(ossfnErr)
	}
	return ossfnPath
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string {
	return "building testdata/ossfn: " + e.err.Error() + "\n" + string(e.out)
}

// triggersOf turns a manifest's OSS triggers into the emulator's, as the local cloud does.
func triggersOf(m *manifest.Manifest) []ossemu.Trigger {
	var out []ossemu.Trigger
	for _, f := range m.Functions {
		for _, t := range f.Triggers {
			if t.Type == manifest.TriggerOSS {
				out = append(out, ossemu.Trigger{Function: f.Name, Name: t.Name, Bucket: t.Bucket,
					Events: t.Events, Prefix: t.Prefix, Suffix: t.Suffix})
			}
		}
	}
	return out
}

// seen is one line the function appended to its log (testdata/ossfn's Seen).
type seen struct {
	Function  string          `json:"-"`
	EventName string          `json:"eventName"`
	Key       string          `json:"key"`
	Size      int             `json:"size"`
	ETag      string          `json:"eTag"`
	BodyMD5   string          `json:"bodyMD5"`
	Event     json.RawMessage `json:"event"`
}

func readSeen(t *testing.T, logs map[string]string) []seen {
	t.Helper()
	var out []seen
	for fn, path := range logs {
		f, err := os.Open(path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var s seen
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				t.Fatalf("%s log line %q: %v", fn, sc.Text(), err)
			}
			s.Function = fn
			out = append(out, s)
		}
		f.Close()
	}
	return out
}

func waitSeen(t *testing.T, logs map[string]string, what string, pred func([]seen) bool) []seen {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // hang guard: cold starts on a loaded machine
	for {
		s := readSeen(t, logs)
		if pred(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; the functions saw %+v", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func find(s []seen, function, key string) []seen {
	var out []seen
	for _, x := range s {
		if x.Function == function && x.Key == key {
			out = append(out, x)
		}
	}
	return out
}

func TestEndToEndThroughFcemu(t *testing.T) {
	bin := buildOSSFn(t)
	m, err := manifest.Load("testdata/s.yaml", manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const ak, secret = "fclocal-access-key-id", "fclocal-access-key-secret"
	// The emulator first, with its triggers but no invoker: fcemu needs its endpoint.
	emu, err := ossemu.Open(ossemu.Options{AccessKeyID: ak, AccessKeySecret: secret, DataDir: t.TempDir(),
		Region: "cn-hangzhou", AccountID: manifest.LocalAccountID, Buckets: []string{"e2e-media"},
		Triggers: triggersOf(m), NoSync: true, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	srv := httptest.NewServer(emu)
	defer srv.Close()

	logs := map[string]string{}
	var fns []fcemu.Function
	for _, f := range m.Functions {
		logs[f.Name] = filepath.Join(t.TempDir(), "events.log")
		env := map[string]string{}
		for k, v := range f.Env {
			env[k] = v
		}
		env["OSS_ENDPOINT"] = srv.URL
		env["EVENT_LOG"] = logs[f.Name]
		fns = append(fns, fcemu.Function{Spec: f, Executable: bin, TmpDir: t.TempDir(), Env: env})
	}
	fc, err := fcemu.New(fcemu.Options{Functions: fns, AccountID: manifest.LocalAccountID,
		Credentials:  fcemu.Credentials{AccessKeyID: ak, AccessKeySecret: secret},
		RetryBackoff: func(n int) time.Duration { return time.Duration(n) * 50 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		fc.Close(ctx)
	}()

	c, err := oss.New(srv.URL, ak, secret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("e2e-media")
	// An upload made before fcemu is connected waits on disk and is delivered afterwards.
	early := randBytes(1234)
	put(t, b, "uploads/v0/source.mp4", early)
	emu.SetInvoker(fc)

	// A presigned browser-style PUT under the trigger's prefix.
	src := randBytes(300_000)
	key := "uploads/v1/source 源+1.mp4"
	u, _ := b.SignURL(key, oss.HTTPPut, 60, oss.ContentType("video/mp4"))
	if st, _, body := httpDo(t, "PUT", u, bytes.NewReader(src), http.Header{"Content-Type": {"video/mp4"}}); st != 200 {
		t.Fatalf("presigned PUT: %d %s", st, body)
	}
	got := waitSeen(t, logs, "the PutObject event", func(s []seen) bool {
		return len(find(s, "media-transcode", key)) == 1 && len(find(s, "media-transcode", "uploads/v0/source.mp4")) == 1
	})
	ev := find(got, "media-transcode", key)[0]
	if ev.EventName != "ObjectCreated:PutObject" || ev.Size != len(src) || ev.ETag != md5hex(src) || ev.BodyMD5 != md5hex(src) {
		t.Fatalf("transcode saw %+v", ev)
	}
	var doc events.OssEvent
	if err := json.Unmarshal(ev.Event, &doc); err != nil {
		t.Fatal(err)
	}
	r := doc.Events[0]
	if *r.Oss.Bucket.Arn != "acs:oss:cn-hangzhou:"+manifest.LocalAccountID+":e2e-media" || *r.Region != "cn-hangzhou" ||
		*r.Oss.Object.ObjectMeta.MimeType != "video/mp4" || *r.EventSource != "acs:oss" {
		t.Fatalf("event document: %s", ev.Event)
	}
	if e0 := find(got, "media-transcode", "uploads/v0/source.mp4")[0]; e0.BodyMD5 != md5hex(early) {
		t.Fatalf("early upload: %+v", e0)
	}

	// A multipart upload fires CompleteMultipartUpload (and no part events for this trigger).
	mpKey := "uploads/v2/source.mkv"
	imur, err := b.InitiateMultipartUpload(mpKey, oss.ContentType("video/x-matroska"))
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := randBytes(100<<10), randBytes(777)
	u1, _ := b.UploadPart(imur, bytes.NewReader(p1), int64(len(p1)), 1)
	u2, _ := b.UploadPart(imur, bytes.NewReader(p2), int64(len(p2)), 2)
	if _, err := b.CompleteMultipartUpload(imur, []oss.UploadPart{u1, u2}); err != nil {
		t.Fatal(err)
	}
	// An image goes to thumbs, whose ObjectCreated:* also sees the parts.
	imgKey := "images/poster.jpg"
	img := randBytes(2000)
	put(t, b, imgKey, img, oss.ContentType("image/jpeg"))
	got = waitSeen(t, logs, "the multipart and image events", func(s []seen) bool {
		return len(find(s, "media-transcode", mpKey)) == 1 && len(find(s, "thumbs", imgKey)) == 1
	})
	mp := find(got, "media-transcode", mpKey)[0]
	if mp.EventName != "ObjectCreated:CompleteMultipartUpload" || mp.Size != len(p1)+len(p2) || mp.BodyMD5 != md5hex(append(p1, p2...)) {
		t.Fatalf("multipart event %+v", mp)
	}
	if th := find(got, "thumbs", imgKey)[0]; th.EventName != "ObjectCreated:PutObject" || th.BodyMD5 != md5hex(img) {
		t.Fatalf("thumbs saw %+v", th)
	}

	// Uploads under other prefixes or suffixes fire nothing: no event is even queued.
	put(t, b, "other/x.mp4", []byte("x"))
	put(t, b, "images/poster.png", []byte("x"))
	put(t, b, "media/v1/720p.m4s", []byte("x"))
	if n := emu.PendingEvents(); n != 0 {
		t.Fatalf("%d events queued for unmatched uploads", n)
	}
	// fcemu ran each function once per matched event, nothing else, and all succeeded.
	deadline := time.Now().Add(time.Minute)
	for {
		inv := fc.Invocations("media-transcode", 100)
		th := fc.Invocations("thumbs", 100)
		done := len(inv) == 3 && len(th) == 1
		for _, i := range append(inv, th...) {
			done = done && i.Status != fcemu.StatusRunning
		}
		if done {
			for _, i := range append(inv, th...) {
				if i.Status != fcemu.StatusSucceeded || i.RetryCount != 0 || (i.Trigger != "uploads" && i.Trigger != "images") {
					t.Fatalf("invocation %+v", i)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("invocations: transcode %+v, thumbs %+v", inv, th)
		}
		time.Sleep(50 * time.Millisecond)
	}
	all := readSeen(t, logs)
	var keys []string
	for _, s := range all {
		keys = append(keys, s.Function+" "+s.Key)
	}
	slices.Sort(keys)
	want := []string{"media-transcode " + key, "media-transcode uploads/v0/source.mp4", "media-transcode " + mpKey, "thumbs " + imgKey}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("the functions saw %q, want %q", keys, want)
	}
}
