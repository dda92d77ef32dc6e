package fcemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vodfc.dev/local/clock"
	"vodfc.dev/local/manifest"
)

// fixture is the test function binary, built once for the package.
var fixture string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fcemu-test-")
	if err != nil {
		panic(err)
	}
	fixture = filepath.Join(dir, "main")
	out, err := exec.Command("go", "build", "-o", fixture, "./testdata/fixture").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the fixture: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var testCreds = Credentials{AccessKeyID: "fclocal-access-key-id", AccessKeySecret: "fclocal-access-key-secret"}

type spec struct {
	name, runtime string
	concurrency   int
	timeout       time.Duration
	retries       int
	onFailure     string
	hooks         bool
}

func fnSpec(s spec) *manifest.Function {
	f := &manifest.Function{Name: s.name, Runtime: s.runtime, Handler: "main", MemorySize: 256, CPU: 0.25,
		DiskSize: 512, Timeout: s.timeout, InstanceConcurrency: s.concurrency,
		Async: manifest.Async{MaxRetries: s.retries, MaxEventAge: time.Hour, OnFailure: s.onFailure}}
	if f.Timeout == 0 {
		f.Timeout = 30 * time.Second
	}
	if manifest.IsCustomRuntime(s.runtime) {
		f.Custom = &manifest.CustomRuntime{Command: []string{"/code/main"}, Port: 9000}
	}
	if s.hooks {
		f.Initializer = &manifest.Hook{Handler: "init", Timeout: 10 * time.Second}
		f.PreStop = &manifest.Hook{Handler: "stop", Timeout: 10 * time.Second}
	}
	return f
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEmu(t *testing.T, mod func(*Options), specs ...spec) (*Emulator, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	opts := Options{Credentials: testCreds, Output: out, RetryBackoff: func(n int) time.Duration { return time.Duration(n) * 10 * time.Millisecond }}
	for _, s := range specs {
		opts.Functions = append(opts.Functions, Function{Spec: fnSpec(s), Executable: fixture, TmpDir: t.TempDir(),
			Env: map[string]string{"GREETING": "hi " + s.name}})
	}
	if mod != nil {
		mod(&opts)
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.Close(ctx)
	})
	return e, out
}

type result struct {
	Op          string            `json:"op"`
	Retry       int               `json:"retry"`
	Instance    string            `json:"instance"`
	Inflight    int               `json:"inflight"`
	Initialized bool              `json:"initialized"`
	Now         string            `json:"now"`
	RequestID   string            `json:"requestId"`
	Env         map[string]string `json:"env"`
	Path        string            `json:"path"`
	Method      string            `json:"method"`
	Body        string            `json:"body"`
	ControlPath string            `json:"controlPath"`
}

func invoke(t *testing.T, e *Emulator, fn string, ev string) result {
	t.Helper()
	out, err := e.Invoke(context.Background(), fn, []byte(ev))
	if err != nil {
		t.Fatalf("invoke %s %s: %v", fn, ev, err)
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("result %s: %v", out, err)
	}
	return r
}

func stats(t *testing.T, e *Emulator, fn string) Stats {
	t.Helper()
	s, err := e.Stats(fn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// eventually polls cond until it holds; the timeout is only a hang guard.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var runtimes = []string{"go1", "custom.debian10"}

func TestColdStartThenWarmReuse(t *testing.T) {
	t.Setenv("LEAK_CHECK", "the local cloud's environment must not reach functions")
	for _, rt := range runtimes {
		t.Run(rt, func(t *testing.T) {
			e, out := newEmu(t, nil, spec{name: "fn", runtime: rt, hooks: true})
			first := invoke(t, e, "fn", `{"op":"echo"}`)
			second := invoke(t, e, "fn", `{"op":"echo"}`)
			if first.Instance == "" || first.Instance != second.Instance {
				t.Fatalf("warm invocation ran on %q, cold one on %q", second.Instance, first.Instance)
			}
			if !first.Initialized {
				t.Error("initializer did not run before the first invocation")
			}
			invs := e.Invocations("fn", 0)
			if len(invs) != 2 || !invs[1].ColdStart || invs[0].ColdStart || invs[1].ColdStartMS <= 0 {
				t.Fatalf("cold/warm not recorded: %+v", invs)
			}
			if !strings.Contains(invs[1].Log, "initializer ran") {
				t.Errorf("cold invocation log lacks the initializer output: %q", invs[1].Log)
			}
			if !strings.Contains(out.String(), "fn#1 | initializer ran") {
				t.Errorf("output not echoed with the function prefix:\n%s", out)
			}
			if s := stats(t, e, "fn"); s.ColdStarts != 1 || s.Instances != 1 {
				t.Errorf("stats %+v", s)
			}
			want := map[string]string{"FCLOCAL": "1", "FC_FUNCTION_MEMORY_SIZE": "256", "FC_FUNCTION_NAME": "fn",
				"ALIBABA_CLOUD_ACCESS_KEY_ID": testCreds.AccessKeyID, "GREETING": "hi fn", "LEAK_CHECK": ""}
			for k, v := range want {
				if first.Env[k] != v {
					t.Errorf("env %s = %q, want %q", k, first.Env[k], v)
				}
			}
			if first.RequestID != invs[1].RequestID {
				t.Errorf("function saw request id %q, log has %q", first.RequestID, invs[1].RequestID)
			}
		})
	}
}

// holdAll starts n held invocations, waits until all are inside the function, releases them and
// returns their results.
func holdAll(t *testing.T, e *Emulator, fn string, n int) []result {
	t.Helper()
	release := filepath.Join(t.TempDir(), "release")
	ev := fmt.Sprintf(`{"op":"hold","file":%q}`, release)
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.Invoke(context.Background(), fn, []byte(ev))
			if err != nil {
				t.Errorf("held invocation: %v", err)
				return
			}
			json.Unmarshal(out, &results[i])
		}()
	}
	eventually(t, "all invocations to be running", func() bool { return stats(t, e, fn).Busy == n && countRunning(e, fn) == n })
	os.WriteFile(release, nil, 0o644)
	wg.Wait()
	return results
}

func countRunning(e *Emulator, fn string) int {
	n := 0
	for _, inv := range e.Invocations(fn, 0) {
		if inv.Status == StatusRunning && inv.Instance != "" {
			n++
		}
	}
	return n
}

func TestConcurrencyLimit(t *testing.T) {
	t.Run("custom instanceConcurrency 2", func(t *testing.T) {
		e, _ := newEmu(t, nil, spec{name: "api", runtime: "custom.debian10", concurrency: 2})
		res := holdAll(t, e, "api", 4)
		perInstance := map[string]int{}
		for _, r := range res {
			perInstance[r.Instance]++
			if r.Inflight > 2 {
				t.Errorf("instance %s served %d requests at once; the limit is 2", r.Instance, r.Inflight)
			}
		}
		if len(perInstance) != 2 {
			t.Errorf("4 concurrent requests at instanceConcurrency 2 ran on %d instances: %v", len(perInstance), perInstance)
		}
	})
	t.Run("go1 one request per instance", func(t *testing.T) {
		e, _ := newEmu(t, nil, spec{name: "timer", runtime: "go1"})
		res := holdAll(t, e, "timer", 3)
		seen := map[string]bool{}
		for _, r := range res {
			seen[r.Instance] = true
			if r.Inflight != 1 {
				t.Errorf("go1 instance served %d requests at once", r.Inflight)
			}
		}
		if len(seen) != 3 || stats(t, e, "timer").ColdStarts != 3 {
			t.Errorf("3 concurrent go1 requests ran on %d instances", len(seen))
		}
	})
	t.Run("max instances queue the rest", func(t *testing.T) {
		e, _ := newEmu(t, func(o *Options) { o.MaxInstances = 1 }, spec{name: "one", runtime: "go1"})
		release := filepath.Join(t.TempDir(), "release")
		done := make(chan result, 2)
		for range 2 {
			go func() {
				out, err := e.Invoke(context.Background(), "one", []byte(fmt.Sprintf(`{"op":"hold","file":%q}`, release)))
				if err != nil {
					t.Error(err)
				}
				var r result
				json.Unmarshal(out, &r)
				done <- r
			}()
		}
		eventually(t, "one running, one waiting", func() bool {
			return stats(t, e, "one").Busy == 1 && len(e.Invocations("one", 0)) == 2 && countRunning(e, "one") == 1
		})
		os.WriteFile(release, nil, 0o644)
		a, b := <-done, <-done
		if a.Instance != b.Instance || stats(t, e, "one").ColdStarts != 1 {
			t.Errorf("with MaxInstances 1 both requests should share one instance: %s %s", a.Instance, b.Instance)
		}
	})
}

func TestTimeoutKillsTheInstance(t *testing.T) {
	for _, rt := range runtimes {
		t.Run(rt, func(t *testing.T) {
			e, _ := newEmu(t, nil, spec{name: "slow", runtime: rt, timeout: time.Second})
			before := invoke(t, e, "slow", `{"op":"echo"}`)
			_, err := e.Invoke(context.Background(), "slow", []byte(`{"op":"sleep","ms":60000}`))
			var fe *Error
			if !errors.As(err, &fe) || fe.Type != ErrorTimeout {
				t.Fatalf("want a FunctionTimeout, got %v", err)
			}
			if s := stats(t, e, "slow"); s.Killed != 1 || s.Instances != 0 {
				t.Fatalf("timed-out instance not killed: %+v", s)
			}
			after := invoke(t, e, "slow", `{"op":"echo"}`)
			if after.Instance == before.Instance {
				t.Fatal("the killed instance served again")
			}
			invs := e.Invocations("slow", 0)
			if invs[1].Status != StatusTimeout || !invs[0].ColdStart {
				t.Fatalf("records: %+v", invs[:2])
			}
		})
	}
}

func TestCrashedProcessIsReplaced(t *testing.T) {
	for _, rt := range runtimes {
		t.Run(rt, func(t *testing.T) {
			e, _ := newEmu(t, nil, spec{name: "crashy", runtime: rt})
			before := invoke(t, e, "crashy", `{"op":"echo"}`)
			_, err := e.Invoke(context.Background(), "crashy", []byte(`{"op":"crash"}`))
			var fe *Error
			if !errors.As(err, &fe) || fe.Type != ErrorProcessExited || !strings.Contains(fe.Message, "exit status 3") {
				t.Fatalf("want ProcessExited with exit status 3, got %v", err)
			}
			after := invoke(t, e, "crashy", `{"op":"echo"}`)
			if after.Instance == before.Instance {
				t.Fatal("crashed instance served again")
			}
			if s := stats(t, e, "crashy"); s.Crashed != 1 || s.ColdStarts != 2 {
				t.Fatalf("stats %+v", s)
			}
			crash := e.Invocations("crashy", 0)[1]
			if !strings.Contains(crash.Log, "crashing now") {
				t.Errorf("crash output not in the invocation log: %q", crash.Log)
			}
		})
	}
}

func TestAsyncRetriesThenOnFailureDestination(t *testing.T) {
	for _, rt := range runtimes {
		t.Run(rt, func(t *testing.T) {
			var mu sync.Mutex
			var waits []int // the retry numbers the backoff was asked for, in order
			e, _ := newEmu(t, func(o *Options) {
				o.RetryBackoff = func(n int) time.Duration {
					mu.Lock()
					waits = append(waits, n)
					mu.Unlock()
					return time.Duration(n) * 10 * time.Millisecond
				}
			},
				spec{name: "worker", runtime: rt, retries: 2, onFailure: "acs:fc:cn-hangzhou:1:functions/failures"},
				spec{name: "failures", runtime: "go1"},
			)
			payload := `{"op":"fail"}`
			if err := e.InvokeAsync(context.Background(), "worker", "uploads", []byte(payload)); err != nil {
				t.Fatal(err)
			}
			var dest Invocation
			eventually(t, "the onFailure destination", func() bool {
				for _, inv := range e.Invocations("failures", 0) {
					if inv.Status == StatusSucceeded {
						dest = inv
						return true
					}
				}
				return false
			})
			attempts := e.Invocations("worker", 0)
			if len(attempts) != 3 {
				t.Fatalf("want 3 attempts (1 + maxAsyncRetryAttempts 2), got %d", len(attempts))
			}
			for i, inv := range attempts {
				wantRetry := len(attempts) - 1 - i
				if inv.RetryCount != wantRetry || inv.Status != StatusFailed || inv.Trigger != "uploads" || inv.Kind != KindAsync {
					t.Errorf("attempt %d: %+v", i, inv)
				}
				if inv.RequestID != attempts[0].RequestID {
					t.Errorf("retries changed the request id")
				}
				if !strings.Contains(inv.Log, fmt.Sprintf("retry=%d", wantRetry)) {
					t.Errorf("attempt with x-fc-retry-count %d logged %q", wantRetry, inv.Log)
				}
			}
			mu.Lock()
			if !slices.Equal(waits, []int{1, 2}) {
				t.Errorf("backoff asked for retries %v, want [1 2]: one pause before each retry, none after the last", waits)
			}
			mu.Unlock()
			if dest.Trigger != TriggerOnFailure {
				t.Errorf("destination trigger %q", dest.Trigger)
			}
			var rec destinationRecord
			_, line, _ := strings.Cut(dest.Log, dest.RequestID+": ")
			line, _, _ = strings.Cut(line, "\n")
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("destination got %q: %v", dest.Log, err)
			}
			if rec.RequestContext.ApproximateInvokeCount != 3 || rec.RequestContext.Condition != ErrorUnhandled ||
				rec.RequestPayload != payload || !strings.Contains(rec.ResponsePayload, "failing on purpose (retry 2)") ||
				rec.RequestContext.RequestID != attempts[0].RequestID {
				t.Errorf("destination record %+v", rec)
			}
		})
	}
}

// TestDefaultRetryBackoffGrows: without an override, the pause before async retry n doubles
// from 1 s and stops growing at a minute.
func TestDefaultRetryBackoffGrows(t *testing.T) {
	e, _ := newEmu(t, func(o *Options) { o.RetryBackoff = nil })
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		got = append(got, e.opts.RetryBackoff(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	if !slices.Equal(got, want) {
		t.Errorf("default backoff %v, want %v", got, want)
	}
}

func TestIdleInstancesAreReclaimedWithPreStop(t *testing.T) {
	for _, rt := range runtimes {
		t.Run(rt, func(t *testing.T) {
			e, out := newEmu(t, func(o *Options) { o.IdleTimeout = 100 * time.Millisecond }, spec{name: "idle", runtime: rt, hooks: true})
			invoke(t, e, "idle", `{"op":"echo"}`)
			eventually(t, "reclaim", func() bool { s := stats(t, e, "idle"); return s.Reclaimed == 1 && s.Instances == 0 })
			eventually(t, "preStop output", func() bool { return strings.Contains(out.String(), "preStop ran") })
			if r := invoke(t, e, "idle", `{"op":"echo"}`); !r.Initialized {
				t.Error("new instance after reclaim was not initialized")
			}
			if s := stats(t, e, "idle"); s.ColdStarts != 2 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestCloseRunsPreStopAndRefusesWork(t *testing.T) {
	for _, rt := range runtimes {
		t.Run(rt, func(t *testing.T) {
			e, out := newEmu(t, nil, spec{name: "svc", runtime: rt, hooks: true})
			invoke(t, e, "svc", `{"op":"echo"}`)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := e.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "preStop ran") {
				t.Errorf("preStop did not run at shutdown:\n%s", out)
			}
			if s := stats(t, e, "svc"); s.Instances != 0 {
				t.Errorf("instances left: %+v", s)
			}
			if _, err := e.Invoke(context.Background(), "svc", []byte(`{}`)); !errors.Is(err, ErrClosed) {
				t.Errorf("invoke after close: %v", err)
			}
		})
	}
}

func TestHTTPTrigger(t *testing.T) {
	for _, rt := range runtimes {
		t.Run(rt, func(t *testing.T) {
			c := clock.New()
			c.Advance(720 * time.Hour)
			e, _ := newEmu(t, func(o *Options) { o.Clock = c }, spec{name: "web", runtime: rt})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				e.HandleHTTP(w, r, "web", "http")
			}))
			defer srv.Close()
			resp, err := http.Post(srv.URL+"/api/v1/things?op=echo", "text/plain", strings.NewReader("héllo"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Fixture") == "" || resp.Header.Get("x-fc-request-id") == "" {
				t.Fatalf("status %d headers %v body %s", resp.StatusCode, resp.Header, body)
			}
			var r result
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if r.Path != "/api/v1/things" || r.Method != "POST" || r.Body != "héllo" {
				t.Errorf("function saw %+v", r)
			}
			if rt != "go1" && r.ControlPath != "/http-invoke" {
				t.Errorf("x-fc-control-path %q", r.ControlPath)
			}
			now, err := time.Parse(time.RFC3339Nano, r.Now)
			if err != nil || now.Sub(time.Now()) < 719*time.Hour {
				t.Errorf("x-fclocal-now %q does not carry the shifted clock", r.Now)
			}
			inv := e.Invocations("web", 1)[0]
			if inv.StatusCode != http.StatusCreated || inv.Kind != KindHTTP || inv.Trigger != "http" || inv.RequestID != resp.Header.Get("x-fc-request-id") {
				t.Errorf("record %+v", inv)
			}

			// A handler error becomes a problem+json 502.
			resp, err = http.Get(srv.URL + "/x?op=nope")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if rt == "go1" && (resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Content-Type") != "application/problem+json") {
				t.Errorf("go1 handler error: status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if rt != "go1" && resp.StatusCode != http.StatusInternalServerError {
				t.Errorf("custom handler's own 500 not passed through: %d", resp.StatusCode)
			}
		})
	}
}

func TestResponseOverFCLimitFails(t *testing.T) {
	for _, rt := range runtimes {
		t.Run(rt, func(t *testing.T) {
			e, _ := newEmu(t, nil, spec{name: "big", runtime: rt})
			_, err := e.Invoke(context.Background(), "big", []byte(`{"op":"big"}`))
			var fe *Error
			if !errors.As(err, &fe) || fe.Type != "ResponseTooLarge" {
				t.Fatalf("a result over 32 MB: %v", err)
			}
			invoke(t, e, "big", `{"op":"echo"}`) // the instance is still fine
		})
	}
}

func TestBadCalls(t *testing.T) {
	e, _ := newEmu(t, nil, spec{name: "fn", runtime: "go1"})
	if err := e.InvokeAsync(context.Background(), "fn", "t", make([]byte, MaxAsyncPayload+1)); !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("oversize async payload: %v", err)
	}
	if _, err := e.Invoke(context.Background(), "nope", nil); !errors.Is(err, ErrUnknownFunction) {
		t.Errorf("unknown function: %v", err)
	}
	if err := e.InvokeAsync(context.Background(), "nope", "t", nil); !errors.Is(err, ErrUnknownFunction) {
		t.Errorf("unknown function async: %v", err)
	}
	bad, _ := newEmu(t, func(o *Options) { o.Functions[0].Executable = "/nonexistent/main" }, spec{name: "broken", runtime: "go1"})
	_, err := bad.Invoke(context.Background(), "broken", []byte(`{}`))
	var fe *Error
	if !errors.As(err, &fe) || fe.Type != ErrorStart {
		t.Errorf("missing binary: %v", err)
	}
}
