package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// ObjectEvent is one object-storage notification (an OSS event record or an S3 record).
type ObjectEvent struct {
	Bucket string
	// Key is the object key as stored, URL-decoded when the source encodes it (see decodeOSSKey).
	Key  string
	Size int64
	ETag string
	// Name is the event in OSS's words without the "oss:" prefix, e.g. "ObjectCreated:PutObject"
	// or "ObjectCreated:CompleteMultipartUpload"; S3 names are mapped to the same words.
	Name string
	Time time.Time
}

// TimerEvent is one firing of a timer trigger.
type TimerEvent struct {
	Trigger string    // the trigger's name (FC triggerName, the EventBridge rule's name)
	Time    time.Time // when the platform fired it
	Payload string    // the trigger's configured payload, "" when none
}

type options struct {
	init    func(context.Context) error
	preStop func(context.Context)
}

// Option configures the lifecycle of a function.
type Option func(*options)

// OnInit registers the initializer: it runs once, successfully, before the first invocation is
// handled. On FC it runs when the platform calls the initializer (with that invocation's
// credentials) or, when none is configured, just before the first invocation; a failure fails
// that invocation and the next one tries again. On AWS and in dev mode it runs at start-up and
// a failure stops the process.
func OnInit(fn func(context.Context) error) Option { return func(o *options) { o.init = fn } }

// OnPreStop registers the preStop hook: it runs at most once, when the platform announces the
// instance is being reclaimed (FC preStop, SIGTERM), after in-flight invocations drained.
func OnPreStop(fn func(context.Context)) Option { return func(o *options) { o.preStop = fn } }

// HTTP serves h as this process's function and never returns.
func HTTP(h http.Handler, opts ...Option) { Run(newFunction(opts, func(f *Function) { f.HTTP = h })) }

// Objects serves fn for object-storage events and never returns. Every record of an event is
// handed to fn in order; if any fails, the invocation fails so the platform retries the whole
// event, so fn must be idempotent (delivery is at-least-once anyway).
func Objects(fn func(context.Context, ObjectEvent) error, opts ...Option) {
	Run(newFunction(opts, func(f *Function) { f.Objects = fn }))
}

// Timer serves fn for timer triggers and never returns.
func Timer(fn func(context.Context, TimerEvent) error, opts ...Option) {
	Run(newFunction(opts, func(f *Function) { f.Timer = fn }))
}

func newFunction(opts []Option, set func(*Function)) *Function {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	f := &Function{Init: o.init, PreStop: o.preStop}
	set(f)
	return f
}

// Function is one function binary's handlers as every platform adapter sees them. Exactly one
// of HTTP, Objects and Timer is set. It carries lifecycle state, so it is used by pointer.
type Function struct {
	// Name overrides the process-wide function name used in logs.
	Name    string
	HTTP    http.Handler
	Objects func(context.Context, ObjectEvent) error
	Timer   func(context.Context, TimerEvent) error
	Init    func(context.Context) error
	PreStop func(context.Context)

	initMu   sync.Mutex
	initDone atomic.Bool
	stopOnce sync.Once
	// inflight counts invocations the go1 and Lambda loops are running, so SIGTERM can drain
	// them; the HTTP servers drain through http.Server.Shutdown.
	inflight sync.WaitGroup
}

func (f *Function) validate() error {
	n := 0
	for _, set := range []bool{f.HTTP != nil, f.Objects != nil, f.Timer != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("runtime: a function serves exactly one of HTTP, Objects or Timer (got %d)", n)
	}
	return nil
}

func (f *Function) name() string {
	if f.Name != "" {
		return f.Name
	}
	return processFunctionName()
}

func (f *Function) kind() string {
	switch {
	case f.HTTP != nil:
		return "http"
	case f.Objects != nil:
		return "objects"
	default:
		return "timer"
	}
}

// errInit marks a failed initializer so adapters can report it as FC does.
var errInit = errors.New("initializer failed")

// ensureInit runs the initializer unless it already succeeded. Concurrent first invocations
// wait for one run instead of racing their own.
func (f *Function) ensureInit(ctx context.Context) error {
	if f.Init == nil || f.initDone.Load() {
		return nil
	}
	f.initMu.Lock()
	defer f.initMu.Unlock()
	if f.initDone.Load() {
		return nil
	}
	if err := callSafely(ctx, "initializer", f.Init); err != nil {
		slog.ErrorContext(ctx, "initializer failed", "err", err)
		return fmt.Errorf("%w: %w", errInit, err)
	}
	f.initDone.Store(true)
	return nil
}

// runPreStop runs the preStop hook once; later calls (FC's preStop then SIGTERM) do nothing.
func (f *Function) runPreStop(ctx context.Context) {
	f.stopOnce.Do(func() {
		if f.PreStop == nil {
			return
		}
		err := callSafely(ctx, "preStop", func(ctx context.Context) error { f.PreStop(ctx); return nil })
		if err != nil {
			slog.ErrorContext(ctx, "preStop failed", "err", err)
		}
	})
}

// panicError is a recovered panic, reported as a failed invocation.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

func callSafely(ctx context.Context, what string, fn func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = recovered(ctx, what, v)
		}
	}()
	return fn(ctx)
}

// Platform names what started the process.
type Platform string

const (
	PlatformFCGo1     Platform = "fc-go1"
	PlatformFCCustom  Platform = "fc-custom"
	PlatformAWSLambda Platform = "aws-lambda"
	PlatformDev       Platform = "dev"
)

// Detect picks the platform from the environment, in the order of the runtime contract in
// docs/architecture.md.
func Detect(getenv func(string) string) Platform {
	switch {
	case getenv("FC_RUNTIME_API") != "":
		return PlatformFCGo1
	case getenv("AWS_LAMBDA_RUNTIME_API") != "":
		return PlatformAWSLambda
	case getenv("FC_SERVER_PORT") != "" || getenv("FC_CUSTOM_LISTEN_PORT") != "" || getenv("FC_FUNCTION_NAME") != "":
		return PlatformFCCustom
	default:
		return PlatformDev
	}
}

// Run serves f on the detected platform and never returns; a start-up error ends the process
// with status 1.
func Run(f *Function) {
	setupLogging(os.Stdout, f.name())
	if err := f.validate(); err != nil {
		fatal(err)
	}
	p := Detect(os.Getenv)
	slog.Info("function starting", "platform", string(p), "kind", f.kind())
	var err error
	switch p {
	case PlatformFCGo1:
		err = runGo1(f)
	case PlatformAWSLambda:
		err = runLambda(f)
	case PlatformFCCustom:
		err = runServer(f, customAddr(os.Getenv), NewCustomServer(f))
	default:
		err = runDev(f)
	}
	if err != nil {
		fatal(err)
	}
	os.Exit(0)
}

func fatal(err error) {
	slog.Error("function cannot start", "err", err)
	os.Exit(1)
}

func binaryName() string {
	if len(os.Args) == 0 {
		return ""
	}
	return filepath.Base(os.Args[0])
}
