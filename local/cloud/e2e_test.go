package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"vodfc.dev/local/fcemu"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// The cloud under test, started once for the package from testdata/s.yaml.
var (
	cl       *Cloud
	cloudLog = &Log{}
)

func TestMain(m *testing.M) {
	os.Exit(RunTests(m, testOptions(nil), func(c *Cloud) error { cl = c; return nil }))
}

func testOptions(functions []string) Options {
	opts := Ephemeral("testdata/s.yaml", functions...)
	opts.Log = cloudLog
	// Setup runs between the services and the first request: the table the test function
	// writes is created here, as the product's tables will be.
	opts.Setup = func(ctx context.Context, c *Cloud) error {
		client, err := tablestore.New(tablestore.Config{Endpoint: c.OTSEndpoint, Instance: c.OTSInstance,
			Credentials: func() (runtime.Credentials, bool) {
				return runtime.Credentials{AccessKeyID: c.Credentials.AccessKeyID, AccessKeySecret: c.Credentials.AccessKeySecret}, true
			}})
		if err != nil {
			return err
		}
		_, err = client.Ensure(ctx, []tablestore.Table{{Name: "e2e_things", Key: []tablestore.KeyDef{{Name: "id", Type: tablestore.String}}}})
		return err
	}
	return opts
}

type echo struct {
	Instance    string            `json:"instance"`
	RequestID   string            `json:"requestId"`
	Initialized bool              `json:"initialized"`
	Inflight    int               `json:"inflight"`
	Now         string            `json:"now"`
	RuntimeNow  time.Time         `json:"runtimeNow"`
	Path        string            `json:"path"`
	Method      string            `json:"method"`
	Bytes       int               `json:"bytes"`
	Env         map[string]string `json:"env"`
}

func call(t *testing.T, method, path string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, cl.GatewayURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func getEcho(t *testing.T, path string) echo {
	t.Helper()
	resp, body := call(t, "GET", path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	var e echo
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("GET %s: %s: %v", path, body, err)
	}
	return e
}

func stats(t *testing.T, fn string) fcemu.Stats {
	t.Helper()
	s, err := cl.FC.Stats(fn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func invocation(fn, requestID string) (fcemu.Invocation, bool) {
	for _, inv := range cl.FC.Invocations(fn, 0) {
		if inv.RequestID == requestID {
			return inv, true
		}
	}
	return fcemu.Invocation{}, false
}

// eventually polls cond; the deadline is a hang guard, not a timing assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// web functions, by runtime, and their route prefix.
var webs = []struct{ runtime, function, prefix, slowFn, slowPrefix string }{
	{"go1", "web-go1", "/api/v1/go1/", "slow-go1", "/api/v1/slow/go1/"},
	{"custom", "web-custom", "/api/v1/custom/", "slow-custom", "/api/v1/slow/custom/"},
}

func TestHTTPColdStartThenWarmReuse(t *testing.T) {
	for _, w := range webs {
		t.Run(w.runtime, func(t *testing.T) {
			// Cold unless an earlier run (go test -count=2) left instances warm.
			wantCold := stats(t, w.function).Instances == 0
			first := getEcho(t, w.prefix+"echo")
			second := getEcho(t, w.prefix+"echo")
			if first.Path != w.prefix+"echo" || first.Method != "GET" {
				t.Errorf("function saw %s %s", first.Method, first.Path)
			}
			if !first.Initialized {
				t.Error("the initializer did not run before the first request")
			}
			if wantCold && second.Instance != first.Instance {
				t.Errorf("warm request ran on %s, not on %s", second.Instance, first.Instance)
			}
			a, ok1 := invocation(w.function, first.RequestID)
			b, ok2 := invocation(w.function, second.RequestID)
			if !ok1 || !ok2 {
				t.Fatalf("request ids %s %s not in the invocation log", first.RequestID, second.RequestID)
			}
			if a.ColdStart != wantCold || wantCold && a.ColdStartMS <= 0 || b.ColdStart {
				t.Errorf("cold start not recorded as such: first %+v second %+v", a, b)
			}
			if a.Status != fcemu.StatusSucceeded || a.StatusCode != 200 || a.Trigger != "http" {
				t.Errorf("record %+v", a)
			}
			if first.Env["FCLOCAL"] != "1" || first.Env["REDIS_ADDR"] != cl.RedisAddr {
				t.Errorf("local overrides not applied: %v (redis %s)", first.Env, cl.RedisAddr)
			}
			if first.Env["FCLOCAL_CLOCK_URL"] != cl.GatewayURL+"/_local/clock" {
				t.Errorf("FCLOCAL_CLOCK_URL = %q", first.Env["FCLOCAL_CLOCK_URL"])
			}
			if _, err := time.Parse(time.RFC3339Nano, first.Now); err != nil {
				t.Errorf("x-fclocal-now %q: %v", first.Now, err)
			}
		})
	}
	if e := getEcho(t, "/api/v1/custom/echo"); e.Env["SMTP_ADDR"] != cl.SMTPAddr {
		t.Errorf("SMTP_ADDR %q, want the local sink %s", e.Env["SMTP_ADDR"], cl.SMTPAddr)
	}
	if e := getEcho(t, "/api/v1/go1/echo"); e.Env["MEDIA_BUCKET"] != "e2e-media" || e.Env["FC_FUNCTION_MEMORY_SIZE"] != "256" {
		t.Errorf("s.yaml environment not passed: %v", e.Env)
	}
	// The same function through its own trigger URL.
	if e := getEcho(t, "/_fn/web-go1/direct/echo"); e.Path != "/direct/echo" {
		t.Errorf("direct trigger URL: function saw %s", e.Path)
	}
}

// TestFunctionsReachTheEmulators writes and reads Tablestore from inside both runtimes: the
// local cloud pointed OTS_ENDPOINT at its emulator and handed the function the local
// credentials with the invocation.
func TestFunctionsReachTheEmulators(t *testing.T) {
	for _, w := range webs {
		t.Run(w.runtime, func(t *testing.T) {
			resp, body := call(t, "GET", w.prefix+"ots?id="+w.runtime+"&value=stored-by-"+w.runtime, nil)
			if resp.StatusCode != 200 || string(body) != "stored-by-"+w.runtime {
				t.Fatalf("Tablestore round trip: %d %s", resp.StatusCode, body)
			}
		})
	}
	resp, body := call(t, "POST", "/_local/ots/faults", strings.NewReader(`{"rate":1,"codes":["OTSServerBusy"],"actions":["PutRow"]}`))
	if resp.StatusCode != 200 {
		t.Fatalf("faults: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, "GET", "/api/v1/custom/ots?id=x&value=y", nil)
	call(t, "POST", "/_local/ots/faults", strings.NewReader(`{"rate":0}`))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "OTSServerBusy") {
		t.Errorf("with every PutRow failing, the function should fail with OTSServerBusy: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, "POST", "/_local/ots/faults", strings.NewReader(`{"rate":2}`))
	problem(t, resp, body, http.StatusBadRequest, "BadRate")
}

func problem(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("got %d %q %s, want %d problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), body, status)
	}
	var p struct {
		Type, Title, Detail, Code string
		Status                    int
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Status != status || p.Code != code || p.Detail == "" || p.Title == "" {
		t.Fatalf("problem %s: %+v (%v), want code %s", body, p, err, code)
	}
}

func TestGatewayRefusesBadRequests(t *testing.T) {
	resp, body := call(t, "GET", "/api/v2/nothing", nil)
	problem(t, resp, body, http.StatusNotFound, "RouteNotFound")

	resp, body = call(t, "DELETE", "/api/v1/go1/echo", nil)
	problem(t, resp, body, http.StatusMethodNotAllowed, "MethodNotAllowed")
	if resp.Header.Get("Allow") != "GET, POST" {
		t.Errorf("Allow %q", resp.Header.Get("Allow"))
	}
	// The exact route allows GET only, though the wildcard beside it allows POST.
	resp, body = call(t, "POST", "/api/v1/custom/echo", nil)
	problem(t, resp, body, http.StatusMethodNotAllowed, "MethodNotAllowed")

	before := len(cl.FC.Invocations("web-custom", 0))
	big := bytes.Repeat([]byte("x"), 32<<20+1)
	resp, body = call(t, "POST", "/api/v1/custom/upload", bytes.NewReader(big))
	problem(t, resp, body, http.StatusRequestEntityTooLarge, "PayloadTooLarge")
	resp, body = call(t, "POST", "/api/v1/go1/upload", io.MultiReader(bytes.NewReader(big))) // chunked
	problem(t, resp, body, http.StatusRequestEntityTooLarge, "PayloadTooLarge")
	if after := len(cl.FC.Invocations("web-custom", 0)); after != before {
		t.Errorf("an oversize request reached the function")
	}
	// Exactly the limit is fine.
	resp, body = call(t, "POST", "/api/v1/custom/upload", bytes.NewReader(big[:32<<20]))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), fmt.Sprintf(`"bytes":%d`, 32<<20)) {
		t.Errorf("32 MB body: %d %.200s", resp.StatusCode, body)
	}
}

// holdAll sends n requests that wait inside the function until released, waits until all n
// are running, releases them and returns what they saw.
func holdAll(t *testing.T, prefix, fn string, n int) []echo {
	t.Helper()
	release := filepath.Join(t.TempDir(), "release")
	out := make([]echo, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(cl.GatewayURL + prefix + "hold?file=" + release)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			json.NewDecoder(resp.Body).Decode(&out[i])
		}()
	}
	eventually(t, fmt.Sprintf("%d requests inside %s", n, fn), func() bool { return stats(t, fn).Busy == n && running(fn) == n })
	os.WriteFile(release, nil, 0o644)
	wg.Wait()
	return out
}

func running(fn string) int {
	n := 0
	for _, inv := range cl.FC.Invocations(fn, 0) {
		if inv.Status == fcemu.StatusRunning && inv.Instance != "" {
			n++
		}
	}
	return n
}

func TestConcurrencyLimit(t *testing.T) {
	t.Run("custom instanceConcurrency 2", func(t *testing.T) {
		per := map[string]int{}
		for _, e := range holdAll(t, "/api/v1/custom/", "web-custom", 4) {
			per[e.Instance]++
			if e.Inflight > 2 {
				t.Errorf("an instance served %d requests at once", e.Inflight)
			}
		}
		if len(per) != 2 {
			t.Errorf("4 concurrent requests at instanceConcurrency 2 ran on %d instances: %v", len(per), per)
		}
	})
	t.Run("go1 one per instance", func(t *testing.T) {
		seen := map[string]bool{}
		for _, e := range holdAll(t, "/api/v1/go1/", "web-go1", 3) {
			seen[e.Instance] = true
			if e.Inflight != 1 {
				t.Errorf("a go1 instance served %d requests at once", e.Inflight)
			}
		}
		if len(seen) != 3 {
			t.Errorf("3 concurrent go1 requests ran on %d instances", len(seen))
		}
	})
}

func TestTimeoutKillsTheInstance(t *testing.T) {
	for _, w := range webs {
		t.Run(w.runtime, func(t *testing.T) {
			before := getEcho(t, w.slowPrefix+"echo")
			killed := stats(t, w.slowFn).Killed
			resp, body := call(t, "GET", w.slowPrefix+"sleep?ms=60000", nil)
			problem(t, resp, body, http.StatusGatewayTimeout, fcemu.ErrorTimeout)
			if s := stats(t, w.slowFn); s.Killed != killed+1 {
				t.Errorf("instance not killed: %+v", s)
			}
			inv, _ := invocation(w.slowFn, resp.Header.Get("x-fc-request-id"))
			if inv.Status != fcemu.StatusTimeout {
				t.Errorf("timed-out request recorded as %+v", inv)
			}
			after := getEcho(t, w.slowPrefix+"echo")
			if after.Instance == before.Instance {
				t.Error("the killed instance served again")
			}
		})
	}
}

func TestCrashedInstanceIsReplaced(t *testing.T) {
	// The slow-* functions serve one request at a time in these tests, so the request after
	// the crash finds no warm instance and must start a fresh one.
	for _, w := range webs {
		t.Run(w.runtime, func(t *testing.T) {
			before := getEcho(t, w.slowPrefix+"echo")
			crashed := stats(t, w.slowFn).Crashed
			resp, body := call(t, "GET", w.slowPrefix+"crash", nil)
			problem(t, resp, body, http.StatusBadGateway, fcemu.ErrorProcessExited)
			if s := stats(t, w.slowFn); s.Crashed != crashed+1 || s.Instances != 0 {
				t.Errorf("crash not accounted: %+v", s)
			}
			after := getEcho(t, w.slowPrefix+"echo")
			if after.Instance == before.Instance {
				t.Fatal("the crashed instance served again")
			}
			if inv, _ := invocation(w.slowFn, after.RequestID); !inv.ColdStart {
				t.Error("the replacement was not a cold start")
			}
			crash, _ := invocation(w.slowFn, resp.Header.Get("x-fc-request-id"))
			if !strings.Contains(crash.Log, "crashing now") || crash.Status != fcemu.StatusFailed {
				t.Errorf("crash record: %+v", crash)
			}
		})
	}
}

func ossEvent(bucket, key string) []byte {
	b, _ := json.Marshal(map[string]any{"events": []any{map[string]any{
		"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime": time.Now().UTC().Format(time.RFC3339),
		"eventVersion": "1.0", "region": "cn-hangzhou",
		"oss": map[string]any{"bucket": map[string]any{"name": bucket, "arn": "acs:oss:cn-hangzhou:1:" + bucket},
			"object": map[string]any{"key": key, "size": 1234, "eTag": "abc"}},
	}}})
	return b
}

// asyncAttempts waits until the async event that logged marker has finished every attempt and
// returns the attempts, oldest first.
func asyncAttempts(t *testing.T, fn, marker string, want int) []fcemu.Invocation {
	t.Helper()
	var got []fcemu.Invocation
	eventually(t, fmt.Sprintf("%d attempts of %s in %s", want, marker, fn), func() bool {
		got = got[:0]
		for _, inv := range cl.FC.Invocations(fn, 0) {
			if strings.Contains(inv.Log, marker) && inv.Status != fcemu.StatusRunning {
				got = append([]fcemu.Invocation{inv}, got...)
			}
		}
		return len(got) >= want
	})
	return got
}

// runTag keeps the keys of one run of a test apart from an earlier run's (go test -count=2),
// whose invocations are still in the log.
func runTag() string { return strconv.FormatInt(time.Now().UnixNano(), 10) }

// countLogged counts the finished invocations of fn whose output contains marker.
func countLogged(fn, marker string) int {
	n := 0
	for _, inv := range cl.FC.Invocations(fn, 0) {
		if strings.Contains(inv.Log, marker) && inv.Status != fcemu.StatusRunning {
			n++
		}
	}
	return n
}

func TestOSSEventsWithRetriesAndOnFailure(t *testing.T) {
	cases := []struct {
		runtime, function, trigger, prefix, suffix string
		retries                                    int
	}{
		{"custom", "media-custom", "uploads", "uploads/", "", 2},
		{"go1", "media-go1", "inbox", "inbox/", ".json", 1},
	}
	tag := runTag()
	for _, c := range cases {
		t.Run(c.runtime, func(t *testing.T) {
			ok := c.prefix + c.runtime + "-" + tag + "-ok" + c.suffix
			if err := cl.FC.InvokeAsync(context.Background(), c.function, c.trigger, ossEvent("e2e-media", ok)); err != nil {
				t.Fatal(err)
			}
			att := asyncAttempts(t, c.function, "e2e-media/"+ok, 1)
			if att[0].Status != fcemu.StatusSucceeded || att[0].Kind != fcemu.KindAsync || att[0].Trigger != c.trigger ||
				!strings.Contains(att[0].Log, "object ObjectCreated:PutObject e2e-media/"+ok+" retry=0") {
				t.Fatalf("OSS event: %+v", att[0])
			}

			bad := c.prefix + c.runtime + "-" + tag + "-fail" + c.suffix
			if err := cl.FC.InvokeAsync(context.Background(), c.function, c.trigger, ossEvent("e2e-media", bad)); err != nil {
				t.Fatal(err)
			}
			att = asyncAttempts(t, c.function, "e2e-media/"+bad, c.retries+1)
			if len(att) != c.retries+1 {
				t.Fatalf("%d attempts, want 1 + maxAsyncRetryAttempts %d", len(att), c.retries)
			}
			for i, a := range att {
				if a.RetryCount != i || a.Status != fcemu.StatusFailed || !strings.Contains(a.Log, fmt.Sprintf("retry=%d", i)) {
					t.Errorf("attempt %d: retry %d status %s log %q", i, a.RetryCount, a.Status, a.Log)
				}
				if a.RequestID != att[0].RequestID {
					t.Error("a retry got a new request id")
				}
			}
			var rec struct {
				RequestContext struct {
					RequestID              string `json:"requestId"`
					Condition              string `json:"condition"`
					ApproximateInvokeCount int    `json:"approximateInvokeCount"`
					FunctionArn            string `json:"functionArn"`
				} `json:"requestContext"`
				RequestPayload  string `json:"requestPayload"`
				ResponsePayload string `json:"responsePayload"`
			}
			eventually(t, "the onFailure destination", func() bool {
				for _, inv := range cl.FC.Invocations("sink", 0) {
					_, line, found := strings.Cut(inv.Log, "destination ")
					if !found || !strings.Contains(line, att[0].RequestID) {
						continue
					}
					line, _, _ = strings.Cut(line, "\n")
					return json.Unmarshal([]byte(line), &rec) == nil && inv.Trigger == fcemu.TriggerOnFailure
				}
				return false
			})
			if rec.RequestContext.ApproximateInvokeCount != c.retries+1 || rec.RequestContext.Condition != fcemu.ErrorUnhandled ||
				!strings.HasSuffix(rec.RequestContext.FunctionArn, "functions/"+c.function) ||
				!strings.Contains(rec.RequestPayload, bad) || !strings.Contains(rec.ResponsePayload, "cannot process "+bad) {
				t.Errorf("destination record %+v", rec)
			}
		})
	}
}

// TestUploadFiresTheOSSTrigger uploads through the real OSS SDK to the emulator: the OSS
// triggers of s.yaml match bucket, event, prefix and suffix, and the event reaches the function
// asynchronously.
func TestUploadFiresTheOSSTrigger(t *testing.T) {
	client, err := oss.New(cl.OSSEndpoint, cl.Credentials.AccessKeyID, cl.Credentials.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := client.Bucket("e2e-media")
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string) {
		t.Helper()
		if err := bucket.PutObject(key, strings.NewReader("content of "+key)); err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
	}
	tag := runTag()
	put("uploads/sdk/" + tag + "/video one.mp4")
	att := asyncAttempts(t, "media-custom", "e2e-media/uploads/sdk/"+tag+"/video one.mp4", 1)
	if att[0].Status != fcemu.StatusSucceeded || att[0].Trigger != "uploads" ||
		!strings.Contains(att[0].Log, "object ObjectCreated:PutObject e2e-media/uploads/sdk/"+tag+"/video one.mp4 retry=0") {
		t.Fatalf("upload event: %+v", att[0])
	}

	// media-go1 watches inbox/ for .json only.
	put("inbox/ignored.txt")
	put("inbox/" + tag + "-order.json")
	att = asyncAttempts(t, "media-go1", "e2e-media/inbox/"+tag+"-order.json", 1)
	if att[0].Status != fcemu.StatusSucceeded {
		t.Fatalf("inbox event: %+v", att[0])
	}
	for _, inv := range cl.FC.Invocations("media-go1", 0) {
		if strings.Contains(inv.Log, "ignored.txt") {
			t.Errorf("an object outside the suffix filter fired the trigger: %+v", inv)
		}
	}
	// A function's output prefix (media/) fires nothing.
	before := len(cl.FC.Invocations("media-custom", 0))
	put("media/v1/master.m3u8")
	put("uploads/sdk/" + tag + "/after.mp4") // something to wait for before counting
	asyncAttempts(t, "media-custom", "e2e-media/uploads/sdk/"+tag+"/after.mp4", 1)
	if n := len(cl.FC.Invocations("media-custom", 0)) - before; n != 1 {
		t.Errorf("%d invocations for one upload under uploads/ and one write under media/", n)
	}
}

// TestTimersByCronAndByHand fires timers on both runtimes, each by its cron on the shared
// clock and by hand through the console; every firing is an async invocation.
func TestTimersByCronAndByHand(t *testing.T) {
	next := func(fn, trigger string) time.Time {
		t.Helper()
		for _, st := range cl.Scheduler.Status() {
			if st.Function == fn && st.Trigger == trigger {
				return st.Next
			}
		}
		t.Fatalf("%s/%s is not scheduled", fn, trigger)
		return time.Time{}
	}
	fired := func(att fcemu.Invocation, trigger string) {
		t.Helper()
		if att.Status != fcemu.StatusSucceeded || att.Trigger != trigger || att.Kind != fcemu.KindAsync || att.RetryCount != 0 {
			t.Errorf("%s firing: %+v", trigger, att)
		}
	}

	// By cron, go1: move the shared clock to the next 03:00 UTC; the nightly trigger fires then.
	due := next("timer-go1", "nightly")
	if due.Hour() != 3 || due.Minute() != 0 || due.Second() != 0 {
		t.Fatalf("nightly is not scheduled for 03:00:00: %v", due)
	}
	if err := cl.Clock.Advance(cl.Clock.Until(due)); err != nil {
		t.Fatal(err)
	}
	marker := "timer nightly at " + due.UTC().Format(time.RFC3339) + ` payload {"job":"nightly"}`
	fired(asyncAttempts(t, "timer-go1", marker, 1)[0], "nightly")

	// By cron, custom runtime: a seconds field and CRON_TZ (Shanghai is a whole 8 hours ahead,
	// so xx:15:30 there is xx:15:30 UTC).
	due = next("timer-custom", "hourly")
	if due.Minute() != 15 || due.Second() != 30 {
		t.Fatalf("hourly is not scheduled for xx:15:30: %v", due)
	}
	if err := cl.Clock.Advance(cl.Clock.Until(due)); err != nil {
		t.Fatal(err)
	}
	marker = "timer hourly at " + due.UTC().Format(time.RFC3339) + ` payload {"job":"hourly"}`
	fired(asyncAttempts(t, "timer-custom", marker, 1)[0], "hourly")

	// By hand, custom runtime, on a disabled trigger, through the console: one more weekly run
	// than before (an earlier run of this test may have fired it already).
	weekly := countLogged("timer-custom", "timer weekly at")
	resp, body := call(t, "POST", "/_local/timers/timer-custom/weekly", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("fire now: %d %s", resp.StatusCode, body)
	}
	att := asyncAttempts(t, "timer-custom", "timer weekly at", weekly+1)
	fired(att[len(att)-1], "weekly")
	if !strings.Contains(att[len(att)-1].Log, "payload by hand") {
		t.Errorf("fire-now: %+v", att[len(att)-1])
	}

	// By hand, go1: one more nightly run than the cron made, with the trigger's payload.
	before := countLogged("timer-go1", "timer nightly at")
	resp, body = call(t, "POST", "/_local/timers/timer-go1/nightly", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("fire now: %d %s", resp.StatusCode, body)
	}
	att = asyncAttempts(t, "timer-go1", "timer nightly at", before+1)
	fired(att[len(att)-1], "nightly")
	if !strings.Contains(att[len(att)-1].Log, `payload {"job":"nightly"}`) {
		t.Errorf("fire-now: %+v", att[len(att)-1])
	}

	resp, body = call(t, "POST", "/_local/timers/timer-custom/nope", nil)
	problem(t, resp, body, http.StatusNotFound, "TimerNotFound")
}

func TestConsole(t *testing.T) {
	resp, body := call(t, "GET", "/_local/health", nil)
	var h struct {
		Status    string
		Functions []string
		Endpoints Endpoints
	}
	if err := json.Unmarshal(body, &h); err != nil || resp.StatusCode != 200 || h.Status != "ok" || len(h.Functions) != 11 ||
		h.Endpoints.Redis != cl.RedisAddr || h.Endpoints.OSS != cl.OSSEndpoint || h.Endpoints.Tablestore != cl.OTSEndpoint {
		t.Fatalf("health %d %s", resp.StatusCode, body)
	}

	e := getEcho(t, "/api/v1/go1/echo")
	resp, body = call(t, "GET", "/_local/invocations?function=web-go1&limit=5", nil)
	var invs []map[string]any
	if err := json.Unmarshal(body, &invs); err != nil || len(invs) == 0 || len(invs) > 5 {
		t.Fatalf("invocations %d %s", resp.StatusCode, body)
	}
	last := invs[0]
	for _, k := range []string{"function", "trigger", "status", "durationMs", "coldStart", "retryCount", "requestId"} {
		if _, ok := last[k]; !ok {
			t.Errorf("invocation lacks %q: %v", k, last)
		}
	}
	if last["requestId"] != e.RequestID {
		t.Errorf("newest invocation %v is not the request just made (%s)", last["requestId"], e.RequestID)
	}
	// A failed invocation shows its error and the function's output.
	resp, body = call(t, "POST", "/_local/invoke/media-go1", bytes.NewReader(ossEvent("e2e-media", "inbox/console-fail.json")))
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("x-fc-error-type") == "" {
		t.Fatalf("failing console invoke: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, "GET", "/_local/invocations?function=media-go1&limit=1", nil)
	var failed []struct {
		Status, Trigger, Error, Log string
		RetryCount                  int
	}
	if err := json.Unmarshal(body, &failed); err != nil || len(failed) != 1 || failed[0].Status != fcemu.StatusFailed ||
		!strings.Contains(failed[0].Error, "cannot process inbox/console-fail.json") || !strings.Contains(failed[0].Log, "console-fail.json") {
		t.Errorf("failed invocation in the console: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, "GET", "/_local/invocations?limit=zero", nil)
	problem(t, resp, body, http.StatusBadRequest, "BadLimit")

	resp, body = call(t, "GET", "/_local/clock", nil)
	var before struct{ Now, Offset string }
	json.Unmarshal(body, &before)
	resp, body = call(t, "POST", "/_local/clock", strings.NewReader(`{"advance":"720h"}`))
	var after struct{ Now, Offset string }
	json.Unmarshal(body, &after)
	b, _ := time.Parse(time.RFC3339Nano, before.Now)
	a, _ := time.Parse(time.RFC3339Nano, after.Now)
	if resp.StatusCode != 200 || a.Sub(b) < 720*time.Hour {
		t.Errorf("advancing the clock: %d %s (before %s)", resp.StatusCode, body, before.Now)
	}
	if now := getEcho(t, "/api/v1/custom/echo").Now; now < after.Now[:10] {
		t.Errorf("functions did not see the shifted clock: x-fclocal-now %s, clock %s", now, after.Now)
	}
	resp, body = call(t, "POST", "/_local/clock", strings.NewReader(`{"advance":"-1h"}`))
	problem(t, resp, body, http.StatusBadRequest, "BadDuration")
	resp, body = call(t, "POST", "/_local/clock", strings.NewReader(`{"forward":"1h"}`))
	problem(t, resp, body, http.StatusBadRequest, "BadRequest")

	resp, body = call(t, "GET", "/_local/mail?to=nobody@example.com", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("mail: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, "POST", "/_local/invoke/sink", strings.NewReader(`{"direct":true}`))
	if resp.StatusCode != 200 {
		t.Errorf("console invoke: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, "GET", "/_local/nothing", nil)
	problem(t, resp, body, http.StatusNotFound, "NotFound")
}

// functionProcesses lists the pids of processes running a binary from under dir.
func functionProcesses(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc here")
	}
	var pids []string
	for _, e := range entries {
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.HasPrefix(exe, dir+string(filepath.Separator)) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

func TestShutdownRunsPreStopAndLeavesNoProcess(t *testing.T) {
	log := &Log{}
	opts := testOptions([]string{"web-go1", "web-custom"})
	opts.Log = log
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range []string{"/api/v1/go1/echo", "/api/v1/custom/echo"} {
		resp, err := http.Get(c.GatewayURL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "bin")); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(c.DataDir, "bin")
	if pids := functionProcesses(t, bin); len(pids) != 2 {
		t.Fatalf("want 2 function processes, found %v", pids)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "| preStop ran"); n != 2 {
		t.Errorf("preStop ran %d times at shutdown, want once per instance:\n%s", n, log.String())
	}
	if pids := functionProcesses(t, bin); len(pids) != 0 {
		t.Errorf("function processes left after Close: %v", pids)
	}
	if _, err := http.Get(c.GatewayURL + "/_local/health"); err == nil {
		t.Error("the gateway still answers after Close")
	}
}

// A client cannot pose as the platform: the headers FC sets replace the client's, whatever
// their case, so the local clock a function follows is the cloud's.
func TestClientsCannotSetThePlatformsHeaders(t *testing.T) {
	req, _ := http.NewRequest("GET", cl.GatewayURL+"/api/v1/custom/echo", nil)
	req.Header.Set("X-Fclocal-Now", "2099-01-01T00:00:00Z")
	req.Header["x-fc-request-id"] = []string{"forged"}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e echo
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	now, err := time.Parse(time.RFC3339Nano, e.Now)
	if err != nil || now.Year() == 2099 || e.RuntimeNow.Year() == 2099 {
		t.Fatalf("the function saw x-fclocal-now %q and runtime.Now %v", e.Now, e.RuntimeNow)
	}
	if d := cl.Clock.Now().Sub(e.RuntimeNow); d < -time.Minute || d > time.Minute {
		t.Fatalf("runtime.Now %v, the cloud's clock %v", e.RuntimeNow, cl.Clock.Now())
	}
	if e.RequestID == "forged" {
		t.Fatal("the client's x-fc-request-id reached the function")
	}
}
