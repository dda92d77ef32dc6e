package runtime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hangGuard bounds every wait on a child process; it only keeps a broken test from hanging.
const hangGuard = 60 * time.Second

// child is a re-executed test binary running one of the function entry points.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  []string
	more chan struct{} // closed and replaced on every new stdout line
	exit chan error
}

// startChild runs the test binary as role with env (on top of a clean environment).
func startChild(t *testing.T, role string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "FC_") || strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "ALIBABA_CLOUD_") ||
			k == "PORT" || k == "FCLOCAL" || k == "LOG_LEVEL" || k == roleEnv {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, roleEnv+"="+role)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, more: make(chan struct{}), exit: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.out = append(c.out, sc.Text())
			close(c.more)
			c.more = make(chan struct{})
			c.mu.Unlock()
		}
		c.exit <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("child %s stdout:\n%s", role, strings.Join(c.lines(), "\n"))
		} else if os.Getenv("VODFC_TEST_LOG") != "" {
			t.Logf("child %s stdout:\n%s", role, strings.Join(c.lines(), "\n"))
		}
	})
	return c
}

func (c *child) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.out...)
}

// waitLine waits for a stdout line containing every one of parts and returns it.
func (c *child) waitLine(parts ...string) string {
	c.t.Helper()
	deadline := time.After(hangGuard)
	seen := 0
	for {
		c.mu.Lock()
		out, more := c.out, c.more
		c.mu.Unlock()
		for ; seen < len(out); seen++ {
			if containsAll(out[seen], parts) {
				return out[seen]
			}
		}
		select {
		case <-more:
		case <-deadline:
			c.t.Fatalf("no stdout line with %q", parts)
		}
	}
}

// count counts stdout lines containing every one of parts.
func (c *child) count(parts ...string) int {
	n := 0
	for _, l := range c.lines() {
		if containsAll(l, parts) {
			n++
		}
	}
	return n
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func (c *child) signal(s os.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(s); err != nil {
		c.t.Fatal(err)
	}
}

// wait waits for the child to exit and returns its exit status.
func (c *child) wait() int {
	c.t.Helper()
	select {
	case err := <-c.exit:
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		c.t.Fatal(err)
	case <-time.After(hangGuard):
		c.t.Fatal("child did not exit")
	}
	return -1
}

// fakeRuntimeAPI is the platform side of a pull-based runtime API (FC go1's
// /2020-11-11/runtime/invocation/ and Lambda's /2018-06-01/runtime/invocation/): it hands
// queued invocations to the function's long poll and collects the results.
type fakeRuntimeAPI struct {
	prefix  string
	srv     *httptest.Server
	queue   chan *fakeInvoke
	mu      sync.Mutex
	pending map[string]*fakeInvoke
	seq     int
}

type fakeInvoke struct {
	id      string
	headers map[string]string
	payload []byte
	done    chan fakeResult
}

type fakeResult struct {
	failed bool
	body   []byte
}

const (
	fcGo1Prefix  = "/2020-11-11/runtime/invocation/"
	lambdaPrefix = "/2018-06-01/runtime/invocation/"
)

func newFakeRuntimeAPI(t *testing.T, prefix string) *fakeRuntimeAPI {
	a := &fakeRuntimeAPI{prefix: prefix, queue: make(chan *fakeInvoke, 16), pending: map[string]*fakeInvoke{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeRuntimeAPI) addr() string { return strings.TrimPrefix(a.srv.URL, "http://") }

func (a *fakeRuntimeAPI) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, a.prefix)
	if !ok {
		http.NotFound(w, r) // e.g. Lambda's extension registration: not offered here
		return
	}
	if rest == "next" && r.Method == http.MethodGet {
		select {
		case inv := <-a.queue:
			for k, v := range inv.headers {
				w.Header().Set(k, v)
			}
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
		return
	}
	id, kind, _ := strings.Cut(rest, "/")
	a.mu.Lock()
	inv := a.pending[id]
	delete(a.pending, id)
	a.mu.Unlock()
	if inv == nil || r.Method != http.MethodPost || (kind != "response" && kind != "error") {
		http.Error(w, "unknown invocation", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if a.prefix == lambdaPrefix {
		w.WriteHeader(http.StatusAccepted) // Lambda acknowledges with 202, FC with 200
	}
	inv.done <- fakeResult{failed: kind == "error", body: body}
}

// invoke queues one invocation and waits for its result. headers are added to the ones every
// invocation carries (request id and, when fc, FC's deadline and timeout).
func (a *fakeRuntimeAPI) invoke(t *testing.T, fc bool, payload []byte, headers map[string]string) (string, fakeResult) {
	t.Helper()
	a.mu.Lock()
	a.seq++
	id := fmt.Sprintf("req-%d-%d", time.Now().UnixNano(), a.seq)
	inv := &fakeInvoke{id: id, payload: payload, headers: map[string]string{}, done: make(chan fakeResult, 1)}
	a.pending[id] = inv
	a.mu.Unlock()
	deadline := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
	if fc {
		inv.headers["x-fc-request-id"] = id
		inv.headers["x-fc-function-deadline"] = deadline
		inv.headers["x-fc-function-timeout"] = "60"
	} else {
		inv.headers["Lambda-Runtime-Aws-Request-Id"] = id
		inv.headers["Lambda-Runtime-Deadline-Ms"] = deadline
		inv.headers["Lambda-Runtime-Invoked-Function-Arn"] = "arn:aws:lambda:us-east-1:123456789012:function:videos"
	}
	for k, v := range headers {
		inv.headers[k] = v
	}
	a.queue <- inv
	select {
	case res := <-inv.done:
		return id, res
	case <-time.After(hangGuard):
		t.Fatalf("invocation %s got no result", id)
	}
	return id, fakeResult{}
}

func jsonLineHas(line, key, want string) bool {
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil {
		return false
	}
	return fmt.Sprint(m[key]) == want
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(bytes.TrimSpace(b), v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}
