package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"vodfc.dev/vodfc"
)

// recorder watches a response for the access log and for panic recovery. One per request,
// shared by Logger, Recover and the Router (found through Unwrap chains), pooled.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	route  string
	// routed says the Router decided (route is "" when nothing matched), so Logger does not
	// fall back to r.Pattern, which would name the Router's catch-all.
	routed bool
}

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush keeps streaming handlers working through the wrapper.
func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// findRecorder finds the request's recorder below w, if any.
func findRecorder(w http.ResponseWriter) *recorder {
	for {
		switch x := w.(type) {
		case *recorder:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// withRecorder returns the request's recorder, making one (and a func to release it) when w
// has none yet.
func withRecorder(w http.ResponseWriter) (*recorder, func()) {
	if rec := findRecorder(w); rec != nil {
		return rec, func() {}
	}
	rec := recorderPool.Get().(*recorder)
	*rec = recorder{ResponseWriter: w}
	return rec, func() { *rec = recorder{}; recorderPool.Put(rec) }
}

// Logger writes one access-log line per request: method, route pattern, path, status, bytes
// and latency; the request id comes from the invocation context (see runtime.NewLogHandler).
// Server errors log at Error, everything else at Info.
func Logger(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, release := withRecorder(w)
		defer release()
		start := time.Now()
		defer func() {
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			route := rec.route
			if !rec.routed {
				route = r.Pattern
			}
			bytes := rec.bytes
			if r.Method == http.MethodHead {
				bytes = 0 // net/http discards a HEAD body the handler wrote
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			slog.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", bytes),
				slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000))
		}()
		next.ServeHTTP(rec, r)
	})
}

// Recover turns a panic into a 500 problem, logged with its stack. When the response had
// already started it aborts the connection instead (http.ErrAbortHandler), so a client never
// takes half a body for a whole one.
func Recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, release := withRecorder(w)
		defer release()
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			slog.ErrorContext(r.Context(), "handler panicked", "panic", v, "stack", string(debug.Stack()))
			if rec.status != 0 {
				rec.status = http.StatusInternalServerError // for the access log
				panic(http.ErrAbortHandler)
			}
			writeProblem(rec, r, &Problem{Status: http.StatusInternalServerError, Code: "internal", Detail: "internal error"})
		}()
		next.ServeHTTP(rec, r)
	})
}

// CORSConfig says which browser origins may call the API.
type CORSConfig struct {
	// AllowedOrigins lists exact origins ("https://vod.example.com"); "*" allows any origin
	// (and then credentials are never allowed).
	AllowedOrigins []string
	// AllowedMethods defaults to GET, HEAD, POST, PUT, PATCH, DELETE.
	AllowedMethods []string
	// AllowedHeaders defaults to Authorization, Content-Type.
	AllowedHeaders []string
	// ExposedHeaders lets scripts read these response headers; Retry-After, Location and
	// X-Fc-Request-Id are always exposed.
	ExposedHeaders   []string
	AllowCredentials bool
	// MaxAge is how long a browser may cache a preflight answer; default 10 minutes.
	MaxAge time.Duration
}

// CORS answers preflight requests from allowed origins and marks responses to them readable.
// Every response carries Vary: Origin, because whether CORS headers are present depends on it.
// A preflight from an origin not allowed gets a 403 problem.
func CORS(cfg CORSConfig) Middleware {
	anyOrigin := slices.Contains(cfg.AllowedOrigins, "*")
	origins := make(map[string]bool, len(cfg.AllowedOrigins))
	for _, o := range cfg.AllowedOrigins {
		origins[strings.TrimRight(o, "/")] = true
	}
	methods := cfg.AllowedMethods
	if len(methods) == 0 {
		methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
	}
	headers := cfg.AllowedHeaders
	if len(headers) == 0 {
		headers = []string{"Authorization", "Content-Type"}
	}
	exposed := append([]string{"Retry-After", "Location", "X-Fc-Request-Id"}, cfg.ExposedHeaders...)
	maxAge := cfg.MaxAge
	if maxAge == 0 {
		maxAge = 10 * time.Minute
	}
	credentials := cfg.AllowCredentials && !anyOrigin
	var (
		hvMethods       = []string{strings.Join(methods, ", ")}
		hvHeaders       = []string{strings.Join(headers, ", ")}
		hvExposed       = []string{strings.Join(exposed, ", ")}
		hvMaxAge        = []string{strconv.Itoa(int(maxAge.Seconds()))}
		hvTrue          = []string{"true"}
		hvStar          = []string{"*"}
		hvVary          = []string{"Origin"}
		hvVaryPreflight = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
	)
	allowed := func(origin string) bool { return anyOrigin || origins[origin] }
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			origin := r.Header.Get("Origin")
			preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
			if !preflight {
				h["Vary"] = append(h["Vary"], hvVary...)
				if origin != "" && allowed(origin) {
					if credentials || !anyOrigin {
						h["Access-Control-Allow-Origin"] = []string{origin}
					} else {
						h["Access-Control-Allow-Origin"] = hvStar
					}
					if credentials {
						h["Access-Control-Allow-Credentials"] = hvTrue
					}
					h["Access-Control-Expose-Headers"] = hvExposed
				}
				next.ServeHTTP(w, r)
				return
			}
			h["Vary"] = hvVaryPreflight
			if !allowed(origin) {
				WriteError(w, r, vodfc.Forbidden("origin_not_allowed", fmt.Sprintf("origin %s may not call this API", origin)))
				return
			}
			if credentials || !anyOrigin {
				h["Access-Control-Allow-Origin"] = []string{origin}
			} else {
				h["Access-Control-Allow-Origin"] = hvStar
			}
			if credentials {
				h["Access-Control-Allow-Credentials"] = hvTrue
			}
			h["Access-Control-Allow-Methods"] = hvMethods
			h["Access-Control-Allow-Headers"] = hvHeaders
			h["Access-Control-Max-Age"] = hvMaxAge
			w.WriteHeader(http.StatusNoContent)
		})
	}
}

// OriginsFromEnv reads CORS_ORIGINS, a comma-separated list of origins ("*" for any), the one
// name every HTTP function's s.yaml entry uses.
func OriginsFromEnv(getenv func(string) string) []string {
	var out []string
	for _, p := range strings.Split(getenv("CORS_ORIGINS"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
