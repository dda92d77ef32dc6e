// Package gateway is the local cloud's single HTTP entry point: the fc3-domain routes and the
// HTTP triggers of s.yaml on one port, next to the /_local/ developer console. It picks the
// function by longest path prefix (exact routes first), enforces the methods of the route and
// of the function's HTTP trigger, and FC's 32 MB request body limit, answering 404, 405 and 413
// as application/problem+json.
package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"

	"vodfc.dev/local/manifest"
)

// MaxBody is FC's limit on a synchronous request payload, HTTP triggers included.
const MaxBody = 32 << 20

// FunctionPrefix is where every function's HTTP trigger is reachable directly, the way each
// function has its own trigger URL in FC: /_fn/{function}/rest is /rest on that function.
const FunctionPrefix = "/_fn/"

// ConsolePrefix is the developer console.
const ConsolePrefix = "/_local/"

// Invoker runs an HTTP trigger request; fcemu.Emulator implements it.
type Invoker interface {
	HandleHTTP(w http.ResponseWriter, r *http.Request, function, trigger string)
}

// Route sends requests under a path to a function's HTTP trigger.
type Route struct {
	// Path is exact ("/health") or a prefix ending in "*" ("/api/v1/videos/*").
	Path string
	// Methods the route allows; empty means any method the trigger allows.
	Methods  []string
	Function string
	Trigger  string
	// TriggerMethods are the methods the function's HTTP trigger accepts.
	TriggerMethods []string
	// Strip is removed from the path before the function sees it (direct trigger URLs).
	Strip string
	// Source says where the route comes from, for messages: "domain api-domain".
	Source string
}

func (r Route) prefix() (string, bool) {
	if p, ok := strings.CutSuffix(r.Path, "*"); ok {
		return p, true
	}
	return r.Path, false
}

// allowed is the set of methods both the route and the trigger accept.
func (r Route) allowed() []string {
	var out []string
	for _, m := range r.TriggerMethods {
		if len(r.Methods) == 0 || slices.ContainsFunc(r.Methods, func(x string) bool { return strings.EqualFold(x, m) }) {
			out = append(out, strings.ToUpper(m))
		}
	}
	return out
}

// Options configure a Gateway.
type Options struct {
	Routes    []Route
	Functions Invoker
	// Console serves everything under /_local/.
	Console http.Handler
	// MaxBody bounds request bodies; MaxBody (32 MB) when zero.
	MaxBody int64
	Logger  *slog.Logger
}

// Gateway is an http.Handler.
type Gateway struct {
	exact    map[string]Route
	prefixes []Route // longest first
	fns      Invoker
	console  http.Handler
	maxBody  int64
	log      *slog.Logger
}

// New checks the routes and builds the gateway.
func New(opts Options) (*Gateway, error) {
	if opts.Functions == nil {
		return nil, fmt.Errorf("gateway: Functions is required")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = MaxBody
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{exact: map[string]Route{}, fns: opts.Functions, console: opts.Console, maxBody: opts.MaxBody, log: opts.Logger}
	seen := map[string]Route{}
	for _, r := range opts.Routes {
		if !strings.HasPrefix(r.Path, "/") {
			return nil, fmt.Errorf("gateway: route %q (%s) must start with /", r.Path, r.Source)
		}
		if prev, dup := seen[r.Path]; dup {
			return nil, fmt.Errorf("gateway: path %s is routed twice: to %s (%s) and to %s (%s)", r.Path, prev.Function, prev.Source, r.Function, r.Source)
		}
		seen[r.Path] = r
		if _, wild := r.prefix(); wild {
			g.prefixes = append(g.prefixes, r)
		} else {
			g.exact[r.Path] = r
		}
	}
	sort.SliceStable(g.prefixes, func(i, j int) bool { return len(g.prefixes[i].Path) > len(g.prefixes[j].Path) })
	return g, nil
}

// Routes derives the gateway's routes from s.yaml: every fc3-domain route, and every HTTP
// trigger under /_fn/{function}/.
func Routes(m *manifest.Manifest) []Route {
	var out []Route
	for _, d := range m.Domains {
		for _, r := range d.Routes {
			f := m.Function(r.Function)
			if f == nil || f.HTTPTrigger() == nil {
				continue // Validate reports these
			}
			t := f.HTTPTrigger()
			out = append(out, Route{Path: r.Path, Methods: r.Methods, Function: f.Name, Trigger: t.Name,
				TriggerMethods: t.Methods, Source: "domain " + d.Resource})
		}
	}
	for _, f := range m.Functions {
		if t := f.HTTPTrigger(); t != nil {
			base := FunctionPrefix + f.Name
			out = append(out, Route{Path: base + "/*", Function: f.Name, Trigger: t.Name, TriggerMethods: t.Methods,
				Strip: base, Source: "HTTP trigger " + t.Name})
		}
	}
	return out
}

// match finds the route for a path: an exact route, else the longest prefix.
func (g *Gateway) match(path string) (Route, bool) {
	if r, ok := g.exact[path]; ok {
		return r, true
	}
	for _, r := range g.prefixes {
		p, _ := r.prefix()
		if strings.HasPrefix(path, p) || r.Strip != "" && path == r.Strip {
			return r, true
		}
	}
	return Route{}, false
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, ConsolePrefix) || r.URL.Path == strings.TrimSuffix(ConsolePrefix, "/") {
		if g.console == nil {
			Problem(w, http.StatusNotFound, "NotFound", "no console on this gateway")
			return
		}
		g.console.ServeHTTP(w, r)
		return
	}
	route, ok := g.match(r.URL.Path)
	if !ok {
		Problem(w, http.StatusNotFound, "RouteNotFound", fmt.Sprintf("no route in s.yaml matches %s", r.URL.Path))
		return
	}
	allowed := route.allowed()
	if !slices.Contains(allowed, r.Method) {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		Problem(w, http.StatusMethodNotAllowed, "MethodNotAllowed",
			fmt.Sprintf("%s is not allowed on %s (%s of %s allows %s)", r.Method, r.URL.Path, route.Source, route.Function, strings.Join(allowed, ", ")))
		return
	}
	if !g.limitBody(w, r) {
		return
	}
	if route.Strip != "" {
		r = stripped(r, route.Strip)
	}
	g.fns.HandleHTTP(w, r, route.Function, route.Trigger)
}

// limitBody enforces the body limit: a declared length is checked up front, an unknown one
// (chunked) is read up to the limit, so an oversize body always gets a clean 413 before any
// function runs.
func (g *Gateway) limitBody(w http.ResponseWriter, r *http.Request) bool {
	tooLarge := func() bool {
		Problem(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge",
			fmt.Sprintf("request body exceeds %d bytes, the Function Compute limit for a synchronous invocation", g.maxBody))
		return false
	}
	if r.ContentLength > g.maxBody {
		return tooLarge()
	}
	if r.ContentLength >= 0 {
		r.Body = http.MaxBytesReader(w, r.Body, g.maxBody)
		return true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, g.maxBody+1))
	if err != nil {
		Problem(w, http.StatusBadRequest, "BadRequest", "reading the request body: "+err.Error())
		return false
	}
	if int64(len(body)) > g.maxBody {
		return tooLarge()
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	return true
}

func stripped(r *http.Request, prefix string) *http.Request {
	r2 := r.Clone(r.Context())
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, prefix)
	if r2.URL.Path == "" {
		r2.URL.Path = "/"
	}
	if r.URL.RawPath != "" {
		r2.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, prefix)
		if r2.URL.RawPath == "" {
			r2.URL.RawPath = "/"
		}
	}
	r2.RequestURI = r2.URL.RequestURI()
	return r2
}

// Problem writes an RFC 9457 problem+json error.
func Problem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"type":   "about:blank",
		"title":  http.StatusText(status),
		"status": status,
		"detail": detail,
		"code":   code,
	})
}
