package runtime

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	fcevents "github.com/aliyun/fc-runtime-go-sdk/events"
)

// lifecycle counts hook runs for in-process tests.
type lifecycle struct {
	initFails atomic.Int32 // fail this many more times
	inits     atomic.Int32 // successful runs
	initKey   atomic.Value
	stops     atomic.Int32
}

func (l *lifecycle) apply(f *Function) *Function {
	f.Init = func(ctx context.Context) error {
		if l.initFails.Add(-1) >= 0 {
			return errors.New("not yet")
		}
		c, _ := CredentialsFrom(ctx)
		l.initKey.Store(c.AccessKeyID)
		l.inits.Add(1)
		return nil
	}
	f.PreStop = func(context.Context) { l.stops.Add(1) }
	return f
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
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

func fcRequest(t *testing.T, method, url, body string, h map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	return req
}

func TestCustomHTTPRequest(t *testing.T) {
	var lc lifecycle
	srv := httptest.NewServer(NewCustomServer(lc.apply(&Function{HTTP: echoHandler()})))
	defer srv.Close()

	// Concurrent first requests share one initializer run, done with a request's credentials.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Not do(): t.Fatal must not be called off the test goroutine.
			req, _ := http.NewRequest("GET", srv.URL+"/warm", nil)
			for k, v := range merge(fcCreds("ak-c"), map[string]string{"x-fc-request-id": "warm-" + strconv.Itoa(i)}) {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("warm request: %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if lc.inits.Load() != 1 || lc.initKey.Load() != "ak-c" {
		t.Fatalf("initializer ran %d times with key %v", lc.inits.Load(), lc.initKey.Load())
	}

	deadline := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
	h := merge(fcCreds("ak-d"), map[string]string{"x-fc-request-id": "r-1", "x-fc-retry-count": "1",
		"x-fc-function-deadline": deadline, "X-Forwarded-For": "1.2.3.4"})
	resp, b := do(t, fcRequest(t, "POST", srv.URL+"/api/v1/videos?tag=a&tag=b", `{"x":1}`, h))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var e echo
	mustJSON(t, b, &e)
	if e.RequestID != "r-1" || e.Function != "videos" || e.Retry != 1 || e.AccessKeyID != "ak-d" || !e.Deadline {
		t.Errorf("context %+v", e)
	}
	if c, _ := LatestCredentials(); c.AccessKeyID != "ak-d" || c.AccessKeySecret != "secret-ak-d" || c.SecurityToken != "token-ak-d" {
		t.Errorf("latest credentials %+v", c)
	}
	if e.Header.Get("X-Fc-Access-Key-Secret") != "" || e.Header.Get("X-Fc-Security-Token") != "" {
		t.Errorf("handler saw secret headers: %v", e.Header)
	}
	if e.Header.Get("X-Fc-Access-Key-Id") != "ak-d" || e.Body != `{"x":1}` || len(e.Query["tag"]) != 2 {
		t.Errorf("request reached the handler as %+v", e)
	}
	// Without a deadline header the context has none.
	_, b = do(t, fcRequest(t, "GET", srv.URL+"/", "", fcCreds("ak-d")))
	mustJSON(t, b, &e)
	if e.Deadline || e.RequestID == "" {
		t.Errorf("request without FC timing headers: %+v", e)
	}
}

func TestCustomEventInvoke(t *testing.T) {
	var handled []ObjectEvent
	var mu sync.Mutex
	f := &Function{Objects: func(ctx context.Context, e ObjectEvent) error {
		if RequestID(ctx) != "ev-1" && RequestID(ctx) != "ev-2" {
			return errors.New("no request id in context")
		}
		if strings.HasSuffix(e.Key, "bad") {
			return errors.New("bad object")
		}
		mu.Lock()
		handled = append(handled, e)
		mu.Unlock()
		return nil
	}}
	srv := httptest.NewServer(NewCustomServer(f))
	defer srv.Close()
	sample := string(readFile(t, "testdata/fc-oss-event.json"))
	resp, b := do(t, fcRequest(t, "POST", srv.URL+"/invoke", sample, map[string]string{"x-fc-request-id": "ev-1"}))
	if resp.StatusCode != 200 || len(handled) != 1 || handled[0].Key != "image/a.jpg" || handled[0].Size != 29203 {
		t.Fatalf("%d %s handled %+v", resp.StatusCode, b, handled)
	}
	// x-fc-control-path decides over the path.
	bad := strings.Replace(sample, "image/a.jpg", "image/bad", 1)
	resp, b = do(t, fcRequest(t, "POST", srv.URL+"/anything", bad, map[string]string{"x-fc-request-id": "ev-2", "x-fc-control-path": "/invoke"}))
	var ie invokeError
	mustJSON(t, b, &ie)
	if resp.StatusCode != 404 || resp.Header.Get("X-Fc-Status") != "404" || ie.Type != "HandlerError" || !strings.Contains(ie.Message, "bad object") {
		t.Errorf("failed event answered %d %v %s", resp.StatusCode, resp.Header, b)
	}
	// Not JSON, and an HTTP request to an event function.
	resp, b = do(t, fcRequest(t, "POST", srv.URL+"/invoke", "not json", nil))
	mustJSON(t, b, &ie)
	if resp.StatusCode != 404 || ie.Type != "InvalidEvent" {
		t.Errorf("garbage event answered %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, fcRequest(t, "GET", srv.URL+"/", "", nil))
	if resp.StatusCode != 404 || !strings.Contains(string(b), "POST /invoke") {
		t.Errorf("HTTP request to an event function answered %d %s", resp.StatusCode, b)
	}
}

func TestCustomHTTPFunctionEventsAndControlPath(t *testing.T) {
	srv := httptest.NewServer(NewCustomServer(&Function{HTTP: echoHandler()}))
	defer srv.Close()
	// An HTTP trigger request whose own path is /invoke, marked as such by FC.
	resp, b := do(t, fcRequest(t, "POST", srv.URL+"/invoke", "x", map[string]string{"x-fc-control-path": "/http-invoke"}))
	var e echo
	mustJSON(t, b, &e)
	if resp.StatusCode != 200 || e.Path != "/invoke" {
		t.Errorf("http-invoke answered %d %s", resp.StatusCode, b)
	}
	// An HTTP function invoked with an event (e.g. `s invoke`): FC's HTTP event shape.
	resp, b = do(t, fcRequest(t, "POST", srv.URL+"/invoke", string(readFile(t, "testdata/fc-http-event.json")), nil))
	var r fcevents.HTTPTriggerResponse
	mustJSON(t, b, &r)
	mustJSON(t, []byte(r.Body), &e)
	if resp.StatusCode != 200 || r.StatusCode != 200 || e.Path != "/example" || e.Body != "Hello FC!" {
		t.Errorf("event to HTTP function answered %d %s", resp.StatusCode, b)
	}
}

func TestCustomLifecycle(t *testing.T) {
	var lc lifecycle
	lc.initFails.Store(1)
	srv := httptest.NewServer(NewCustomServer(lc.apply(&Function{HTTP: echoHandler()})))
	defer srv.Close()
	resp, b := do(t, fcRequest(t, "POST", srv.URL+"/initialize", "", fcCreds("ak-i")))
	var ie invokeError
	mustJSON(t, b, &ie)
	if resp.StatusCode != 404 || resp.Header.Get("X-Fc-Status") != "404" || ie.Type != "InitializationError" {
		t.Fatalf("failing initializer answered %d %s", resp.StatusCode, b)
	}
	// A request while the initializer keeps failing is a 503 problem; then it succeeds.
	lc.initFails.Store(1)
	resp, b = do(t, fcRequest(t, "GET", srv.URL+"/", "", map[string]string{"x-fc-request-id": "r-503"}))
	if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(b), `"instance":"r-503"`) {
		t.Errorf("request with failing init answered %d %s", resp.StatusCode, b)
	}
	for range 2 {
		resp, b = do(t, fcRequest(t, "POST", srv.URL+"/initialize", "", fcCreds("ak-i")))
		if resp.StatusCode != 200 {
			t.Fatalf("initializer answered %d %s", resp.StatusCode, b)
		}
	}
	if lc.inits.Load() != 1 {
		t.Errorf("initializer succeeded %d times", lc.inits.Load())
	}
	for range 2 {
		resp, b = do(t, fcRequest(t, "GET", srv.URL+"/pre-stop", "", nil))
		if resp.StatusCode != 200 {
			t.Fatalf("pre-stop answered %d %s", resp.StatusCode, b)
		}
	}
	if lc.stops.Load() != 1 {
		t.Errorf("preStop ran %d times", lc.stops.Load())
	}
}

func TestCustomPanics(t *testing.T) {
	srv := httptest.NewServer(NewCustomServer(&Function{HTTP: echoHandler()}))
	defer srv.Close()
	resp, b := do(t, fcRequest(t, "GET", srv.URL+"/panic", "", map[string]string{"x-fc-request-id": "r-p"}))
	var p map[string]any
	mustJSON(t, b, &p)
	if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/problem+json" ||
		p["code"] != "internal" || p["instance"] != "r-p" || p["status"] != float64(500) {
		t.Errorf("panic answered %d %s", resp.StatusCode, b)
	}
	// After the response started, the connection is cut so the client cannot take a partial
	// body for a whole one.
	resp, err := http.Get(srv.URL + "/panic-late")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Error("late panic: the client got a complete response")
	}
	// The server still serves.
	if resp, _ := do(t, fcRequest(t, "GET", srv.URL+"/", "", nil)); resp.StatusCode != 200 {
		t.Errorf("after panics: %d", resp.StatusCode)
	}
}

func TestDevServer(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-ak")
	srv := httptest.NewServer(NewDevServer(&Function{HTTP: echoHandler()}))
	defer srv.Close()
	// Every path is the application's, and x-fc-* headers are not believed.
	resp, b := do(t, fcRequest(t, "POST", srv.URL+"/invoke", "", merge(fcCreds("spoofed"), map[string]string{"x-fc-control-path": "/invoke"})))
	var e echo
	mustJSON(t, b, &e)
	if resp.StatusCode != 200 || e.Path != "/invoke" || e.AccessKeyID != "env-ak" || e.Function != "runtime.test" {
		t.Errorf("dev request %d %+v", resp.StatusCode, e)
	}
	if c, _ := LatestCredentials(); c.AccessKeyID == "spoofed" {
		t.Error("dev mode took credentials from a request header")
	}
	if id := resp.Header.Get("X-Fc-Request-Id"); !strings.HasPrefix(id, "dev-") || id != e.RequestID {
		t.Errorf("dev request id header %q, context %q", id, e.RequestID)
	}

	var fired TimerEvent
	ev := httptest.NewServer(NewDevServer(&Function{Timer: func(_ context.Context, t TimerEvent) error { fired = t; return nil }}))
	defer ev.Close()
	resp, b = do(t, fcRequest(t, "POST", ev.URL+"/invoke", string(readFile(t, "testdata/fc-timer-event.json")), nil))
	if resp.StatusCode != 200 || fired.Trigger != "nightly" {
		t.Errorf("dev timer %d %s fired %+v", resp.StatusCode, b, fired)
	}
	resp, _ = do(t, fcRequest(t, "GET", ev.URL+"/pre-stop", "", nil))
	if resp.StatusCode != 404 {
		t.Errorf("dev mode served /pre-stop: %d", resp.StatusCode)
	}
}

// TestCustomRuntimeProcess runs runtime.HTTP as FC's custom runtime in a child process:
// SIGTERM stops accepting, lets the in-flight request finish, runs preStop once, exits 0.
func TestCustomRuntimeProcess(t *testing.T) {
	c := startChild(t, "http", "FC_SERVER_PORT=0", "FCLOCAL=1", "FC_FUNCTION_NAME=videos")
	var addr struct{ Addr string }
	mustJSON(t, []byte(c.waitLine(`"listening"`)), &addr)
	if !strings.HasPrefix(addr.Addr, "127.0.0.1:") {
		t.Fatalf("FCLOCAL=1 but listening on %s", addr.Addr)
	}
	base := "http://" + addr.Addr
	type answer struct {
		code int
		body string
		err  error
	}
	slow := make(chan answer, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- answer{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- answer{resp.StatusCode, string(b), err}
	}()
	c.waitLine(`"slow handler started"`)
	c.signal(syscall.SIGTERM)
	a := <-slow
	if a.err != nil || a.code != 200 || a.body != "slow done" {
		t.Errorf("in-flight request during shutdown: %+v", a)
	}
	if code := c.wait(); code != 0 {
		t.Errorf("exit status %d", code)
	}
	if c.count(`"prestop ran"`) != 1 || c.count(`"init ran"`) != 1 {
		t.Errorf("preStop %d, init %d runs", c.count(`"prestop ran"`), c.count(`"init ran"`))
	}
}

// TestCustomRuntimeEventProcess checks FC's marker lines and logs of event invocations.
func TestCustomRuntimeEventProcess(t *testing.T) {
	c := startChild(t, "objects", "FC_SERVER_PORT=0", "FCLOCAL=1", "FC_FUNCTION_NAME=transcode")
	var addr struct{ Addr string }
	mustJSON(t, []byte(c.waitLine(`"listening"`)), &addr)
	sample := string(readFile(t, "testdata/fc-oss-event.json"))
	resp, b := do(t, fcRequest(t, "POST", "http://"+addr.Addr+"/invoke", sample, merge(fcCreds("ak-e"), map[string]string{"x-fc-request-id": "ev-ok"})))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	c.waitLine("FC Invoke Start RequestId: ev-ok")
	line := c.waitLine(`"object handled"`, `"request_id":"ev-ok"`, `"function":"transcode"`)
	if strings.Contains(line, "secret") {
		t.Errorf("secret in log line %s", line)
	}
	c.waitLine("FC Invoke End RequestId: ev-ok")
	bad := strings.Replace(sample, "image/a.jpg", "fail.jpg", 1)
	resp, _ = do(t, fcRequest(t, "POST", "http://"+addr.Addr+"/invoke", bad, map[string]string{"x-fc-request-id": "ev-bad"}))
	if resp.StatusCode != 404 {
		t.Errorf("failing event answered %d", resp.StatusCode)
	}
	c.waitLine("FC Invoke End RequestId: ev-bad, Error: Unhandled function error")
	c.signal(syscall.SIGINT)
	if code := c.wait(); code != 0 {
		t.Errorf("exit status %d", code)
	}
}

// TestDevProcess runs runtime.HTTP in dev mode: the initializer runs at start-up (and a
// failure stops the process with status 1), SIGTERM runs preStop and exits 0.
func TestDevProcess(t *testing.T) {
	c := startChild(t, "http", "PORT=0", "FCLOCAL=1")
	var addr struct{ Addr string }
	mustJSON(t, []byte(c.waitLine(`"listening"`)), &addr)
	c.waitLine(`"init ran"`)
	resp, b := do(t, fcRequest(t, "GET", "http://"+addr.Addr+"/hello", "", nil))
	var e echo
	mustJSON(t, b, &e)
	if resp.StatusCode != 200 || e.Path != "/hello" || !strings.HasPrefix(resp.Header.Get("X-Fc-Request-Id"), "dev-") {
		t.Errorf("dev request: %d %s", resp.StatusCode, b)
	}
	c.signal(syscall.SIGTERM)
	if code := c.wait(); code != 0 {
		t.Errorf("exit status %d", code)
	}
	c.waitLine(`"prestop ran"`)

	bad := startChild(t, "http", "PORT=0", "FCLOCAL=1", "CHILD_INIT_FAILS=1")
	if code := bad.wait(); code != 1 {
		t.Errorf("failing initializer in dev mode: exit status %d", code)
	}
	bad.waitLine(`"function cannot start"`, "init says no")
}
