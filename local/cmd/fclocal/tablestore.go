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
	faultRate := fs.Float64("fault-rate", 0, "share of requests (0..1) that fail with a retryable error, to exercise clients' retry paths (0 = off)")
	faultCodes := fs.String("fault-codes", "", "comma-separated error codes the injected faults pick from (default OTSServerBusy; e.g. OTSServerBusy,OTSRowOperationConflict,OTSTimeout)")
	faultActions := fs.String("fault-actions", "", "comma-separated actions the faults hit, e.g. UpdateRow,GetRow (default every action)")
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
	faults, err := tablestoreFaults(*faultRate, *faultCodes, *faultActions)
	if err != nil {
		return err
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
	s.SetFaults(faults)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		s.Close()
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("tablestore emulator listening", "endpoint", "http://"+ln.Addr().String(), "instance", *instance, "data", *data, "access_key_id", keyID)
	if faults.Rate > 0 {
		logger.Warn("fault injection is on", "rate", faults.Rate, "codes", faults.Codes, "actions", faults.Actions)
	}
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

// tablestoreFaults checks the fault-injection flags.
func tablestoreFaults(rate float64, codes, actions string) (otsemu.Faults, error) {
	if !(rate >= 0 && rate <= 1) {
		return otsemu.Faults{}, fmt.Errorf("--fault-rate %v: want a probability between 0 and 1", rate)
	}
	f := otsemu.Faults{Rate: rate, Codes: tablestoreList(codes), Actions: tablestoreList(actions)}
	for _, c := range f.Codes {
		if !strings.HasPrefix(c, "OTS") {
			return otsemu.Faults{}, fmt.Errorf("--fault-codes: %q is not a Tablestore error code (OTSServerBusy, OTSRowOperationConflict, OTSTimeout, ...)", c)
		}
	}
	return f, nil
}

func tablestoreList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// tablestoreEnv returns the variable's value, or def when it is unset or empty.
func tablestoreEnv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
