package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vodfc.dev/local/clock"
	"vodfc.dev/local/cloud"
)

// fclocal is the command under test, built once.
var fclocal string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fclocal-test-")
	if err != nil {
		panic(err)
	}
	fclocal = filepath.Join(dir, "fclocal")
	if out, err := exec.Command("go", "build", "-o", fclocal, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building fclocal: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(fclocal, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func TestUpStopsOnMalformedManifest(t *testing.T) {
	src, err := os.ReadFile("testdata/s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(src), "memorySize: 128\n      cpu: 0.1\n      timeout: 10\n\n", "memorySize: 100\n      cpu: 0.1\n      timeout: 10\n\n", 1)
	path := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(path, []byte(bad), 0o644)
	_, stderr, err := run(t, "", "up", "--manifest", path, "--addr", "127.0.0.1:0", "--data", t.TempDir())
	if err == nil {
		t.Fatal("fclocal up accepted a bad s.yaml")
	}
	line := strings.Count(bad[:strings.Index(bad, "memorySize: 100")], "\n") + 1
	want := fmt.Sprintf("%s:%d:", path, line)
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, "multiple of 64") {
		t.Fatalf("want %q and the reason in:\n%s", want, stderr)
	}

	// Broken YAML too.
	os.WriteFile(path, []byte("edition: 3.0.0\nresources:\n  a: [\n"), 0o644)
	_, stderr, err = run(t, "", "up", "--manifest", path, "--addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(stderr, path+":") || !strings.Contains(stderr, "not valid YAML") {
		t.Fatalf("broken YAML: %v\n%s", err, stderr)
	}
}

// TestUpServesThenStopsOnInterrupt runs `fclocal up` as `make run` does, on the local cloud's
// end-to-end project: it prints the URLs and every function with its triggers, serves through
// the gateway, and on Ctrl-C (SIGINT) runs each instance's preStop hook and exits 0.
func TestUpServesThenStopsOnInterrupt(t *testing.T) {
	free := "127.0.0.1:0"
	cmd := exec.Command(fclocal, "up", "--manifest", "../../cloud/testdata/s.yaml", "--data", t.TempDir(),
		"--functions", "web-go1,web-custom,timer-custom",
		"--addr", free, "--oss-addr", free, "--ots-addr", free, "--smtp-addr", free, "--redis-addr", free)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REDIS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr cloud.Log // shared by the child's stderr copier and the test
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	}()

	// The summary ends with a blank line after the function table.
	summary := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		inFunctions := false
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if sc.Text() == "functions" {
				inFunctions = true
			} else if inFunctions && sc.Text() == "" {
				break
			}
		}
		summary <- b.String()
		io.Copy(io.Discard, stdout)
	}()
	var out string
	select {
	case out = <-summary:
	case err := <-exited:
		t.Fatalf("fclocal up exited before it was up: %v\n%s", err, stderr.String())
	case <-time.After(5 * time.Minute): // hang guard
		t.Fatalf("fclocal up printed no summary:\n%s", stderr.String())
	}
	gw := regexp.MustCompile(`API gateway\s+(http://127\.0\.0\.1:\d+)`).FindStringSubmatch(out)
	if gw == nil {
		t.Fatalf("no gateway URL in the summary:\n%s", out)
	}
	for _, want := range []string{
		"console", gw[1] + "/_local/health", "OSS", "Tablestore", "Redis", "SMTP sink",
		"web-go1", "web-custom", "go1", "custom.debian10 x2", "http http", "routes /api/v1/go1/*",
		"timer-custom", "timer weekly", "(disabled)", "fire now: POST " + gw[1] + "/_local/timers/timer-custom/hourly",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary lacks %q:\n%s", want, out)
		}
	}
	for _, path := range []string{"/api/v1/go1/echo", "/api/v1/custom/echo", "/_local/health"} {
		resp, err := http.Get(gw[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}

	// `fclocal invoke` finds the running cloud at --addr and invokes through it, with an event
	// from a file that `fclocal event` wrote.
	evFile := filepath.Join(t.TempDir(), "http.json")
	ev, _, err := run(t, "", "event", "http", "--path", "/api/v1/go1/echo")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(evFile, []byte(ev), 0o644)
	invOut, invErr, err := run(t, "", "invoke", "web-go1", "--event", evFile, "--addr", strings.TrimPrefix(gw[1], "http://"))
	var res struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err != nil || !strings.Contains(invErr, "on the local cloud at "+gw[1]) || json.Unmarshal([]byte(invOut), &res) != nil ||
		res.StatusCode != 200 || !strings.Contains(res.Body, `"path":"/api/v1/go1/echo"`) {
		t.Errorf("invoke on the running cloud: %v\nstdout %s\nstderr %s", err, invOut, invErr)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("fclocal up after Ctrl-C: %v\n%s", err, stderr.String())
		}
	case <-time.After(2 * time.Minute): // hang guard
		t.Fatalf("fclocal up did not stop on Ctrl-C:\n%s", stderr.String())
	}
	// One instance each of web-go1 and web-custom ran, and both declare a preStop hook.
	if n := strings.Count(stderr.String(), "| preStop ran"); n != 2 {
		t.Errorf("preStop ran %d times on Ctrl-C, want 2:\n%s", n, stderr.String())
	}
	if _, err := http.Get(gw[1] + "/_local/health"); err == nil {
		t.Error("the gateway still answers after fclocal up exited")
	}
}

func TestInvokeStartsACloudForOneFunction(t *testing.T) {
	data := t.TempDir()
	out, stderr, err := run(t, `{"hello":"world"}`, "invoke", "echo", "--event", "-", "--manifest", "testdata/s.yaml", "--data", data, "--addr", "127.0.0.1:1")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if strings.TrimSpace(out) != `{"hello":"world"}` {
		t.Fatalf("stdout %q", out)
	}
	if !strings.Contains(stderr, `echo#1 | echo got {"hello":"world"}`) || !strings.Contains(stderr, "cold start true") {
		t.Fatalf("stderr lacks the function's output or the summary:\n%s", stderr)
	}
	out, stderr, err = run(t, `{"fail":true}`, "invoke", "echo", "--event", "-", "--manifest", "testdata/s.yaml", "--data", data, "--addr", "127.0.0.1:1")
	if err == nil || !strings.Contains(stderr, "asked to fail") {
		t.Fatalf("failing invocation: %v\n%s\n%s", err, out, stderr)
	}
}

func TestTimerEventsCarryTheLocalCloudsClock(t *testing.T) {
	data := t.TempDir()
	c, err := clock.Open(filepath.Join(data, "clock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Advance(30 * 24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := printEvent(&b, []string{"timer", "--data", data, "--payload", `{"dryRun":true}`}); err != nil {
		t.Fatal(err)
	}
	var ev struct{ TriggerTime, Payload string }
	json.Unmarshal(b.Bytes(), &ev)
	at, err := time.Parse(time.RFC3339, ev.TriggerTime)
	if err != nil || at.Sub(time.Now()) < 29*24*time.Hour || ev.Payload != `{"dryRun":true}` {
		t.Fatalf("timer event %s", b.String())
	}
	b.Reset()
	printEvent(&b, []string{"timer", "--at", "2025-06-01T19:30:00Z"})
	if !strings.Contains(b.String(), `"triggerTime": "2025-06-01T19:30:00Z"`) {
		t.Fatalf("--at: %s", b.String())
	}
	if err := printEvent(&b, []string{"timer", "--at", "tomorrow"}); err == nil {
		t.Fatal("--at tomorrow accepted")
	}
}

func TestEventSamples(t *testing.T) {
	for _, kind := range []string{"oss", "timer", "http"} {
		var b bytes.Buffer
		if err := printEvent(&b, []string{kind}); err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(b.Bytes(), &v); err != nil {
			t.Fatalf("%s sample is not JSON: %v\n%s", kind, err, b.String())
		}
	}
	var b bytes.Buffer
	printEvent(&b, []string{"oss", "--key", "uploads/x y/source", "--event", "oss:ObjectCreated:CompleteMultipartUpload"})
	if !strings.Contains(b.String(), `"eventName": "ObjectCreated:CompleteMultipartUpload"`) || !strings.Contains(b.String(), `"key": "uploads/x y/source"`) {
		t.Errorf("oss sample flags ignored:\n%s", b.String())
	}
	b.Reset()
	printEvent(&b, []string{"http", "--method", "POST", "--path", "/api/v1/videos?a=1&a=2", "--body", `{"title":"t"}`})
	var ev struct {
		RawPath         string            `json:"rawPath"`
		Body            string            `json:"body"`
		QueryParameters map[string]string `json:"queryParameters"`
		RequestContext  struct{ HTTP struct{ Method string } }
	}
	json.Unmarshal(b.Bytes(), &ev)
	if ev.RawPath != "/api/v1/videos" || ev.Body != `{"title":"t"}` || ev.QueryParameters["a"] != "1,2" || ev.RequestContext.HTTP.Method != "POST" {
		t.Errorf("http sample %+v", ev)
	}
	if err := printEvent(&b, []string{"sqs"}); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestPackageZipsWithTheExecBit(t *testing.T) {
	root := t.TempDir()
	src, _ := os.ReadFile("testdata/s.yaml")
	os.WriteFile(filepath.Join(root, "s.yaml"), src, 0o644)
	abs, _ := filepath.Abs("testdata/echo")
	for _, fn := range []string{"echo", "web"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(root, "dist", fn, "main"), ".")
		cmd.Dir = abs
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	os.WriteFile(filepath.Join(root, "dist", "web", "README.txt"), []byte("extra file"), 0o600)
	os.Chmod(filepath.Join(root, "dist", "echo", "main"), 0o644) // lost exec bit on disk: the zip restores it
	out, stderr, err := run(t, "", "package", "--manifest", filepath.Join(root, "s.yaml"), "--dist", filepath.Join(root, "dist"))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, fn := range []string{"echo", "web"} {
		z := filepath.Join(root, "dist", fn+".zip")
		if !strings.Contains(out, z) {
			t.Errorf("output does not list %s:\n%s", z, out)
		}
		zr, err := zip.OpenReader(z)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]os.FileMode{}
		for _, f := range zr.File {
			names[f.Name] = f.Mode()
		}
		zr.Close()
		if m, ok := names["main"]; !ok || m&0o111 == 0 {
			t.Errorf("%s: main missing or not executable: %v", fn, names)
		}
		if fn == "web" {
			if m, ok := names["README.txt"]; !ok || m&0o111 != 0 {
				t.Errorf("web: extra file missing or made executable: %v", names)
			}
		}
	}
	// Deterministic: the same input gives the same zip.
	first, _ := os.ReadFile(filepath.Join(root, "dist", "echo.zip"))
	run(t, "", "package", "--manifest", filepath.Join(root, "s.yaml"), "--dist", filepath.Join(root, "dist"))
	second, _ := os.ReadFile(filepath.Join(root, "dist", "echo.zip"))
	if !bytes.Equal(first, second) {
		t.Error("packaging twice gave different zips")
	}

	// A binary for the wrong platform is refused with the fix.
	os.WriteFile(filepath.Join(root, "dist", "echo", "main"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	_, stderr, err = run(t, "", "package", "--manifest", filepath.Join(root, "s.yaml"), "--dist", filepath.Join(root, "dist"))
	if err == nil || !strings.Contains(stderr, "GOOS=linux GOARCH=amd64") {
		t.Fatalf("non-ELF executable: %v\n%s", err, stderr)
	}
}
