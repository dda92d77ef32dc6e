package otsemu_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"

	"vodfc.dev/local/otsemu"
)

// Benchmarks drive the emulator through the real SDK, in-process (TableStoreConfig.Transport)
// and over loopback TCP, in memory and with a durable (fsync'd) data directory. Results and
// the command are recorded in docs/benchmarks.md.
//
//	go test -run '^$' -bench . -benchtime 2s ./local/otsemu/

// benchTarget starts an emulator (memory or durable) and returns a target for it, in-process
// or over loopback, with a table of 10,000 rows.
func benchTarget(b *testing.B, durable, loopback bool) (*target, string) {
	b.Helper()
	opts := otsemu.Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Instance: testInst}
	if durable {
		opts.DataDir = b.TempDir()
	}
	s, err := otsemu.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	tg := &target{endpoint: "http://otsemu.invalid", instance: testInst, keyID: testKeyID, secret: testSecret, rt: s.Transport(), emu: s}
	if loopback {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: s}
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Close() })
		tg.endpoint, tg.rt = "http://"+ln.Addr().String(), nil
	}
	name := tg.newTable(b, []pkDef{{"id", tablestore.PrimaryKeyType_STRING, false}}, tableOpts{})
	// Preload through the in-process transport: the fastest way, and not what is measured.
	pre := &target{endpoint: "http://otsemu.invalid", instance: testInst, keyID: testKeyID, secret: testSecret, rt: s.Transport()}
	c := pre.client(0)
	for start := 0; start < 10000; start += 200 {
		req := &tablestore.BatchWriteRowRequest{}
		for i := start; i < start+200; i++ {
			p := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("id", fmt.Sprintf("row%08d", i))}
			p.AddColumn("title", "a video title of ordinary length")
			p.AddColumn("views", int64(i))
			p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
			req.AddRowChange(p)
		}
		must[*tablestore.BatchWriteRowResponse](b)(c.BatchWriteRow(req))
	}
	return tg, name
}

// cpuTime is the CPU time this process (client and emulator together) has used. On a shared
// machine wall-clock throughput swings with other load; CPU per operation does much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, since time.Duration) {
	b.ReportMetric(float64((cpuTime()-since).Microseconds())/float64(b.N), "cpu-µs/op")
}

type benchOp struct {
	name    string
	perCall int
	call    func(c *tablestore.TableStoreClient, table string, i int64) error
}

// stubTarget is the baseline: a handler that answers every call with a response recorded
// from the emulator, without authenticating, parsing or touching data. What the SDK, HTTP and
// the transport cost is what it measures; the emulator's own cost is the difference.
func stubTarget(b *testing.B, emu *target, table string, loopback bool, ops []benchOp) *target {
	rec := &responseRecorder{next: emu.rt, bodies: map[string][]byte{}, headers: map[string]http.Header{}}
	if rec.next == nil {
		rec.next = http.DefaultTransport
	}
	recording := *emu
	recording.rt = rec
	c := recording.client(0)
	for _, op := range ops {
		if err := op.call(c, table, 1); err != nil {
			b.Fatal(err)
		}
	}
	stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		for k, v := range rec.headers[r.URL.Path] {
			w.Header()[k] = v
		}
		w.Write(rec.bodies[r.URL.Path])
	})
	tg := &target{endpoint: "http://stub.invalid", instance: testInst, keyID: testKeyID, secret: testSecret, rt: handlerTransport{stub}}
	if loopback {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: stub}
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Close() })
		tg.endpoint, tg.rt = "http://"+ln.Addr().String(), nil
	}
	return tg
}

type responseRecorder struct {
	next    http.RoundTripper
	bodies  map[string][]byte
	headers map[string]http.Header
}

func (r *responseRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.bodies[req.URL.Path], r.headers[req.URL.Path] = body, resp.Header.Clone()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// handlerTransport calls a handler in-process, as the emulator's Transport does.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, req)
	req.Body.Close()
	return w.Result(), nil
}

// BenchmarkOps reports rows/s for each operation, storage and transport. Every run uses
// RunParallel (GOMAXPROCS goroutines, each with its own SDK client).
func BenchmarkOps(b *testing.B) {
	ops := []benchOp{
		{"PutRow", 1, func(c *tablestore.TableStoreClient, table string, i int64) error {
			p := &tablestore.PutRowChange{TableName: table, PrimaryKey: pk1("id", fmt.Sprintf("row%08d", i%10000))}
			p.AddColumn("title", "a video title of ordinary length")
			p.AddColumn("views", i)
			p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
			_, err := c.PutRow(&tablestore.PutRowRequest{PutRowChange: p})
			return err
		}},
		{"GetRow", 1, func(c *tablestore.TableStoreClient, table string, i int64) error {
			q := &tablestore.SingleRowQueryCriteria{TableName: table, PrimaryKey: pk1("id", fmt.Sprintf("row%08d", i%10000)), MaxVersion: 1}
			r, err := c.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: q})
			if err == nil && len(r.Columns) != 2 {
				err = fmt.Errorf("row %d has %d columns", i, len(r.Columns))
			}
			return err
		}},
		{"UpdateRowIncrement", 1, func(c *tablestore.TableStoreClient, table string, i int64) error {
			u := &tablestore.UpdateRowChange{TableName: table, PrimaryKey: pk1("id", fmt.Sprintf("row%08d", i%10000))}
			u.IncrementColumn("views", 1)
			u.SetReturnIncrementValue()
			u.AppendIncrementColumnToReturn("views")
			_, err := update(c, u)
			return err
		}},
		{"GetRange100", 100, func(c *tablestore.TableStoreClient, table string, i int64) error {
			i %= 9900
			crit := &tablestore.RangeRowQueryCriteria{TableName: table, StartPrimaryKey: pk1("id", fmt.Sprintf("row%08d", i)),
				EndPrimaryKey: pk1("id", fmt.Sprintf("row%08d", i+100)), Direction: tablestore.FORWARD, MaxVersion: 1, Limit: 100}
			r, err := c.GetRange(&tablestore.GetRangeRequest{RangeRowQueryCriteria: crit})
			if err == nil && len(r.Rows) != 100 {
				err = fmt.Errorf("range from %d has %d rows", i, len(r.Rows))
			}
			return err
		}},
	}
	for _, storage := range []string{"stub", "memory", "durable"} {
		for _, transport := range []string{"inproc", "loopback"} {
			var tg *target
			var table string
			for _, op := range ops {
				parent := b
				b.Run(storage+"/"+transport+"/"+op.name, func(b *testing.B) {
					if tg == nil {
						// The emulator outlives this sub-benchmark's runs: it belongs to the parent.
						tg, table = benchTarget(parent, storage == "durable", transport == "loopback")
						if storage == "stub" {
							tg = stubTarget(parent, tg, table, transport == "loopback", ops)
						}
					}
					var n atomic.Int64
					cpu := cpuTime()
					b.RunParallel(func(pb *testing.PB) {
						c := tg.client(0)
						for pb.Next() {
							if err := op.call(c, table, n.Add(1)); err != nil {
								b.Fatal(err)
							}
						}
					})
					b.ReportMetric(float64(b.N*op.perCall)/b.Elapsed().Seconds(), "rows/s")
					reportCPU(b, cpu)
				})
			}
		}
	}
}
