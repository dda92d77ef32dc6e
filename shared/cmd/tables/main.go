// Command tables creates or updates every Tablestore table of the product (tablestore.Schema)
// against any endpoint: the cloud instance before a first deploy, after a release that adds a
// table, or the local emulator. It is idempotent: a table that exists with the right options is
// left alone, one whose TTL or max versions changed is updated, and one whose primary key
// changed is an error (keys cannot change in place). It prints what it did, one line per table.
//
//	go run ./shared/cmd/tables --endpoint https://vodfc.cn-hangzhou.ots.aliyuncs.com --instance vodfc
//	go run ./shared/cmd/tables --dry-run                       # what would change, nothing written
//	go run ./shared/cmd/tables --endpoint http://127.0.0.1:9200  # the local cloud's emulator
//
// The endpoint and instance default to OTS_ENDPOINT and OTS_INSTANCE. Against the cloud it signs
// with ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and, for STS credentials,
// ALIBABA_CLOUD_SECURITY_TOKEN. Against a loopback endpoint (the local cloud) it never reads
// those: it uses the local pair, FCLOCAL_ACCESS_KEY_ID / FCLOCAL_ACCESS_KEY_SECRET or their
// defaults (docs/architecture.md), so a developer's cloud keys never reach the emulator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// The local cloud's credentials unless FCLOCAL_ACCESS_KEY_ID / _SECRET say otherwise; the same
// defaults as local/cloud (this module may not import it).
const (
	localAccessKeyID     = "fclocal-access-key-id"
	localAccessKeySecret = "fclocal-access-key-secret"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the command without the process around it, so tests drive it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tables", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", getenv("OTS_ENDPOINT"), "Tablestore endpoint (default $OTS_ENDPOINT)")
	instance := fs.String("instance", getenv("OTS_INSTANCE"), "Tablestore instance (default $OTS_INSTANCE)")
	dryRun := fs.Bool("dry-run", false, "print what would be created or updated and change nothing")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tables [--endpoint URL] [--instance NAME] [--dry-run]")
		fmt.Fprintln(stderr, "Creates or updates every table of vodfc (shared/tablestore/tables.go); idempotent.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tables: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	creds, err := credentials(*endpoint, *instance, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "tables:", err)
		return 2
	}
	db, err := tablestore.New(tablestore.Config{Endpoint: *endpoint, Instance: *instance,
		Credentials: func() (runtime.Credentials, bool) { return creds, true }})
	if err != nil {
		fmt.Fprintln(stderr, "tables:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	apply := db.Ensure
	if *dryRun {
		apply = db.Plan
	}
	results, err := apply(ctx, tablestore.Schema)
	report(stdout, *endpoint, *instance, *dryRun, results)
	if err != nil {
		fmt.Fprintln(stderr, "tables:", err)
		return 1
	}
	return 0
}

// credentials picks the key pair for endpoint: the local pair for a loopback emulator, the
// ALIBABA_CLOUD_* variables for anything else.
func credentials(endpoint, instance string, getenv func(string) string) (runtime.Credentials, error) {
	if endpoint == "" || instance == "" {
		return runtime.Credentials{}, errors.New("set --endpoint and --instance (or OTS_ENDPOINT and OTS_INSTANCE)")
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return runtime.Credentials{}, fmt.Errorf("endpoint %q is not an http(s) URL", endpoint)
	}
	if isLoopback(u.Hostname()) {
		c := runtime.Credentials{AccessKeyID: getenv("FCLOCAL_ACCESS_KEY_ID"), AccessKeySecret: getenv("FCLOCAL_ACCESS_KEY_SECRET")}
		if c.AccessKeyID == "" {
			c.AccessKeyID = localAccessKeyID
		}
		if c.AccessKeySecret == "" {
			c.AccessKeySecret = localAccessKeySecret
		}
		return c, nil
	}
	c := runtime.Credentials{
		AccessKeyID:     getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"),
		AccessKeySecret: getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
		SecurityToken:   getenv("ALIBABA_CLOUD_SECURITY_TOKEN"),
	}
	if c.AccessKeyID == "" || c.AccessKeySecret == "" {
		return c, errors.New("ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET must be set to reach " + endpoint)
	}
	return c, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// report prints one line per table: what happened (or would), its key and what it holds.
func report(w io.Writer, endpoint, instance string, dryRun bool, results []tablestore.EnsureResult) {
	mode := ""
	if dryRun {
		mode = " (dry run: nothing changed)"
	}
	fmt.Fprintf(w, "%s instance %s%s\n", endpoint, instance, mode)
	byName := map[string]tablestore.Table{}
	for _, t := range tablestore.Schema {
		byName[t.Name] = t
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range results {
		action := r.Action
		if dryRun && action != "unchanged" {
			action = "would " + action
		}
		t := byName[r.Table]
		var key []string
		for _, k := range t.Key {
			key = append(key, k.Name)
		}
		note := t.Purpose
		if r.Detail != "" {
			note += " (" + r.Detail + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t(%s)\t%s\n", r.Table, action, strings.Join(key, ", "), note)
	}
	tw.Flush()
}
