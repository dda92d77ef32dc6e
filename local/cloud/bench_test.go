package cloud

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"vodfc.dev/local/fcemu"
)

// Request overhead of the local cloud (docs/benchmarks.md, bench/local-cloud.sh): the same
// trivial handler reached through the gateway and fcemu, straight on the function binary's own
// custom-runtime port, and a bare net/http hello world as the floor.

func freePort(b *testing.B) int {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProcess runs bin with env and waits until GET url answers 200; it returns how long that
// took from the fork.
func startProcess(b *testing.B, bin string, env []string, url string) (*exec.Cmd, time.Duration) {
	b.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, time.Since(start)
			}
		}
		if time.Since(start) > 30*time.Second {
			cmd.Process.Kill()
			b.Fatalf("%s never answered %s: %v", bin, url, err)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

func stopProcess(cmd *exec.Cmd) {
	cmd.Process.Kill()
	cmd.Wait()
}

var (
	helloOnce sync.Once
	helloBin  string
	helloErr  error
)

func buildHello(b *testing.B) string {
	b.Helper()
	helloOnce.Do(func() {
		helloBin = filepath.Join(cl.DataDir, "bin", "hello", "main")
		out, err := exec.Command("go", "build", "-o", helloBin, "./testdata/hello").CombinedOutput()
		if err != nil {
			helloErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if helloErr != nil {
		b.Fatal(helloErr)
	}
	return helloBin
}

func fnBinary(name string) string { return filepath.Join(cl.DataDir, "bin", name, "main") }

func BenchmarkRequest(b *testing.B) {
	helloPort := freePort(b)
	hello, _ := startProcess(b, buildHello(b), []string{"PORT=" + strconv.Itoa(helloPort)}, fmt.Sprintf("http://127.0.0.1:%d/hello", helloPort))
	defer stopProcess(hello)
	directPort := freePort(b)
	direct, _ := startProcess(b, fnBinary("bench-custom"), []string{"FC_SERVER_PORT=" + strconv.Itoa(directPort), "FCLOCAL=1",
		"FC_FUNCTION_NAME=direct", "FIXTURE_ROLE=http"}, fmt.Sprintf("http://127.0.0.1:%d/hello", directPort))
	defer stopProcess(direct)

	targets := []struct{ name, url string }{
		{"nethttp-hello", fmt.Sprintf("http://127.0.0.1:%d/hello", helloPort)},
		{"direct-custom", fmt.Sprintf("http://127.0.0.1:%d/hello", directPort)},
		{"gateway-custom", cl.GatewayURL + "/api/v1/bench/custom/hello"},
		{"gateway-go1", cl.GatewayURL + "/api/v1/bench/go1/hello"},
	}
	for _, mode := range []string{"serial", "parallel"} {
		for _, tg := range targets {
			b.Run(mode+"/"+tg.name, func(b *testing.B) {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
				get := func() {
					resp, err := client.Get(tg.url)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("%s: %d", tg.url, resp.StatusCode)
					}
				}
				// Warm: cold starts (and, for go1, one instance per concurrent request) are
				// measured by BenchmarkColdStart, not here.
				var wg sync.WaitGroup
				for range 8 {
					wg.Add(1)
					go func() { defer wg.Done(); get() }()
				}
				wg.Wait()
				b.ResetTimer()
				if mode == "serial" {
					for b.Loop() {
						get()
					}
				} else {
					b.SetParallelism(4) // 4 x GOMAXPROCS clients
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							get()
						}
					})
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
		}
	}
}

// BenchmarkColdStart measures a cold start: fcemu starting an instance of the function binary
// until its runtime is ready, and until the first response; and, as the floor, the bare
// process started by hand until it first answers on its port.
func BenchmarkColdStart(b *testing.B) {
	for _, rt := range []string{"custom", "go1"} {
		b.Run("fcemu-"+rt, func(b *testing.B) {
			name := "bench-" + rt
			spec := cl.Manifest.Function(name)
			var ready, first float64
			for b.Loop() {
				e, err := fcemu.New(fcemu.Options{Credentials: cl.Credentials, Functions: []fcemu.Function{{
					Spec: spec, Executable: fnBinary(name), TmpDir: b.TempDir(), Env: map[string]string{"FIXTURE_ROLE": "http"}}}})
				if err != nil {
					b.Fatal(err)
				}
				rec := httptest.NewRecorder()
				e.HandleHTTP(rec, httptest.NewRequest("GET", "/hello", nil), name, "http")
				if rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
				inv := e.Invocations(name, 1)[0]
				ready += inv.ColdStartMS
				first += inv.DurationMS
				e.Close(context.Background())
			}
			b.ReportMetric(ready/float64(b.N), "ms-to-ready")
			b.ReportMetric(first/float64(b.N), "ms-to-first-response")
		})
	}
	b.Run("process-custom", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			port := freePort(b)
			cmd, took := startProcess(b, fnBinary("bench-custom"), []string{"FC_SERVER_PORT=" + strconv.Itoa(port), "FCLOCAL=1",
				"FC_FUNCTION_NAME=direct", "FIXTURE_ROLE=http"}, fmt.Sprintf("http://127.0.0.1:%d/hello", port))
			total += took
			stopProcess(cmd)
		}
		b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-first-response")
	})
}
