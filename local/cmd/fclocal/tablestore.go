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
	"time"

	"vodfc.dev/local/otsemu"
)

func init() {
	commands["tablestore"] = command{
		summary: "serve the Tablestore emulator alone",
		run:     runTablestore,
	}
}

// runTablestore serves otsemu on its own: the same endpoint the local cloud starts, for
// trying the emulator with any Tablestore SDK.
func runTablestore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tablestore", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9200", "listen address")
	data := fs.String("data", ".fclocal/tablestore", `data directory ("" keeps everything in memory)`)
	instance := fs.String("instance", "vodfc", "instance name clients must send")
	noSync := fs.Bool("nosync", false, "acknowledge writes without fsync (survives a killed emulator, not a crashed machine)")
	verbose := fs.Bool("v", false, "log every request")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: fclocal tablestore [flags]\n\nCredentials come from FCLOCAL_ACCESS_KEY_ID and FCLOCAL_ACCESS_KEY_SECRET.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
	keyID, secret := tablestoreEnv("FCLOCAL_ACCESS_KEY_ID", "fclocal-access-key-id"), tablestoreEnv("FCLOCAL_ACCESS_KEY_SECRET", "fclocal-access-key-secret")
	s, err := otsemu.Open(otsemu.Options{
		AccessKeyID:     keyID,
		AccessKeySecret: secret,
		Instance:        *instance,
		DataDir:         *data,
		NoSync:          *noSync,
		Logger:          logger,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		s.Close()
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("tablestore emulator listening", "endpoint", "http://"+ln.Addr().String(), "instance", *instance, "data", *data, "access_key_id", keyID)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		s.Close()
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// tablestoreEnv returns the variable's value, or def when it is unset or empty.
func tablestoreEnv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
