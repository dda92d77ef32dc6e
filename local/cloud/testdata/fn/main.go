// Command fn is the local cloud's end-to-end test function, written like a vodfc function on
// shared/runtime. FIXTURE_ROLE picks what it serves: http, objects or timer.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

var (
	initialized atomic.Bool
	inflight    atomic.Int32
)

func main() {
	opts := []runtime.Option{
		runtime.OnInit(func(ctx context.Context) error {
			initialized.Store(true)
			fmt.Println("initializer ran")
			return nil
		}),
		runtime.OnPreStop(func(ctx context.Context) { fmt.Println("preStop ran") }),
	}
	switch role := os.Getenv("FIXTURE_ROLE"); role {
	case "http":
		runtime.HTTP(http.HandlerFunc(serve), opts...)
	case "objects":
		runtime.Objects(object, opts...)
	case "timer":
		runtime.Timer(timer, opts...)
	default:
		fmt.Fprintf(os.Stderr, "FIXTURE_ROLE %q: want http, objects or timer\n", role)
		os.Exit(2)
	}
}

func serve(w http.ResponseWriter, r *http.Request) {
	if path.Base(r.URL.Path) == "hello" { // the trivial handler of the benchmarks
		w.Write([]byte("hello"))
		return
	}
	n := inflight.Add(1)
	defer inflight.Add(-1)
	q := r.URL.Query()
	body, _ := io.ReadAll(r.Body)
	switch path.Base(r.URL.Path) {
	case "hold":
		for {
			if _, err := os.Stat(q.Get("file")); err == nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	case "sleep":
		ms, _ := strconv.Atoi(q.Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
	case "crash":
		fmt.Println("crashing now")
		os.Exit(3)
	case "ots":
		// A round trip to Tablestore at OTS_ENDPOINT with the credentials of this invocation.
		if err := things(r.Context(), q.Get("id"), q.Get("value"), w); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"instance":    os.Getenv("FC_INSTANCE_ID"),
		"requestId":   runtime.RequestID(r.Context()),
		"initialized": initialized.Load(),
		"inflight":    n,
		"now":         r.Header.Get("x-fclocal-now"),
		"runtimeNow":  runtime.Now(),
		"path":        r.URL.Path,
		"method":      r.Method,
		"bytes":       len(body),
		"env": map[string]string{
			"FCLOCAL":                 os.Getenv("FCLOCAL"),
			"REDIS_ADDR":              os.Getenv("REDIS_ADDR"),
			"SMTP_ADDR":               os.Getenv("SMTP_ADDR"),
			"MEDIA_BUCKET":            os.Getenv("MEDIA_BUCKET"),
			"FC_FUNCTION_MEMORY_SIZE": os.Getenv("FC_FUNCTION_MEMORY_SIZE"),
			"FCLOCAL_CLOCK_URL":       os.Getenv("FCLOCAL_CLOCK_URL"),
		},
	})
}

func object(ctx context.Context, ev runtime.ObjectEvent) error {
	fmt.Printf("object %s %s/%s retry=%d request=%s\n", ev.Name, ev.Bucket, ev.Key, runtime.RetryCount(ctx), runtime.RequestID(ctx))
	switch {
	case strings.Contains(ev.Key, "crash"):
		os.Exit(3)
	case strings.Contains(ev.Key, "fail"):
		return errors.New("cannot process " + ev.Key)
	}
	return nil
}

func timer(ctx context.Context, ev runtime.TimerEvent) error {
	fmt.Printf("timer %s at %s payload %s request=%s\n", ev.Trigger, ev.Time.UTC().Format(time.RFC3339), ev.Payload, runtime.RequestID(ctx))
	return nil
}

func things(ctx context.Context, id, value string, w http.ResponseWriter) error {
	cfg, err := tablestore.ConfigFromEnv()
	if err != nil {
		return err
	}
	c, err := tablestore.New(cfg)
	if err != nil {
		return err
	}
	key := tablestore.K("id", id)
	if err := c.Put(ctx, "e2e_things", key, tablestore.Cols{"value": value}, tablestore.Always); err != nil {
		return err
	}
	row, err := c.Get(ctx, "e2e_things", key)
	if err != nil {
		return err
	}
	if row == nil {
		return errors.New("the row just written is not there")
	}
	_, err = io.WriteString(w, row.Str("value"))
	return err
}
