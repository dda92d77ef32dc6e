package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"vodfc.dev/local/ossemu"
)

func init() {
	commands["oss"] = command{summary: "serve the OSS emulator alone", run: runOSS}
}

// ossCredential reads one of the local dev credentials (the same two variables configure every
// emulator of the local cloud). Names in this file carry an oss prefix: the other subcommand
// files share the package.
func ossCredential(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// ossFlagList is a flag that may be given several times.
type ossFlagList []string

func (r *ossFlagList) String() string { return strings.Join(*r, ",") }
func (r *ossFlagList) Set(v string) error {
	*r = append(*r, v)
	return nil
}

func runOSS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("oss", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: fclocal oss [flags]

Serves the OSS emulator on its own: path-style http://ADDR/BUCKET/KEY (what the SDK uses for an
IP endpoint) and virtual-hosted http://BUCKET.localhost:PORT/KEY. Signatures (V1, V2, V4, header
and presigned) are checked against FCLOCAL_ACCESS_KEY_ID / FCLOCAL_ACCESS_KEY_SECRET (defaults
fclocal-access-key-id / fclocal-access-key-secret). Objects live under --data and survive restarts.
Buckets come from --bucket and from $MEDIA_BUCKET.

flags:
`)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:9100", "listen address")
	data := fs.String("data", ".fclocal/oss", "data directory")
	region := fs.String("region", "cn-hangzhou", "region for V4 signing scopes, ARNs and bucket locations")
	account := fs.String("account", "1234567890123456", "account id for bucket ARNs and owners")
	restoreDelay := fs.Duration("restore-delay", time.Minute, "time an Archive restore takes (Cold Archive takes multiples of it)")
	noSync := fs.Bool("no-sync", false, "skip fsync (faster; a power cut may lose acknowledged writes)")
	skipAuth := fs.Bool("insecure-skip-auth", false, "accept every request as the owner without checking signatures (debugging only)")
	verbose := fs.Bool("v", false, "log every request")
	var buckets, origins ossFlagList
	fs.Var(&buckets, "bucket", "bucket to create at start-up if missing (repeatable)")
	fs.Var(&origins, "cors-origin", "origin a web page may PUT/POST/GET from, on buckets without CORS rules (repeatable; * for any)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if b := os.Getenv("MEDIA_BUCKET"); b != "" {
		buckets = append(buckets, b)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	opts := ossemu.Options{
		AccessKeyID:     ossCredential("FCLOCAL_ACCESS_KEY_ID", "fclocal-access-key-id"),
		AccessKeySecret: ossCredential("FCLOCAL_ACCESS_KEY_SECRET", "fclocal-access-key-secret"),
		DataDir:         *data,
		Region:          *region,
		AccountID:       *account,
		Buckets:         buckets,
		RestoreDelay:    *restoreDelay,
		SkipAuth:        *skipAuth,
		NoSync:          *noSync,
		Logger:          log,
	}
	if len(origins) > 0 {
		opts.CORS = []ossemu.CORSRule{{
			AllowedOrigin: origins,
			AllowedMethod: []string{"GET", "PUT", "POST", "HEAD", "DELETE"},
			AllowedHeader: []string{"*"},
			ExposeHeader:  []string{"ETag", "x-oss-request-id", "x-oss-hash-crc64ecma", "x-oss-next-append-position"},
			MaxAgeSeconds: 600,
		}}
	}
	emu, err := ossemu.Open(opts)
	if err != nil {
		return err
	}
	defer emu.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 30 * time.Second}
	if *skipAuth {
		log.Warn("signature checks are OFF (--insecure-skip-auth)")
	}
	log.Info("OSS emulator listening", "endpoint", "http://"+ln.Addr().String(), "data", *data,
		"region", *region, "buckets", strings.Join(buckets, ","), "access_key_id", opts.AccessKeyID)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return emu.Close()
}
