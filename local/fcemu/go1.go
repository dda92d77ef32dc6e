package fcemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// go1Driver is the FC go1 runtime API for one instance. Each instance gets its own listener,
// like the per-instance runtime API of FC, so the pool decides which process takes which
// invocation: fc-runtime-go-sdk polls `next` again right after dispatching a request, and only
// the pool knows the instance is still busy.
type go1Driver struct {
	in     *instance
	ln     net.Listener
	srv    *http.Server
	calls  chan *go1Call
	readyC chan struct{}
	once   sync.Once
	closed chan struct{}
	cOnce  sync.Once

	mu      sync.Mutex
	pending map[string]*go1Call
}

type go1Call struct {
	c    *call
	hdr  http.Header
	done chan go1Result
}

type go1Result struct {
	body   []byte
	isErr  bool
	tooBig bool
}

const runtimeAPIPrefix = "/2020-11-11/runtime/invocation/"

func newGo1Driver(in *instance) (*go1Driver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &go1Driver{in: in, ln: ln, calls: make(chan *go1Call), readyC: make(chan struct{}),
		closed: make(chan struct{}), pending: map[string]*go1Call{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+runtimeAPIPrefix+"next", d.next)
	mux.HandleFunc("POST "+runtimeAPIPrefix+"{id}/response", func(w http.ResponseWriter, r *http.Request) { d.answer(w, r, false) })
	mux.HandleFunc("POST "+runtimeAPIPrefix+"{id}/error", func(w http.ResponseWriter, r *http.Request) { d.answer(w, r, true) })
	d.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go d.srv.Serve(ln)
	return d, nil
}

func (d *go1Driver) env() []string {
	return []string{"FC_RUNTIME_API=" + d.ln.Addr().String()}
}

// waitReady: a go1 instance is ready when the SDK first asks for work.
func (d *go1Driver) waitReady(ctx context.Context) error {
	select {
	case <-d.readyC:
		return nil
	case <-d.in.exit:
		return d.in.processExited()
	case <-ctx.Done():
		return errors.New("the function never polled the runtime API (does main call fc.Start through shared/runtime?)")
	}
}

func (d *go1Driver) next(w http.ResponseWriter, r *http.Request) {
	d.once.Do(func() { close(d.readyC) })
	select {
	case gc := <-d.calls:
		d.mu.Lock()
		d.pending[gc.c.id] = gc
		d.mu.Unlock()
		for k, v := range gc.hdr {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		w.Write(gc.c.payload)
	case <-r.Context().Done():
	case <-d.closed:
		// Answering would make the SDK spin on `next`; the process is being killed anyway.
		<-r.Context().Done()
	}
}

func (d *go1Driver) answer(w http.ResponseWriter, r *http.Request, isErr bool) {
	id := r.PathValue("id")
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxSyncPayload+1))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d.mu.Lock()
	gc := d.pending[id]
	delete(d.pending, id)
	d.mu.Unlock()
	if gc == nil {
		http.Error(w, "no invocation "+id+" in flight", http.StatusNotFound)
		return
	}
	if len(body) > MaxSyncPayload {
		gc.done <- go1Result{tooBig: true}
		w.WriteHeader(http.StatusOK)
		return
	}
	gc.done <- go1Result{body: body, isErr: isErr}
	w.WriteHeader(http.StatusOK)
}

func (d *go1Driver) invoke(ctx context.Context, c *call) ([]byte, *Error) {
	hdr := d.in.p.headers(c)
	deadline, _ := ctx.Deadline()
	hdr["x-fc-function-deadline"] = []string{strconv.FormatInt(deadline.UnixMilli(), 10)}
	hdr["x-fc-function-type"] = []string{strconv.Itoa(c.typ)}
	gc := &go1Call{c: c, hdr: hdr, done: make(chan go1Result, 1)}
	select {
	case d.calls <- gc:
	case <-ctx.Done():
		return nil, timeoutError(c.timeout)
	case <-d.in.exit:
		return nil, d.in.processExited()
	}
	select {
	case res := <-gc.done:
		return d.result(res)
	case <-ctx.Done():
		d.forget(c.id)
		return nil, timeoutError(c.timeout)
	case <-d.in.exit:
		select {
		case res := <-gc.done: // answered just before exiting
			return d.result(res)
		default:
		}
		d.forget(c.id)
		return nil, d.in.processExited()
	}
}

func (d *go1Driver) forget(id string) {
	d.mu.Lock()
	delete(d.pending, id)
	d.mu.Unlock()
}

func (d *go1Driver) result(res go1Result) ([]byte, *Error) {
	if res.tooBig {
		return nil, responseTooLarge()
	}
	if !res.isErr {
		return res.body, nil
	}
	return nil, parseFunctionError(res.body)
}

// parseFunctionError reads the {"errorMessage","errorType"} body both runtimes use for a
// failed invocation.
func parseFunctionError(body []byte) *Error {
	var fe struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	e := &Error{Type: ErrorUnhandled, Payload: body}
	if json.Unmarshal(body, &fe) == nil && (fe.Message != "" || fe.Type != "") {
		e.Message = fe.Message
		if fe.Type != "" {
			e.Type = fe.Type
		}
		return e
	}
	e.Message = string(truncate(body, 2048))
	return e
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func (d *go1Driver) close() {
	d.cOnce.Do(func() {
		close(d.closed)
		d.srv.Close()
	})
}

// responseTooLarge fails an invocation whose result is over FC's 32 MB.
func responseTooLarge() *Error {
	return &Error{Type: "ResponseTooLarge", Message: fmt.Sprintf("the function returned more than %d bytes, FC's limit for a response", MaxSyncPayload)}
}
