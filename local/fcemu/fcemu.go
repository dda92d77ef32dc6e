// Package fcemu is a local Function Compute: it runs the real function binaries as child
// processes under the runtime their s.yaml declares and drives them the way FC does.
//
// go1 functions get their own runtime API (FC_RUNTIME_API: GET .../invocation/next, POST
// .../{id}/response and .../{id}/error) with the x-fc-* headers fc-runtime-go-sdk reads; custom
// runtime functions are started with FC_SERVER_PORT and driven over HTTP (POST /invoke,
// POST /initialize, GET /pre-stop, HTTP trigger requests proxied as they are). Per function there
// is an instance pool: one request per go1 instance, instanceConcurrency per custom instance,
// cold starts counted and timed, the initializer run before the first invocation, idle instances
// reclaimed after a preStop, the timeout enforced by killing the instance, a crashed process
// replaced by the next request. Asynchronous invocations (OSS and timer triggers) go through a
// queue with retries (x-fc-retry-count, growing backoff) and onSuccess/onFailure destinations.
//
// Local-only additions: every invocation carries the shared clock's time in the x-fclocal-now
// header (custom runtime requests, go1 `next` responses and the headers of go1 HTTP events),
// FCLOCAL=1 is set, and FCLOCAL_CLOCK_URL, when configured, tells a function where to read the
// shifted clock. Credentials are the local dev pair, never real ones.
package fcemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"vodfc.dev/local/clock"
	"vodfc.dev/local/manifest"
)

// Payload limits of Function Compute 3.0.
const (
	MaxSyncPayload  = 32 << 20
	MaxAsyncPayload = 128 << 10
)

// Credentials are what a function receives as its role's STS credentials.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// Function is one function to run.
type Function struct {
	Spec       *manifest.Function
	Executable string            // the built binary
	CodeDir    string            // FC_FUNC_CODE_PATH and working directory (FC's /code)
	TmpDir     string            // TMPDIR and HOME of the instances (FC's /tmp); a temp dir when empty
	Env        map[string]string // s.yaml environment after local overrides
}

// Options configure an Emulator.
type Options struct {
	Functions   []Function
	Region      string // default cn-hangzhou
	AccountID   string // default manifest.LocalAccountID
	Credentials Credentials
	Clock       *clock.Clock
	// Output receives every line the functions print, prefixed with the function name.
	Output io.Writer
	Logger *slog.Logger
	// IdleTimeout is how long an idle instance lives before it is reclaimed (default 10 min).
	IdleTimeout time.Duration
	// MaxInstances bounds the instances of one function (default 16); further requests wait.
	MaxInstances int
	// StartTimeout bounds process start to readiness (default 120 s, as FC's custom runtime).
	StartTimeout time.Duration
	// RetryBackoff is the wait before async retry n (1, 2, ...); default 1 s doubling to 1 min.
	RetryBackoff func(n int) time.Duration
	// History is how many invocation records are kept (default 1000).
	History int
	// ClockURL, when set, is passed to functions as FCLOCAL_CLOCK_URL.
	ClockURL string
}

// Emulator runs functions. Create it with New; it is safe for concurrent use.
type Emulator struct {
	opts    Options
	log     *slog.Logger
	clock   *clock.Clock
	pools   map[string]*pool
	history *history
	spawner *spawner
	output  *prefixOutput

	mu      sync.Mutex
	closed  bool
	stop    chan struct{}
	asyncWG sync.WaitGroup
	bgWG    sync.WaitGroup
}

// Error is a failed invocation as FC reports it.
type Error struct {
	// Type is the function's errorType, or one of the ErrorType constants for failures of
	// the platform around it.
	Type    string
	Message string
	// Payload is the error body the function returned, if any.
	Payload []byte
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Type
	}
	return e.Type + ": " + e.Message
}

// Error types for failures around the handler.
const (
	ErrorUnhandled     = "UnhandledInvocationError" // the function reported an error without a type
	ErrorTimeout       = "FunctionTimeout"
	ErrorProcessExited = "ProcessExited"
	ErrorStart         = "InstanceStartError"
	ErrorInitializer   = "InitializerError"
)

// ErrUnknownFunction is returned for a function the emulator does not run.
var ErrUnknownFunction = errors.New("fcemu: no such function")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("fcemu: closed")

// ErrPayloadTooLarge is returned for a payload above FC's limit.
var ErrPayloadTooLarge = errors.New("fcemu: payload too large")

// New prepares the functions; instances start on first use.
func New(opts Options) (*Emulator, error) {
	if opts.Region == "" {
		opts.Region = "cn-hangzhou"
	}
	if opts.AccountID == "" {
		opts.AccountID = manifest.LocalAccountID
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 10 * time.Minute
	}
	if opts.MaxInstances <= 0 {
		opts.MaxInstances = 16
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 120 * time.Second
	}
	if opts.RetryBackoff == nil {
		opts.RetryBackoff = func(n int) time.Duration {
			return min(time.Second<<(n-1), time.Minute)
		}
	}
	if opts.History <= 0 {
		opts.History = 1000
	}
	e := &Emulator{
		opts:    opts,
		log:     opts.Logger,
		clock:   opts.Clock,
		pools:   map[string]*pool{},
		history: newHistory(opts.History),
		spawner: newSpawner(),
		output:  &prefixOutput{w: opts.Output},
		stop:    make(chan struct{}),
	}
	for _, f := range opts.Functions {
		if f.Spec == nil || f.Executable == "" {
			return nil, fmt.Errorf("fcemu: function without spec or executable")
		}
		if _, dup := e.pools[f.Spec.Name]; dup {
			return nil, fmt.Errorf("fcemu: function %s given twice", f.Spec.Name)
		}
		e.pools[f.Spec.Name] = newPool(e, f)
	}
	e.bgWG.Add(1)
	go e.reclaimLoop()
	return e, nil
}

// Functions lists the names of the functions the emulator runs, sorted.
func (e *Emulator) Functions() []string {
	out := make([]string, 0, len(e.pools))
	for n := range e.pools {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (e *Emulator) pool(function string) (*pool, error) {
	p, ok := e.pools[function]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownFunction, function)
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	return p, nil
}

// Invoke runs an event invocation synchronously (InvokeFunction with the sync invocation type)
// and returns the function's result. A function failure is an *Error.
func (e *Emulator) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	p, err := e.pool(function)
	if err != nil {
		return nil, err
	}
	if len(payload) > MaxSyncPayload {
		return nil, fmt.Errorf("%w: %d bytes, FC allows %d for a synchronous invocation", ErrPayloadTooLarge, len(payload), MaxSyncPayload)
	}
	out, _, err := e.invokeRecorded(ctx, p, payload)
	return out, err
}

// InvokeRecorded is Invoke that also returns the invocation's record (request id, duration,
// cold start, log).
func (e *Emulator) InvokeRecorded(ctx context.Context, function string, payload []byte) ([]byte, Invocation, error) {
	p, err := e.pool(function)
	if err != nil {
		return nil, Invocation{}, err
	}
	if len(payload) > MaxSyncPayload {
		return nil, Invocation{}, fmt.Errorf("%w: %d bytes, FC allows %d for a synchronous invocation", ErrPayloadTooLarge, len(payload), MaxSyncPayload)
	}
	return e.invokeRecorded(ctx, p, payload)
}

func (e *Emulator) invokeRecorded(ctx context.Context, p *pool, payload []byte) ([]byte, Invocation, error) {
	rec := e.history.begin(p.name, "", KindSync, 0)
	out, ferr := p.invoke(ctx, rec, payload, 0)
	inv := rec.snapshot()
	if ferr != nil {
		return out, inv, ferr
	}
	return out, inv, nil
}

// HandleHTTP serves one request of a function's HTTP trigger: go1 functions receive it as an
// HTTPTriggerEvent, custom runtime functions as the proxied request. The request body must
// already be limited by the caller (the gateway enforces FC's 32 MB).
func (e *Emulator) HandleHTTP(w http.ResponseWriter, r *http.Request, function, trigger string) {
	p, err := e.pool(function)
	if err != nil {
		status := http.StatusNotFound
		if errors.Is(err, ErrClosed) {
			status = http.StatusServiceUnavailable
		}
		writeProblem(w, status, "FunctionNotFound", err.Error())
		return
	}
	rec := e.history.begin(function, trigger, KindHTTP, 0)
	p.serveHTTP(w, r, rec)
}

// Invocations returns the recent invocations, newest first; function filters when non-empty.
func (e *Emulator) Invocations(function string, limit int) []Invocation {
	return e.history.list(function, limit)
}

// Stats describes one function's instances.
type Stats struct {
	Function    string `json:"function"`
	Runtime     string `json:"runtime"`
	Concurrency int    `json:"instanceConcurrency"`
	Instances   int    `json:"instances"`  // alive (starting or ready)
	Busy        int    `json:"busy"`       // invocations being served
	ColdStarts  int    `json:"coldStarts"` // instances started so far
	Reclaimed   int    `json:"reclaimed"`  // idle instances stopped
	Crashed     int    `json:"crashed"`    // instances that exited on their own
	Killed      int    `json:"killed"`     // instances killed for a timeout
	Queued      int    `json:"queued"`     // async events waiting or between retries
}

// Stats returns the instance statistics of a function.
func (e *Emulator) Stats(function string) (Stats, error) {
	p, ok := e.pools[function]
	if !ok {
		return Stats{}, fmt.Errorf("%w: %s", ErrUnknownFunction, function)
	}
	return p.stats(), nil
}

// Close stops taking invocations, waits for the running ones (until ctx ends), runs the
// preStop hook of every instance and kills them. Pending async retries are dropped.
func (e *Emulator) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.stop)
	e.mu.Unlock()

	var wg sync.WaitGroup
	for _, p := range e.pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.shutdown(ctx)
		}()
	}
	wg.Wait()
	e.bgWG.Wait()
	e.asyncWG.Wait()
	e.spawner.close()
	return nil
}

func (e *Emulator) closing() bool {
	select {
	case <-e.stop:
		return true
	default:
		return false
	}
}

func (e *Emulator) reclaimLoop() {
	defer e.bgWG.Done()
	every := min(max(e.opts.IdleTimeout/4, 50*time.Millisecond), 10*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			for _, p := range e.pools {
				p.reclaimIdle()
			}
		}
	}
}
