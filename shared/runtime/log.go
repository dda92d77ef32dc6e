package runtime

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
)

// NewLogHandler returns the JSON slog handler every function logs through: one line per record
// on w, each carrying the function name and, for records logged with an invocation's context
// (slog.InfoContext(ctx, ...)), its request id. FC ships stdout to SLS, where both make a line
// findable. Records logged without a context carry no request id: log with the Context forms.
func NewLogHandler(w io.Writer, function string, level slog.Leveler) slog.Handler {
	var next slog.Handler = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	if function != "" {
		next = next.WithAttrs([]slog.Attr{slog.String("function", function)})
	}
	return &logHandler{next: next, named: function != ""}
}

type logHandler struct {
	next slog.Handler
	// named says the process-wide function name is already an attribute, so the
	// per-invocation one is only added when it is not.
	named bool
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if inv := invocationFrom(ctx); inv != nil {
		if inv.RequestID != "" {
			r.AddAttrs(slog.String("request_id", inv.RequestID))
		}
		if !h.named && inv.FunctionName != "" {
			r.AddAttrs(slog.String("function", inv.FunctionName))
		}
	}
	return h.next.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{next: h.next.WithAttrs(as), named: h.named}
}

// WithGroup nests later attributes, including the request id added in Handle; the id still
// appears once per line, just inside the group.
func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: h.next.WithGroup(name), named: h.named}
}

// setupLogging makes the default slog logger (and with it the standard log package, which the
// platform SDKs write to) emit JSON lines on w. LOG_LEVEL picks the level: debug, info (the
// default), warn or error.
func setupLogging(w io.Writer, function string) {
	slog.SetDefault(slog.New(NewLogHandler(w, function, levelFromEnv(os.Getenv("LOG_LEVEL")))))
}

func levelFromEnv(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// recovered logs a panic caught while running what and turns it into an error.
func recovered(ctx context.Context, what string, v any) error {
	stack := debug.Stack()
	slog.ErrorContext(ctx, what+" panicked", "panic", v, "stack", string(stack))
	return &panicError{value: v, stack: stack}
}

// markerOut is where FC's marker lines go; tests of this package silence it.
var markerOut io.Writer = os.Stdout

// stdoutMarker writes FC's invocation marker lines ("FC Invoke Start RequestId: X") in one
// write, so they never interleave with JSON log lines written concurrently.
func stdoutMarker(what, phase, requestID, suffix string) {
	_, _ = io.WriteString(markerOut, "FC "+what+" "+phase+" RequestId: "+requestID+suffix+"\n")
}
