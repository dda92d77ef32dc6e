package runtime

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"

	fcevents "github.com/aliyun/fc-runtime-go-sdk/events"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fcCreds are the credential headers FC puts on every invocation.
func fcCreds(keyID string) map[string]string {
	return map[string]string{
		"x-fc-access-key-id":     keyID,
		"x-fc-access-key-secret": "secret-" + keyID,
		"x-fc-security-token":    "token-" + keyID,
		"x-fc-function-name":     "videos",
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestGo1HTTPThroughSDK runs runtime.HTTP under the real fc-runtime-go-sdk loop against a fake
// FC runtime API: initializer, HTTP events, a panic, preStop and SIGTERM.
func TestGo1HTTPThroughSDK(t *testing.T) {
	api := newFakeRuntimeAPI(t, fcGo1Prefix)
	c := startChild(t, "http", "FC_RUNTIME_API="+api.addr(), "FC_FUNCTION_NAME=videos")

	// The initializer (x-fc-function-type 1) runs OnInit with that invocation's credentials.
	initID, res := api.invoke(t, true, nil, merge(fcCreds("ak-init"), map[string]string{"x-fc-function-type": "1"}))
	if res.failed {
		t.Fatalf("initializer failed: %s", res.body)
	}
	line := c.waitLine(`"init ran"`)
	if !jsonLineHas(line, "key_id", "ak-init") || !jsonLineHas(line, "request_id", initID) {
		t.Errorf("init log line %s: want key_id ak-init and request_id %s", line, initID)
	}

	// The FC documentation's sample event, turned into a POST with a base64 body.
	var ev map[string]any
	mustJSON(t, readFile(t, "testdata/fc-http-event.json"), &ev)
	ev["body"] = base64.StdEncoding.EncodeToString([]byte("hello\x00binary"))
	ev["isBase64Encoded"] = true
	ev["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = "POST"
	payload, _ := json.Marshal(ev)
	id, res := api.invoke(t, true, payload, merge(fcCreds("ak-1"), map[string]string{"x-fc-retry-count": "2"}))
	if res.failed {
		t.Fatalf("HTTP invocation failed: %s", res.body)
	}
	var resp fcevents.HTTPTriggerResponse
	mustJSON(t, res.body, &resp)
	if resp.StatusCode != 200 || resp.Headers == nil || resp.Headers["Content-Type"] != "application/json" || resp.IsBase64Encoded {
		t.Fatalf("response %+v", resp)
	}
	var e echo
	mustJSON(t, []byte(resp.Body), &e)
	if e.Method != "POST" || e.Path != "/example" || e.Body != "hello\x00binary" {
		t.Errorf("request seen as %s %s body %q", e.Method, e.Path, e.Body)
	}
	if got := e.Query["parameter2"]; len(got) != 1 || got[0] != "value1,value2" {
		t.Errorf("comma-joined query value reached the handler as %q", got)
	}
	if e.Header.Get("Header2") != "value1,value2" || e.Host != "<http-trigger-id>.<region-id>.fcapp.run" {
		t.Errorf("headers %v host %q", e.Header, e.Host)
	}
	if e.RequestID != id || e.Function != "videos" || e.Retry != 2 || e.AccessKeyID != "ak-1" || e.LatestKeyID != "ak-1" || !e.Deadline {
		t.Errorf("invocation context %+v (want request %s, retry 2, ak-1, a deadline)", e, id)
	}
	line = c.waitLine(`"echo served"`)
	if !jsonLineHas(line, "request_id", id) || !jsonLineHas(line, "function", "videos") || !jsonLineHas(line, "level", "INFO") {
		t.Errorf("log line %s lacks request id %s or function", line, id)
	}
	c.waitLine("FC Invoke Start RequestId: " + id)
	c.waitLine("FC Invoke End RequestId: " + id)

	// Binary responses travel base64; a panic is a 500, not a dead process.
	ev["rawPath"] = "/binary"
	payload, _ = json.Marshal(ev)
	_, res = api.invoke(t, true, payload, fcCreds("ak-1"))
	mustJSON(t, res.body, &resp)
	if b, _ := base64.StdEncoding.DecodeString(resp.Body); !resp.IsBase64Encoded || string(b) != "\x89PNG\xff\x00\xfe" {
		t.Errorf("binary response %+v", resp)
	}
	ev["rawPath"] = "/panic"
	payload, _ = json.Marshal(ev)
	id, res = api.invoke(t, true, payload, fcCreds("ak-1"))
	mustJSON(t, res.body, &resp)
	if res.failed || resp.StatusCode != 500 || resp.Headers["Content-Type"] != "application/problem+json" || !strings.Contains(resp.Body, id) {
		t.Errorf("panic answered %+v (failed=%v)", resp, res.failed)
	}
	c.waitLine(`"HTTP handler panicked"`, id)

	// A payload of the wrong shape fails the invocation with a clear error.
	_, res = api.invoke(t, true, readFile(t, "testdata/fc-timer-event.json"), nil)
	if !res.failed || !strings.Contains(string(res.body), "InvalidEvent") {
		t.Errorf("timer event to an HTTP function: failed=%v %s", res.failed, res.body)
	}

	// preStop (x-fc-function-type 2) runs once, even when SIGTERM follows.
	_, res = api.invoke(t, true, nil, merge(fcCreds("ak-1"), map[string]string{"x-fc-function-type": "2"}))
	if res.failed {
		t.Fatalf("preStop failed: %s", res.body)
	}
	c.waitLine(`"prestop ran"`)
	c.signal(syscall.SIGTERM)
	if code := c.wait(); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
	if n := c.count(`"prestop ran"`); n != 1 {
		t.Errorf("preStop ran %d times", n)
	}
	if n := c.count(`"init ran"`); n != 1 {
		t.Errorf("init ran %d times", n)
	}
	for _, l := range c.lines() {
		if strings.Contains(l, "secret-ak") || strings.Contains(l, "token-ak") {
			t.Errorf("a secret reached the logs: %s", l)
		}
	}
}

// TestGo1ObjectsThroughSDK: OSS events under the real SDK loop, one failing record failing the
// whole invocation, and the initializer running lazily when FC never called it.
func TestGo1ObjectsThroughSDK(t *testing.T) {
	api := newFakeRuntimeAPI(t, fcGo1Prefix)
	c := startChild(t, "objects", "FC_RUNTIME_API="+api.addr(), "CHILD_INIT_FAILS=1")

	sample := readFile(t, "testdata/fc-oss-event.json")
	// No initializer invocation: the first event runs OnInit, which fails once, so the event
	// fails and its retry succeeds.
	_, res := api.invoke(t, true, sample, fcCreds("ak-2"))
	if !res.failed || !strings.Contains(string(res.body), "InitializationError") {
		t.Fatalf("first event with a failing initializer: failed=%v %s", res.failed, res.body)
	}
	id, res := api.invoke(t, true, sample, merge(fcCreds("ak-2"), map[string]string{"x-fc-retry-count": "1"}))
	if res.failed {
		t.Fatalf("retried event failed: %s", res.body)
	}
	line := c.waitLine(`"object handled"`, id)
	for k, want := range map[string]string{"bucket": "bucket", "key": "image/a.jpg", "size": "29203",
		"etag": "7D73E1052AF595535DE90994F4C3E6D5", "event": "ObjectCreated:PutObject",
		"time": "2022-06-10T06:21:35Z", "retry": "1", "function": "objects"} {
		if k == "function" {
			want = "runtime.test" // FC_FUNCTION_NAME unset: the binary's name
		}
		if !jsonLineHas(line, k, want) {
			t.Errorf("log line %s: %s != %s", line, k, want)
		}
	}
	c.waitLine(`"init ran"`, `"key_id":"ak-2"`)

	// Three records, the middle one failing: the invocation fails naming it, the others ran.
	var ev map[string]any
	mustJSON(t, sample, &ev)
	rec := ev["events"].([]any)[0].(map[string]any)
	var recs []any
	for _, key := range []string{"uploads/v1/%E8%A7%86%E9%A2%91%20a.mp4", "uploads/v2/fail", "uploads/v3/100%"} {
		var r map[string]any
		b, _ := json.Marshal(rec)
		_ = json.Unmarshal(b, &r)
		r["oss"].(map[string]any)["object"].(map[string]any)["key"] = key
		recs = append(recs, r)
	}
	ev["events"] = recs
	payload, _ := json.Marshal(ev)
	id, res = api.invoke(t, true, payload, fcCreds("ak-2"))
	if !res.failed {
		t.Fatal("an event with a failing record succeeded")
	}
	var ie invokeError
	mustJSON(t, res.body, &ie)
	if ie.Type != "HandlerError" || !strings.Contains(ie.Message, "record 1 (bucket/uploads/v2/fail)") {
		t.Errorf("error %+v", ie)
	}
	c.waitLine(`"object handled"`, id, `"key":"uploads/v1/视频 a.mp4"`)
	c.waitLine(`"object handled"`, id, `"key":"uploads/v3/100%"`)
	c.waitLine(`"object event failed"`, id, `"record":1`)

	// A handler panic fails the invocation and the process lives on.
	rec["oss"].(map[string]any)["object"].(map[string]any)["key"] = "panic"
	ev["events"] = []any{rec}
	payload, _ = json.Marshal(ev)
	_, res = api.invoke(t, true, payload, nil)
	mustJSON(t, res.body, &ie)
	if !res.failed || ie.Type != "Panic" {
		t.Errorf("panic: failed=%v %+v", res.failed, ie)
	}
	id, res = api.invoke(t, true, sample, nil)
	if res.failed {
		t.Errorf("event after a panic failed: %s", res.body)
	}
	c.waitLine(`"object handled"`, id)

	// An event of the wrong shape.
	_, res = api.invoke(t, true, []byte(`{"events":[]}`), nil)
	if !res.failed || !strings.Contains(string(res.body), "InvalidEvent") {
		t.Errorf("empty OSS event: failed=%v %s", res.failed, res.body)
	}
	c.signal(syscall.SIGTERM)
	if code := c.wait(); code != 0 {
		t.Errorf("exit status %d", code)
	}
	c.waitLine(`"prestop ran"`)
}

func TestGo1TimerThroughSDK(t *testing.T) {
	api := newFakeRuntimeAPI(t, fcGo1Prefix)
	c := startChild(t, "timer", "FC_RUNTIME_API="+api.addr(), "FC_FUNCTION_NAME=rollup")
	id, res := api.invoke(t, true, readFile(t, "testdata/fc-timer-event.json"), fcCreds("ak-3"))
	if res.failed || string(res.body) != "null" {
		t.Fatalf("timer invocation: failed=%v %s", res.failed, res.body)
	}
	line := c.waitLine(`"timer handled"`, id)
	if !jsonLineHas(line, "trigger", "nightly") || !jsonLineHas(line, "payload", `{"mode":"full"}`) ||
		!jsonLineHas(line, "time", "2023-12-26T07:49:00Z") || !jsonLineHas(line, "function", "rollup") {
		t.Errorf("timer log line %s", line)
	}
	_, res = api.invoke(t, true, readFile(t, "testdata/fc-oss-event.json"), nil)
	if !res.failed || !strings.Contains(string(res.body), "InvalidEvent") {
		t.Errorf("OSS event to a timer: failed=%v %s", res.failed, res.body)
	}
	c.signal(syscall.SIGTERM)
	if code := c.wait(); code != 0 {
		t.Errorf("exit status %d", code)
	}
}

// TestGo1InitializerFailure: a failing OnInit fails FC's initializer invocation (the SDK's
// lifecycle hooks cannot return errors), the process lives on, and FC's retry succeeds.
func TestGo1InitializerFailure(t *testing.T) {
	api := newFakeRuntimeAPI(t, fcGo1Prefix)
	c := startChild(t, "timer", "FC_RUNTIME_API="+api.addr(), "CHILD_INIT_FAILS=1")
	initHeaders := map[string]string{"x-fc-function-type": "1"}
	_, res := api.invoke(t, true, nil, initHeaders)
	var ie invokeError
	mustJSON(t, res.body, &ie)
	if !res.failed || ie.Type != "InitializationError" || !strings.Contains(ie.Message, "init says no") {
		t.Fatalf("failing initializer: failed=%v %s", res.failed, res.body)
	}
	if _, res = api.invoke(t, true, nil, initHeaders); res.failed {
		t.Fatalf("retried initializer failed: %s", res.body)
	}
	if _, res = api.invoke(t, true, readFile(t, "testdata/fc-timer-event.json"), nil); res.failed {
		t.Fatalf("timer after init: %s", res.body)
	}
	if c.count(`"init ran"`) != 1 || c.count(`"init failing"`) != 1 {
		t.Errorf("init ran %d, failed %d times", c.count(`"init ran"`), c.count(`"init failing"`))
	}
	c.signal(syscall.SIGTERM)
	if code := c.wait(); code != 0 {
		t.Errorf("exit status %d", code)
	}
}
