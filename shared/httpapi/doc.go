// Package httpapi is the HTTP layer every HTTP function uses: a Router over http.ServeMux that
// records its routes (for the OpenAPI check in apidoc) and answers unknown routes and wrong
// methods as problems; RFC 9457 problem+json errors mapped from vodfc.Error; JSON in and out
// with size limits and precise errors; the one bearer-token verification path (RequireAuth,
// OptionalAuth, RequireRole); request logging, panic recovery and CORS; opaque cursors for
// pagination. It writes no feature handler itself.
//
// A function's main wires it like this:
//
//	r := httpapi.NewRouter()
//	r.Use(httpapi.CORS(httpapi.CORSConfig{AllowedOrigins: origins}))
//	r.HandleFunc("GET /api/v1/videos/{id}", videos.Get, httpapi.OptionalAuth(verifier))
//	r.HandleFunc("POST /api/v1/videos", videos.Create, httpapi.RequireAuth(verifier), httpapi.MaxBody(16<<10))
//	runtime.HTTP(r)
package httpapi
