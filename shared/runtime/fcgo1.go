package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
	"github.com/aliyun/fc-runtime-go-sdk/fc/messages"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

// invokeFC handles one FC event payload by the function's kind: an HTTPTriggerEvent for HTTP
// functions, an OssEvent for Objects, a TimerEvent for Timer. It is the core of both the go1
// runtime and the custom runtime's POST /invoke. ctx must carry the invocation.
func (f *Function) invokeFC(ctx context.Context, payload []byte) ([]byte, error) {
	if err := f.ensureInit(ctx); err != nil {
		return nil, err
	}
	switch {
	case f.HTTP != nil:
		// A flat twin of the SDK's all-pointer event type decodes in half the time.
		var ev fcHTTPEvent
		if err := decodeObject(payload, &ev); err != nil {
			return nil, err
		}
		res, err := serveFC(ctx, f.HTTP, ev.httpEvent())
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errInvalidEvent, err)
		}
		return json.Marshal(res)
	case f.Objects != nil:
		recs, err := decodeOSSEvent(payload)
		if err != nil {
			return nil, err
		}
		return nil, handleObjects(ctx, f.Objects, recs)
	default:
		t, err := decodeFCTimer(payload)
		if err != nil {
			return nil, err
		}
		return nil, handleTimer(ctx, f.Timer, t)
	}
}

// InvokeGo1 is the handler registered with fc-runtime-go-sdk: one payload in, the JSON result
// out. ctx is the SDK's, carrying fccontext; tests call it with fccontext.NewContext. A
// failure is returned as the SDK's own error type so FC sees our errorType.
func (f *Function) InvokeGo1(ctx context.Context, payload []byte) (json.RawMessage, error) {
	f.inflight.Add(1)
	defer f.inflight.Done()
	ctx = withGo1Invocation(ctx)
	out, err := f.invokeFC(ctx, payload)
	if err != nil {
		ie := toInvokeError(err)
		return nil, messages.InvokeResponse_Error{Message: ie.Message, Type: ie.Type}
	}
	if out == nil {
		return json.RawMessage("null"), nil
	}
	return out, nil
}

// withGo1Invocation lifts fccontext into our invocation and records the credentials.
func withGo1Invocation(ctx context.Context) context.Context {
	if invocationFrom(ctx) != nil {
		return ctx
	}
	inv := &Invocation{}
	if lc, ok := fccontext.FromContext(ctx); ok {
		inv.RequestID = lc.RequestID
		inv.FunctionName = lc.Function.Name
		inv.RetryCount = lc.RetryCount
		inv.Credentials = Credentials{
			AccessKeyID:     lc.Credentials.AccessKeyId,
			AccessKeySecret: lc.Credentials.AccessKeySecret,
			SecurityToken:   lc.Credentials.SecurityToken,
		}
		noteCredentials(inv.Credentials)
	}
	return WithInvocation(ctx, inv)
}

// runGo1 hands the process to fc-runtime-go-sdk. fc.StartHttp is FC 2.0 only, so HTTP
// triggers arrive as events like everything else. The SDK prints FC's Start/End marker lines
// itself.
func runGo1(f *Function) error {
	// Both lifecycle hooks are always registered: FC calls them only when the function is
	// configured with them, and the SDK fails such a call when nothing is registered.
	fc.RegisterInitializerFunction(func(ctx context.Context) {
		if err := f.ensureInit(withGo1Invocation(ctx)); err != nil {
			// The SDK's lifecycle hooks cannot return an error; a panic with its error type
			// is reported to FC as this failure, and the process lives on.
			panic(messages.InvokeResponse_Error{Message: err.Error(), Type: "InitializationError"})
		}
	})
	fc.RegisterPreStopFunction(func(ctx context.Context) {
		f.runPreStop(withGo1Invocation(ctx))
	})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		s := <-sig
		slog.Info("shutting down", "signal", s.String())
		f.drainAndStop(shutdownLimit)
		os.Exit(0)
	}()
	// The handler's type is a plain func: the SDK's Start reflects on it and passes the raw
	// payload through because its parameter is []byte.
	handler := f.InvokeGo1
	if url := os.Getenv("FCLOCAL_CLOCK_URL"); os.Getenv("FCLOCAL") == "1" && url != "" {
		handler = func(ctx context.Context, payload []byte) (json.RawMessage, error) {
			syncLocalClock(ctx, url) // see Now
			return f.InvokeGo1(ctx, payload)
		}
	}
	fc.Start(handler)
	return fmt.Errorf("fc-runtime-go-sdk returned")
}

// drainAndStop waits (at most limit) for in-flight invocations, then runs preStop.
func (f *Function) drainAndStop(limit time.Duration) {
	done := make(chan struct{})
	go func() { f.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		slog.Warn("shutting down with invocations still running", "waited", limit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	f.runPreStop(ctx)
}
