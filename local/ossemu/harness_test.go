package ossemu_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"vodfc.dev/local/ossemu"
)

// The contract tests drive the real aliyun-oss-go-sdk against a target: by default the emulator
// served over loopback (real TCP, so net/http, browsers-style requests and ffmpeg work too), or
// real OSS when OSS_TEST_ENDPOINT, OSS_TEST_ACCESS_KEY_ID, OSS_TEST_ACCESS_KEY_SECRET and
// OSS_TEST_BUCKET are set (OSS_TEST_REGION defaults to cn-hangzhou). Tests that need what only
// the emulator has (a movable clock, restarts, creating buckets) skip against real OSS.

const (
	testAK     = "test-access-key-id"
	testSecret = "test-access-key-secret"
	testRegion = "cn-hangzhou"
)

// clock is a movable clock: real time plus an offset, so fast-forwarding days is one call.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// shift moves c by d for the rest of the test.
func (c *clock) shift(t *testing.T, d time.Duration) {
	c.Advance(d)
	t.Cleanup(func() { c.Advance(-d) })
}

// target is what the contract tests talk to.
type target struct {
	real     bool
	endpoint string
	ak       string
	secret   string
	region   string
	bucket   string // the bucket tests work in
	prefix   string // key prefix unique to this run, so real buckets can be shared
	emu      *ossemu.Server
	sim      *clock // simulation clock (emulator only)
	wall     *clock // clock signatures are checked against (emulator only)
	dataDir  string
}

var (
	shared     *target
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild()
		return
	}
	code := m.Run()
	if shared != nil && shared.emu != nil {
		shared.emu.Close()
		os.RemoveAll(shared.dataDir)
	}
	if shared != nil && shared.real {
		shared.cleanReal()
	}
	if ossfnPath != "" {
		os.RemoveAll(filepath.Dir(ossfnPath))
	}
	os.Exit(code)
}

// TestAgainstRealOSS only reports which target the contract tests used.
func TestAgainstRealOSS(t *testing.T) {
	if os.Getenv("OSS_TEST_ENDPOINT") == "" {
		t.Skip("OSS_TEST_ENDPOINT, OSS_TEST_ACCESS_KEY_ID, OSS_TEST_ACCESS_KEY_SECRET and OSS_TEST_BUCKET are not set: the contract tests ran against the emulator only")
	}
	t.Logf("contract tests ran against %s, bucket %s, prefix %s", tgt(t).endpoint, tgt(t).bucket, tgt(t).prefix)
}

// cleanReal removes what the run left under its prefix in a real bucket.
func (tg *target) cleanReal() {
	c, err := oss.New(tg.endpoint, tg.ak, tg.secret, oss.Region(tg.region))
	if err != nil {
		return
	}
	b, err := c.Bucket(tg.bucket)
	if err != nil {
		return
	}
	for token := ""; ; {
		opts := []oss.Option{oss.Prefix(tg.prefix), oss.MaxKeys(1000)}
		if token != "" {
			opts = append(opts, oss.ContinuationToken(token))
		}
		res, err := b.ListObjectsV2(opts...)
		if err != nil {
			return
		}
		var keys []string
		for _, o := range res.Objects {
			keys = append(keys, o.Key)
		}
		if len(keys) > 0 {
			b.DeleteObjects(keys, oss.DeleteObjectsQuiet(true))
		}
		if !res.IsTruncated {
			break
		}
		token = res.NextContinuationToken
	}
	if lu, err := b.ListMultipartUploads(oss.Prefix(tg.prefix)); err == nil {
		for _, u := range lu.Uploads {
			b.AbortMultipartUpload(oss.InitiateMultipartUploadResult{Bucket: tg.bucket, Key: u.Key, UploadID: u.UploadID})
		}
	}
}

// tgt returns the shared target, starting the emulator on first use.
func tgt(t *testing.T) *target {
	t.Helper()
	sharedOnce.Do(func() {
		if ep := os.Getenv("OSS_TEST_ENDPOINT"); ep != "" {
			region := os.Getenv("OSS_TEST_REGION")
			if region == "" {
				region = testRegion
			}
			shared = &target{real: true, endpoint: ep, ak: os.Getenv("OSS_TEST_ACCESS_KEY_ID"),
				secret: os.Getenv("OSS_TEST_ACCESS_KEY_SECRET"), region: region, bucket: os.Getenv("OSS_TEST_BUCKET"),
				prefix: "ossemu-contract/" + randHex(6) + "/"}
			return
		}
		dir, err := os.MkdirTemp("", "ossemu-contract-")
		if err != nil {
			panic(err)
		}
		sim, wall := &clock{}, &clock{}
		emu, err := ossemu.Open(ossemu.Options{
			AccessKeyID: testAK, AccessKeySecret: testSecret, DataDir: dir, Region: testRegion,
			Buckets: []string{"contract"}, Now: sim.Now, WallClock: wall.Now, NoSync: true,
			Logger: testLogger(),
		})
		if err != nil {
			panic(err)
		}
		srv := httptest.NewServer(emu)
		shared = &target{endpoint: srv.URL, ak: testAK, secret: testSecret, region: testRegion, bucket: "contract",
			prefix: "run/", emu: emu, sim: sim, wall: wall, dataDir: dir}
	})
	if shared.real && (shared.ak == "" || shared.secret == "" || shared.bucket == "") {
		t.Fatal("OSS_TEST_ENDPOINT is set: OSS_TEST_ACCESS_KEY_ID, OSS_TEST_ACCESS_KEY_SECRET and OSS_TEST_BUCKET are needed too")
	}
	return shared
}

func testLogger() *slog.Logger {
	if os.Getenv("OSSEMU_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// needEmulator skips a test that relies on what only the emulator offers.
func (tg *target) needEmulator(t *testing.T, why string) {
	t.Helper()
	if tg.real {
		t.Skipf("against real OSS: skipped, needs the emulator (%s)", why)
	}
}

// bucketURL is where a browser form posts: path style for an IP endpoint, the bucket's own
// host name otherwise (real OSS).
func (tg *target) bucketURL() string {
	u, err := url.Parse(tg.endpoint)
	if err != nil || net.ParseIP(u.Hostname()) != nil || u.Hostname() == "localhost" {
		return tg.endpoint + "/" + tg.bucket
	}
	return u.Scheme + "://" + tg.bucket + "." + u.Host
}

// key returns a key under this run's prefix.
func (tg *target) key(name string) string { return tg.prefix + name }

func (tg *target) client(t *testing.T, opts ...oss.ClientOption) *oss.Client {
	t.Helper()
	c, err := oss.New(tg.endpoint, tg.ak, tg.secret, append([]oss.ClientOption{oss.Region(tg.region)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (tg *target) bkt(t *testing.T, opts ...oss.ClientOption) *oss.Bucket {
	t.Helper()
	b, err := tg.client(t, opts...).Bucket(tg.bucket)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// v4 and v2 are client options for the other signature versions.
func v4() oss.ClientOption { return oss.AuthVersion(oss.AuthV4) }
func v2() oss.ClientOption { return oss.AuthVersion(oss.AuthV2) }

// newBucket makes a fresh bucket on the emulator for tests that change bucket settings.
func (tg *target) newBucket(t *testing.T, opts ...oss.Option) (*oss.Bucket, string) {
	t.Helper()
	tg.needEmulator(t, "creates buckets")
	name := "t-" + strings.ToLower(randHex(8))
	c := tg.client(t)
	if err := c.CreateBucket(name, opts...); err != nil {
		t.Fatal(err)
	}
	b, err := c.Bucket(name)
	if err != nil {
		t.Fatal(err)
	}
	return b, name
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// svcErr asserts err is an OSS ServiceError with status and code.
func svcErr(t *testing.T, err error, status int, code string) oss.ServiceError {
	t.Helper()
	var se oss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("want ServiceError %d %s, got %T %v", status, code, err, err)
	}
	if se.StatusCode != status || se.Code != code {
		t.Fatalf("want %d %s, got %d %s (%s)", status, code, se.StatusCode, se.Code, se.Message)
	}
	if se.RequestID == "" {
		t.Fatalf("error %s carries no request id", code)
	}
	return se
}

func getAll(t *testing.T, b *oss.Bucket, key string, opts ...oss.Option) []byte {
	t.Helper()
	rc, err := b.GetObject(key, opts...)
	if err != nil {
		t.Fatalf("GetObject %q: %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data
}

func put(t *testing.T, b *oss.Bucket, key string, data []byte, opts ...oss.Option) {
	t.Helper()
	if err := b.PutObject(key, bytes.NewReader(data), opts...); err != nil {
		t.Fatalf("PutObject %q: %v", key, err)
	}
}

// httpDo sends a plain request (as a browser or ffmpeg would) and returns status, headers, body.
func httpDo(t *testing.T, method, url string, body io.Reader, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// recorder is an Invoker that records what it is handed.
type recorder struct {
	mu     sync.Mutex
	calls  []invocation
	notify chan struct{}
	fail   atomic.Int32 // fail this many calls first
}

type invocation struct {
	Function, Trigger string
	Payload           []byte
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) InvokeAsync(_ context.Context, function, trigger string, payload []byte) error {
	if r.fail.Load() > 0 {
		r.fail.Add(-1)
		return errors.New("recorder: told to fail")
	}
	r.mu.Lock()
	r.calls = append(r.calls, invocation{function, trigger, append([]byte(nil), payload...)})
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits (hang guard only) until pred holds over the recorded calls.
func (r *recorder) waitFor(t *testing.T, what string, pred func([]invocation) bool) []invocation {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		calls := append([]invocation(nil), r.calls...)
		r.mu.Unlock()
		if pred(calls) {
			return calls
		}
		select {
		case <-r.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %d invocations", what, len(calls))
		}
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}
