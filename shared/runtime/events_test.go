package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestDecodeOSSKey(t *testing.T) {
	for in, want := range map[string]string{
		"image/a.jpg":                   "image/a.jpg",
		"uploads/v1/source":             "uploads/v1/source",
		"a%20b.mp4":                     "a b.mp4",
		"%E8%A7%86%E9%A2%91.mp4":        "视频.mp4",
		"视频 a.mp4":                      "视频 a.mp4", // raw CJK and space pass through
		"a+b.mp4":                       "a+b.mp4",  // '+' is a key character, not a space
		"100%":                          "100%",     // not a valid escape: raw
		"50%off/%zz":                    "50%off/%zz",
		"dir%2Fname":                    "dir/name",
		"uploads/%E8%A7%86%E9%A2%91+x%": "uploads/%E8%A7%86%E9%A2%91+x%", // one bad escape: all raw
	} {
		if got := decodeOSSKey(in); got != want {
			t.Errorf("decodeOSSKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeOSSEventSample(t *testing.T) {
	recs, err := decodeOSSEvent(readFile(t, "testdata/fc-oss-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := ObjectEvent{Bucket: "bucket", Key: "image/a.jpg", Size: 29203, ETag: "7D73E1052AF595535DE90994F4C3E6D5",
		Name: "ObjectCreated:PutObject", Time: time.Date(2022, 6, 10, 6, 21, 35, 0, time.UTC)}
	if len(recs) != 1 || !recs[0].Time.Equal(want.Time) {
		t.Fatalf("%+v", recs)
	}
	recs[0].Time = want.Time
	if recs[0] != want {
		t.Errorf("got %+v want %+v", recs[0], want)
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"events":[]}`, `{"events":[{}]}`,
		`{"events":[{"oss":{"bucket":{"name":"b"},"object":{}}}]}`, `{"events":"x"}`} {
		if _, err := decodeOSSEvent([]byte(bad)); !errors.Is(err, errInvalidEvent) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestDecodeTimer(t *testing.T) {
	ev, err := decodeFCTimer(readFile(t, "testdata/fc-timer-event.json"))
	if err != nil || ev.Trigger != "nightly" || ev.Payload != `{"mode":"full"}` || !ev.Time.Equal(time.Date(2023, 12, 26, 7, 49, 0, 0, time.UTC)) {
		t.Fatalf("%+v %v", ev, err)
	}
	if ev, err := decodeFCTimer([]byte(`{"triggerName":"now"}`)); err != nil || ev.Time.IsZero() {
		t.Errorf("fire-now event: %+v %v", ev, err)
	}
	for _, bad := range []string{`{}`, `{"triggerTime":"yesterday"}`, `{"events":[]}`, `null`} {
		if _, err := decodeFCTimer([]byte(bad)); !errors.Is(err, errInvalidEvent) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestHandleObjectsGoesOn: a failed record does not stop the others, the error names every
// failed record, and a cancelled context stops the loop.
func TestHandleObjectsGoesOn(t *testing.T) {
	recs := []ObjectEvent{{Bucket: "b", Key: "k0"}, {Bucket: "b", Key: "k1"}, {Bucket: "b", Key: "k2"}}
	var seen []string
	err := handleObjects(context.Background(), func(_ context.Context, e ObjectEvent) error {
		seen = append(seen, e.Key)
		if e.Key == "k1" {
			return errors.New("nope")
		}
		return nil
	}, recs)
	if len(seen) != 3 || err == nil || !strings.Contains(err.Error(), "record 1 (b/k1): nope") || strings.Contains(err.Error(), "k2") {
		t.Errorf("seen %v err %v", seen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	seen = nil
	err = handleObjects(ctx, func(_ context.Context, e ObjectEvent) error { seen = append(seen, e.Key); cancel(); return nil }, recs)
	if len(seen) != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: seen %v err %v", seen, err)
	}
	if ie := toInvokeError(err); ie.Type != "HandlerError" {
		t.Errorf("error type %q", ie.Type)
	}
}

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(&buf, "", slog.LevelInfo))
	ctx := WithInvocation(context.Background(), &Invocation{RequestID: "r-9", FunctionName: "users"})
	log.With("k", "v").InfoContext(ctx, "hello")
	log.Debug("hidden")
	log.Info("no invocation")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines: %q", lines)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil || m["request_id"] != "r-9" || m["function"] != "users" || m["k"] != "v" {
		t.Errorf("line %s", lines[0])
	}
	if strings.Contains(lines[1], "request_id") {
		t.Errorf("line without invocation %s", lines[1])
	}
	// A process-wide name is written once, not again from the invocation.
	buf.Reset()
	slog.New(NewLogHandler(&buf, "videos", slog.LevelInfo)).InfoContext(ctx, "x")
	if strings.Count(buf.String(), `"function"`) != 1 || !strings.Contains(buf.String(), `"function":"videos"`) {
		t.Errorf("line %s", buf.String())
	}
	if levelFromEnv("debug") != slog.LevelDebug || levelFromEnv("WARN") != slog.LevelWarn || levelFromEnv("nonsense") != slog.LevelInfo {
		t.Error("LOG_LEVEL parsing")
	}
}

func TestDetect(t *testing.T) {
	for want, env := range map[Platform]map[string]string{
		PlatformFCGo1:     {"FC_RUNTIME_API": "127.0.0.1:9001", "FC_FUNCTION_NAME": "x"},
		PlatformAWSLambda: {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"},
		PlatformFCCustom:  {"FC_FUNCTION_NAME": "x"},
		PlatformDev:       {"PORT": "8081"},
	} {
		if got := Detect(func(k string) string { return env[k] }); got != want {
			t.Errorf("%v: %s, want %s", env, got, want)
		}
	}
	if a := customAddr(func(string) string { return "" }); a != ":9000" {
		t.Errorf("custom addr %s", a)
	}
	if a := devAddr(func(k string) string { return map[string]string{"PORT": "8081", "FCLOCAL": "1"}[k] }); a != "127.0.0.1:8081" {
		t.Errorf("dev addr %s", a)
	}
}

func TestLatestCredentialsFromEnv(t *testing.T) {
	saved := latest.Load()
	defer latest.Store(saved)
	latest.Store(nil)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	if _, ok := LatestCredentials(); ok {
		t.Error("credentials without any source")
	}
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-id")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret")
	t.Setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "env-token")
	if c, ok := LatestCredentials(); !ok || c != (Credentials{"env-id", "env-secret", "env-token"}) {
		t.Errorf("env credentials %+v", c)
	}
	noteCredentials(Credentials{AccessKeyID: "inv-id", AccessKeySecret: "s"})
	if c, _ := LatestCredentials(); c.AccessKeyID != "inv-id" {
		t.Errorf("invocation credentials not preferred: %+v", c)
	}
	noteCredentials(Credentials{})
	if c, _ := LatestCredentials(); c.AccessKeyID != "inv-id" {
		t.Error("empty credentials replaced real ones")
	}
}
