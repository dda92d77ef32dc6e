// Command videos is the videos function: creating videos with their upload plans (one
// presigned PUT, or a resumable multipart upload), reading, editing, deleting and listing
// them. See shared/videos.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// config is everything the function reads from its environment.
type config struct {
	tables      tablestore.Config
	media       oss.Config
	videos      videos.Config
	verifier    *auth.Verifier
	corsOrigins []string
}

func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var errs []error
	var err error
	if c.tables, err = tablestore.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if c.media, err = oss.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if c.videos, err = videos.ConfigFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if c.verifier, err = auth.LoadVerifier(getenv); err != nil {
		errs = append(errs, err)
	}
	c.corsOrigins = splitList(getenv("CORS_ORIGINS"))
	return c, errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// newRouter wires the feature into the HTTP API.
func newRouter(c config, db *tablestore.Client, media *oss.Store) *httpapi.Router {
	r := httpapi.NewRouter()
	r.Use(httpapi.CORS(httpapi.CORSConfig{AllowedOrigins: c.corsOrigins}))
	videos.NewService(videos.NewStore(db), media, c.videos).Register(r, c.verifier)
	return r
}

func main() {
	c, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "videos: configuration: %v\n", err)
		os.Exit(1)
	}
	db, err := tablestore.New(c.tables)
	if err != nil {
		fmt.Fprintf(os.Stderr, "videos: %v\n", err)
		os.Exit(1)
	}
	media, err := oss.New(c.media)
	if err != nil {
		fmt.Fprintf(os.Stderr, "videos: %v\n", err)
		os.Exit(1)
	}
	runtime.HTTP(newRouter(c, db, media))
}
