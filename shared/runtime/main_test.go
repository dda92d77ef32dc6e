package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// roleEnv selects what a re-executed test binary does: the tests start the real function entry
// points (HTTP, Objects, Timer) as child processes under a fake FC or Lambda runtime API, the
// way the platforms run them.
const roleEnv = "VODFC_RUNTIME_TEST_ROLE"

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		runChild(role)
		return // not reached: the entry points never return
	}
	if os.Getenv("VODFC_TEST_LOG") == "" {
		// Panics are logged with stacks on purpose; keep them out of test output.
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
		markerOut = io.Discard
	}
	os.Exit(m.Run())
}

// echo is what the child's HTTP handler answers: everything it could see of the request.
type echo struct {
	Method, Path, RawQuery, Host, Body, RemoteAddr string
	Query                                          map[string][]string
	Header                                         http.Header
	RequestID, Function, AccessKeyID, LatestKeyID  string
	HasCredentials                                 bool
	Retry                                          int
	Deadline                                       bool
}

func echoHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	mux.HandleFunc("/panic-late", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		http.NewResponseController(w).Flush()
		panic("late boom")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		slog.InfoContext(r.Context(), "slow handler started")
		// Held until the test has sent SIGTERM and seen the server stop accepting; the sleep
		// is the drain the test proves, not a timing assertion.
		time.Sleep(500 * time.Millisecond)
		_, _ = io.WriteString(w, "slow done")
	})
	mux.HandleFunc("/binary", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write([]byte{0x89, 'P', 'N', 'G', 0xff, 0x00, 0xfe})
	})
	mux.HandleFunc("/cookies", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
		w.Header().Add("X-Multi", "one")
		w.Header().Add("X-Multi", "two")
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		body, _ := io.ReadAll(r.Body)
		e := echo{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host,
			Body: string(body), RemoteAddr: r.RemoteAddr, Query: r.URL.Query(), Header: r.Header,
			RequestID: RequestID(ctx), Function: FunctionName(ctx), Retry: RetryCount(ctx)}
		if c, ok := CredentialsFrom(ctx); ok {
			e.HasCredentials, e.AccessKeyID = true, c.AccessKeyID
		}
		if c, ok := LatestCredentials(); ok {
			e.LatestKeyID = c.AccessKeyID
		}
		_, e.Deadline = ctx.Deadline()
		slog.InfoContext(ctx, "echo served", "path", r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e)
	})
	return mux
}

func childOptions() []Option {
	failInit := os.Getenv("CHILD_INIT_FAILS") // fail this many times, then succeed
	fails := 0
	return []Option{
		OnInit(func(ctx context.Context) error {
			c, _ := CredentialsFrom(ctx)
			if failInit != "" && fails < int(failInit[0]-'0') {
				fails++
				slog.InfoContext(ctx, "init failing", "attempt", fails)
				return errors.New("init says no")
			}
			slog.InfoContext(ctx, "init ran", "key_id", c.AccessKeyID)
			return nil
		}),
		OnPreStop(func(ctx context.Context) { slog.InfoContext(ctx, "prestop ran") }),
	}
}

func runChild(role string) {
	switch role {
	case "http":
		HTTP(echoHandler(), childOptions()...)
	case "objects":
		Objects(func(ctx context.Context, e ObjectEvent) error {
			if strings.Contains(e.Key, "fail") {
				return errors.New("cannot handle " + e.Key)
			}
			if strings.Contains(e.Key, "panic") {
				panic("object panic")
			}
			slog.InfoContext(ctx, "object handled", "bucket", e.Bucket, "key", e.Key, "size", e.Size,
				"etag", e.ETag, "event", e.Name, "time", e.Time, "retry", RetryCount(ctx))
			return nil
		}, childOptions()...)
	case "timer":
		Timer(func(ctx context.Context, t TimerEvent) error {
			slog.InfoContext(ctx, "timer handled", "trigger", t.Trigger, "payload", t.Payload, "time", t.Time)
			return nil
		}, childOptions()...)
	default:
		os.Stderr.WriteString("unknown role " + role + "\n")
		os.Exit(3)
	}
}

func readSample(path string) ([]byte, error) { return os.ReadFile(path) }
