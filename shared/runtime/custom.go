package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Header names as net/http canonicalises them, so lookups skip canonicalisation.
const (
	hRequestID       = "X-Fc-Request-Id"
	hAccessKeyID     = "X-Fc-Access-Key-Id"
	hAccessKeySecret = "X-Fc-Access-Key-Secret"
	hSecurityToken   = "X-Fc-Security-Token"
	hFunctionName    = "X-Fc-Function-Name"
	hRetryCount      = "X-Fc-Retry-Count"
	hControlPath     = "X-Fc-Control-Path"
	hDeadline        = "X-Fc-Function-Deadline"
	hTimeout         = "X-Fc-Function-Timeout"
	hStatus          = "X-Fc-Status"
)

// maxEventBytes bounds an event body: FC's synchronous payload limit is 32 MB.
const maxEventBytes = 32 << 20

type control int

const (
	ctlHTTP control = iota
	ctlInvoke
	ctlInit
	ctlPreStop
)

// server is the HTTP face of a function: FC's custom runtime, or dev mode.
type server struct {
	f *Function
	// dev is set for dev mode: no x-fc-* header is trusted for credentials, request ids are
	// made up, and an HTTP function gets every request (there are no control paths).
	dev  bool
	name string
	// local is set under the local cloud (FCLOCAL=1): requests carry its shiftable clock.
	local bool
}

// NewCustomServer is FC's custom runtime for f: `POST /invoke` is an event invocation,
// `POST /initialize` the initializer, `GET /pre-stop` the preStop hook, and every other request
// an HTTP trigger request; an `x-fc-control-path` header, when present, decides instead of the
// path. Invocation facts come from the x-fc-* headers, which FC sets; x-fc-access-key-secret
// and x-fc-security-token are removed from the request before the handler sees it, so they can
// never be logged by accident. An event invocation answers 200 with the result, or 404 with
// `x-fc-status: 404` and {"errorMessage","errorType"} on failure, which FC reads as a function
// error.
func NewCustomServer(f *Function) http.Handler {
	return &server{f: f, name: f.name(), local: os.Getenv("FCLOCAL") == "1"}
}

// NewDevServer is dev mode for f: an HTTP function gets every request as plain net/http; an
// event function takes its events as `POST /invoke` (FC's JSON shapes), so it can be poked
// with curl. Credentials come only from the environment, never from request headers.
func NewDevServer(f *Function) http.Handler {
	return &server{f: f, dev: true, name: f.name()}
}

func (s *server) route(r *http.Request) control {
	if s.dev && s.f.HTTP != nil {
		return ctlHTTP
	}
	if !s.dev {
		if cp, ok := r.Header[hControlPath]; ok && len(cp) > 0 {
			switch cp[0] {
			case "/invoke":
				return ctlInvoke
			case "/initialize":
				return ctlInit
			case "/pre-stop":
				return ctlPreStop
			default: // "/http-invoke" and anything newer
				return ctlHTTP
			}
		}
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/invoke":
		return ctlInvoke
	case !s.dev && r.Method == http.MethodPost && r.URL.Path == "/initialize":
		return ctlInit
	case !s.dev && r.Method == http.MethodGet && r.URL.Path == "/pre-stop":
		return ctlPreStop
	}
	return ctlHTTP
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.local {
		followLocalClock(r.Header)
	}
	inv := s.invocation(r)
	ctx := WithInvocation(r.Context(), inv)
	if cancel := s.deadline(&ctx, r.Header); cancel != nil {
		defer cancel()
	}
	switch s.route(r) {
	case ctlInvoke:
		s.serveInvoke(ctx, w, r)
	case ctlInit:
		s.serveLifecycle(ctx, w, "Initialize", func(ctx context.Context) error { return s.f.ensureInit(ctx) })
	case ctlPreStop:
		s.serveLifecycle(ctx, w, "PreStop", func(ctx context.Context) error { s.f.runPreStop(ctx); return nil })
	default:
		s.serveHTTP(ctx, w, r)
	}
}

var (
	devPrefix  = newDevPrefix()
	devCounter atomic.Uint64
)

func newDevPrefix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "dev-" + hex.EncodeToString(b) + "-"
}

func header(h http.Header, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// invocation reads the x-fc-* headers (custom runtime) or makes up an invocation (dev mode).
func (s *server) invocation(r *http.Request) *Invocation {
	h := r.Header
	inv := &Invocation{RequestID: header(h, hRequestID)}
	if n, err := strconv.Atoi(header(h, hRetryCount)); err == nil && n >= 0 {
		inv.RetryCount = n
	}
	if s.dev {
		if inv.RequestID == "" {
			inv.RequestID = devPrefix + strconv.FormatUint(devCounter.Add(1), 10)
		}
		inv.Credentials = envCredentials()
		return inv
	}
	inv.FunctionName = header(h, hFunctionName)
	inv.Credentials = Credentials{
		AccessKeyID:     header(h, hAccessKeyID),
		AccessKeySecret: header(h, hAccessKeySecret),
		SecurityToken:   header(h, hSecurityToken),
	}
	delete(h, hAccessKeySecret)
	delete(h, hSecurityToken)
	noteCredentials(inv.Credentials)
	if inv.RequestID == "" {
		inv.RequestID = devPrefix + strconv.FormatUint(devCounter.Add(1), 10)
	}
	return inv
}

// deadline bounds ctx by FC's x-fc-function-deadline (epoch ms) or x-fc-function-timeout
// (seconds from now) when FC sends one.
func (s *server) deadline(ctx *context.Context, h http.Header) context.CancelFunc {
	if s.dev {
		return nil
	}
	var d time.Time
	if v := header(h, hDeadline); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
			d = time.UnixMilli(ms)
		}
	} else if v := header(h, hTimeout); v != "" {
		if sec, err := strconv.Atoi(v); err == nil && sec > 0 {
			d = time.Now().Add(time.Duration(sec) * time.Second)
		}
	}
	if d.IsZero() {
		return nil
	}
	c, cancel := context.WithDeadline(*ctx, d)
	*ctx = c
	return cancel
}

func (s *server) serveInvoke(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	id := RequestID(ctx)
	stdoutMarker("Invoke", "Start", id, "")
	s.f.inflight.Add(1)
	defer s.f.inflight.Done()
	payload, err := io.ReadAll(io.LimitReader(r.Body, maxEventBytes+1))
	switch {
	case err != nil:
		err = fmt.Errorf("%w: reading the event: %w", errInvalidEvent, err)
	case len(payload) > maxEventBytes:
		err = invalidEvent("event larger than %d bytes", maxEventBytes)
	default:
		var out []byte
		out, err = s.f.invokeFC(ctx, payload)
		if err == nil {
			stdoutMarker("Invoke", "End", id, "")
			if out != nil {
				w.Header()["Content-Type"] = []string{"application/json"}
			}
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(out)
			return
		}
	}
	stdoutMarker("Invoke", "End", id, ", Error: Unhandled function error")
	writeInvokeError(w, err)
}

func writeInvokeError(w http.ResponseWriter, err error) {
	body, _ := json.Marshal(toInvokeError(err))
	w.Header()["Content-Type"] = []string{"application/json"}
	w.Header()[hStatus] = []string{"404"}
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(body)
}

func (s *server) serveLifecycle(ctx context.Context, w http.ResponseWriter, what string, fn func(context.Context) error) {
	id := RequestID(ctx)
	stdoutMarker(what, "Start", id, "")
	if err := fn(ctx); err != nil {
		stdoutMarker(what, "End", id, ", Error: Unhandled function error")
		writeInvokeError(w, err)
		return
	}
	stdoutMarker(what, "End", id, "")
	w.WriteHeader(http.StatusOK)
}

var errNoHTTP = errors.New("this function serves events: POST /invoke with an FC event")

func (s *server) serveHTTP(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	if s.dev {
		w.Header()[hRequestID] = []string{RequestID(ctx)} // as FC's front end adds it
	}
	if s.f.HTTP == nil {
		writeInvokeError(w, fmt.Errorf("%w: %w", errInvalidEvent, errNoHTTP))
		return
	}
	if err := s.f.ensureInit(ctx); err != nil {
		writeProblem(w, http.StatusServiceUnavailable, RequestID(ctx))
		return
	}
	rw := &recoverWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v) // a deliberate abort (httpapi logs its panics before aborting)
			}
			_ = recovered(ctx, "HTTP handler", v)
			if rw.wrote {
				// Part of the response is on the wire; cut it off rather than let a
				// truncated body pass for a whole one.
				panic(http.ErrAbortHandler)
			}
			writeProblem(w, http.StatusInternalServerError, RequestID(ctx))
		}
	}()
	s.f.HTTP.ServeHTTP(rw, r.WithContext(ctx))
}

func writeProblem(w http.ResponseWriter, status int, requestID string) {
	w.Header()["Content-Type"] = []string{"application/problem+json"}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, problemBody(status, requestID))
}

// recoverWriter remembers whether the handler started its response, so a panic can still be
// answered with a 500 when it did not.
type recoverWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *recoverWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recoverWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Flush keeps streaming handlers working through the wrapper.
func (w *recoverWriter) Flush() {
	w.wrote = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *recoverWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// customAddr is where the custom runtime listens: FC's port on all interfaces (FC connects
// from outside the process's network namespace), but loopback under the local cloud.
func customAddr(getenv func(string) string) string {
	port := getenv("FC_SERVER_PORT")
	if port == "" {
		port = getenv("FC_CUSTOM_LISTEN_PORT")
	}
	if port == "" {
		port = "9000"
	}
	host := ""
	if getenv("FCLOCAL") == "1" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// devAddr is dev mode's $PORT (default 8080), on loopback under the local cloud.
func devAddr(getenv func(string) string) string {
	port := getenv("PORT")
	if port == "" {
		port = "8080"
	}
	host := ""
	if getenv("FCLOCAL") == "1" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func runDev(f *Function) error {
	ctx := WithInvocation(context.Background(), &Invocation{RequestID: "init", Credentials: envCredentials()})
	if err := f.ensureInit(ctx); err != nil {
		return err
	}
	return runServer(f, devAddr(os.Getenv), NewDevServer(f))
}

// shutdownLimit bounds how long SIGTERM waits for in-flight requests.
const shutdownLimit = 30 * time.Second

// runServer serves h on addr until SIGTERM or SIGINT, then stops accepting, drains in-flight
// requests, runs preStop and returns.
func runServer(f *Function, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return serveUntilSignal(f, ln, h)
}

func serveUntilSignal(f *Function, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case s := <-sig:
		slog.Info("shutting down", "signal", s.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownLimit)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		slog.Warn("shutting down with requests still running", "err", err)
	}
	f.runPreStop(ctx)
	return nil
}
