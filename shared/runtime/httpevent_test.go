package runtime

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	fcevents "github.com/aliyun/fc-runtime-go-sdk/events"
)

func fcSample(t testing.TB) *fcevents.HTTPTriggerEvent {
	var ev fcevents.HTTPTriggerEvent
	b, err := readSample("testdata/fc-http-event.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return &ev
}

func TestServeHTTPTriggerSample(t *testing.T) {
	ev := fcSample(t)
	resp, err := ServeHTTPTrigger(context.Background(), echoHandler(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var e echo
	mustJSON(t, []byte(resp.Body), &e)
	if e.Method != "GET" || e.Path != "/example" || e.Body != "Hello FC!" || e.RemoteAddr != "11.11.11.**:0" ||
		e.RawQuery != "parameter1=value1&parameter2=value1%2Cvalue2" || e.Header.Get("Header1") != "value1" {
		t.Errorf("request seen as %+v", e)
	}
}

func TestServeHTTPTriggerResponses(t *testing.T) {
	ev := fcSample(t)
	path := func(p string) *fcevents.HTTPTriggerEvent { c := *ev; c.RawPath = &p; return &c }

	// Two Set-Cookie: FC carries one, deliberately the first; repeated headers are joined.
	resp, err := ServeHTTPTrigger(context.Background(), echoHandler(), path("/cookies"))
	if err != nil || resp.StatusCode != 201 || resp.Headers["Set-Cookie"] != "a=1" || resp.Headers["X-Multi"] != "one, two" {
		t.Errorf("%+v %v", resp, err)
	}
	// No handler output at all is a 200 with a made headers map.
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if resp, _ := ServeHTTPTrigger(context.Background(), h, ev); resp.StatusCode != 200 || resp.Headers == nil || resp.Body != "" {
		t.Errorf("empty response %+v", resp)
	}
	// Content type is sniffed as net/http would; HEAD drops the body.
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html><body>hi") })
	if resp, _ := ServeHTTPTrigger(context.Background(), h, ev); !strings.HasPrefix(resp.Headers["Content-Type"], "text/html") {
		t.Errorf("sniffed %+v", resp)
	}
	head := *ev
	m := "HEAD"
	head.TriggerContext.Http.Method = &m
	if resp, _ := ServeHTTPTrigger(context.Background(), h, &head); resp.Body != "" || resp.StatusCode != 200 {
		t.Errorf("HEAD %+v", resp)
	}
	// Escaped paths keep their raw form.
	if resp, _ := ServeHTTPTrigger(context.Background(), echoHandler(), path("/v/a%2Fb")); !strings.Contains(resp.Body, `"Path":"/v/a/b"`) {
		t.Errorf("escaped path %s", resp.Body)
	}
	// Bad events are errors, not requests.
	b64 := true
	junk := "!!"
	bad := *ev
	bad.IsBase64Encoded, bad.Body = &b64, &junk
	if _, err := ServeHTTPTrigger(context.Background(), echoHandler(), &bad); err == nil {
		t.Error("bad base64 body accepted")
	}
	if _, err := ServeHTTPTrigger(context.Background(), echoHandler(), &fcevents.HTTPTriggerEvent{}); err == nil {
		t.Error("empty event accepted")
	}
}
