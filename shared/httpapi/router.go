package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Route is one registered "METHOD /path" pattern, as http.ServeMux reads it.
type Route struct {
	Method string
	Path   string
}

func (r Route) String() string { return r.Method + " " + r.Path }

// Router routes requests with http.ServeMux patterns ("GET /api/v1/videos/{id}"). Unlike a
// bare ServeMux it remembers its routes, answers an unknown path with a 404 problem and a
// known path with the wrong method with a 405 problem carrying Allow, and wraps every request
// in Logger and Recover. A GET route also serves HEAD, as ServeMux does.
//
// The Router owns the "/" pattern (its catch-all); register and Use before serving.
type Router struct {
	mux     *http.ServeMux
	scope   []string // paths this router serves (see Scope); nil serves every route
	routes  []Route
	methods []string // every method some route uses, for computing Allow
	use     []Middleware
	handler http.Handler
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	rt := &Router{mux: http.NewServeMux()}
	// With a catch-all present ServeMux never answers 404 or 405 itself (a method-less pattern
	// beats a method mismatch), so both land here and become problems.
	rt.mux.HandleFunc("/", rt.noRoute)
	rt.build()
	return rt
}

// Use adds middleware around every request, inside Logger and Recover and before routing, so
// it also sees requests no route matches (CORS preflights, for one). Call it before serving.
func (rt *Router) Use(mw ...Middleware) {
	rt.use = append(rt.use, mw...)
	rt.build()
}

func (rt *Router) build() {
	var h http.Handler = rt.mux
	for i := len(rt.use) - 1; i >= 0; i-- {
		h = rt.use[i](h)
	}
	rt.handler = Logger(Recover(h))
}

// Scope limits the router to the routes whose paths the platform sends to this function, in
// the syntax of FC custom-domain routes: "/api/v1/me" is that path exactly, "/api/v1/videos/*"
// everything below it. FC routes a custom domain by path prefix only, so one function must
// serve every route under a prefix it owns even when another feature wrote the handler: a
// function registers whole features and Scope keeps the routes that are its own, the same
// ones s.yaml routes to it and docs/openapi.yaml names it for (tests check all three). Call it
// before registering routes.
func (rt *Router) Scope(paths ...string) {
	rt.scope = append(rt.scope, paths...)
}

// inScope reports whether path is one the router serves.
func (rt *Router) inScope(path string) bool {
	if rt.scope == nil {
		return true
	}
	for _, p := range rt.scope {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(path, prefix) {
				return true
			}
		} else if path == p {
			return true
		}
	}
	return false
}

// Handle registers h for pattern, which must name a method and a path ("GET /x/{id}"); mw wrap
// h for this route only, the first outermost. A route outside the router's Scope is left out.
// A malformed or conflicting pattern panics, as with ServeMux: it is a programming error found
// at start-up.
func (rt *Router) Handle(pattern string, h http.Handler, mw ...Middleware) {
	route, err := parseRoute(pattern)
	if err != nil {
		panic(err)
	}
	if !rt.inScope(route.Path) {
		return
	}
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	inner := h
	rt.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Tell the access log which route served, even if a middleware replaced r (and with
		// it the r.Pattern the mux set).
		if rec := findRecorder(w); rec != nil {
			rec.route, rec.routed = pattern, true
		}
		inner.ServeHTTP(w, r)
	}))
	rt.routes = append(rt.routes, route)
	if !slices.Contains(rt.methods, route.Method) {
		rt.methods = append(rt.methods, route.Method)
		if route.Method == http.MethodGet && !slices.Contains(rt.methods, http.MethodHead) {
			rt.methods = append(rt.methods, http.MethodHead)
		}
	}
}

// HandleFunc registers a handler function; see Handle.
func (rt *Router) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request), mw ...Middleware) {
	rt.Handle(pattern, http.HandlerFunc(h), mw...)
}

// Routes lists the registered routes in registration order.
func (rt *Router) Routes() []Route { return slices.Clone(rt.routes) }

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.handler.ServeHTTP(w, r) }

func parseRoute(pattern string) (Route, error) {
	method, path, ok := strings.Cut(strings.TrimSpace(pattern), " ")
	path = strings.TrimSpace(path)
	if !ok || method == "" || strings.ToUpper(method) != method || !strings.HasPrefix(path, "/") {
		return Route{}, fmt.Errorf("httpapi: route %q must be \"METHOD /path\" (no host)", pattern)
	}
	return Route{Method: method, Path: path}, nil
}

// noRoute answers requests no route matched: 405 with Allow when the path exists under other
// methods, else 404. This is the error path, so probing the mux once per method is fine.
func (rt *Router) noRoute(w http.ResponseWriter, r *http.Request) {
	if rec := findRecorder(w); rec != nil {
		rec.routed = true
	}
	var allow []string
	for _, m := range rt.methods {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pat := rt.mux.Handler(probe); pat != "" && pat != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		writeProblem(w, r, &Problem{Status: http.StatusNotFound, Code: "route_not_found",
			Detail: "no such endpoint: " + r.URL.Path})
		return
	}
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeProblem(w, r, &Problem{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
		Detail: r.Method + " is not allowed here; allowed: " + strings.Join(allow, ", ")})
}
