package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"vodfc.dev/local/cloud"
	"vodfc.dev/local/fcemu"
	"vodfc.dev/local/gateway"
	"vodfc.dev/local/manifest"
)

func init() {
	commands["up"] = command{summary: "run every function of s.yaml on the local cloud (what make run does)", run: runUp}
}

// cloudFlags are the flags `up` and `invoke` share.
type cloudFlags struct {
	manifest, data, addr, ossAddr, otsAddr, smtpAddr, redisAddr, instance string
	verbose                                                               bool
	cors                                                                  originList
}

// originList is a repeatable flag.
type originList []string

func (o *originList) String() string { return strings.Join(*o, ",") }
func (o *originList) Set(v string) error {
	*o = append(*o, v)
	return nil
}

func (f *cloudFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.manifest, "manifest", "", "the s.yaml to run (default: s.yaml in this directory or the nearest parent)")
	fs.StringVar(&f.data, "data", "", "data directory for emulator state, the clock and built binaries (default: .fclocal next to s.yaml)")
	fs.StringVar(&f.addr, "addr", cloud.DefaultAddr, "gateway and /_local/ console")
	fs.StringVar(&f.ossAddr, "oss-addr", cloud.DefaultOSSAddr, "OSS emulator")
	fs.StringVar(&f.otsAddr, "ots-addr", cloud.DefaultOTSAddr, "Tablestore emulator")
	fs.StringVar(&f.smtpAddr, "smtp-addr", cloud.DefaultSMTPAddr, "SMTP sink")
	fs.StringVar(&f.redisAddr, "redis-addr", cloud.DefaultRedisAddr, "embedded Redis (ignored when REDIS_ADDR names a server)")
	fs.StringVar(&f.instance, "instance", cloud.DefaultInstance, "Tablestore instance name")
	fs.BoolVar(&f.verbose, "v", false, "log debug detail")
	fs.Var(&f.cors, "cors-origin", "origin a web page may upload from with presigned URLs, on buckets without CORS rules (repeatable; default http://localhost:* and http://127.0.0.1:*)")
}

// options turns the flags and the environment into cloud options. Only FCLOCAL_* and REDIS_*
// variables are read: never cloud credentials.
func (f *cloudFlags) options(log io.Writer) (cloud.Options, error) {
	path, err := findManifest(f.manifest)
	if err != nil {
		return cloud.Options{}, err
	}
	data := f.data
	if data == "" {
		data = filepath.Join(filepath.Dir(path), ".fclocal")
	}
	return cloud.Options{
		Manifest:              path,
		DataDir:               data,
		Addr:                  f.addr,
		OSSAddr:               f.ossAddr,
		OTSAddr:               f.otsAddr,
		SMTPAddr:              f.smtpAddr,
		RedisAddr:             f.redisAddr,
		ExternalRedis:         os.Getenv("REDIS_ADDR"),
		ExternalRedisPassword: os.Getenv("REDIS_PASSWORD"),
		Instance:              f.instance,
		CORSOrigins:           f.corsOrigins(),
		Credentials:           localCredentials(),
		Log:                   log,
		Verbose:               f.verbose,
	}, nil
}

func (f *cloudFlags) corsOrigins() []string {
	if len(f.cors) > 0 {
		return f.cors
	}
	// A front end in development serves from some local port.
	return []string{"http://localhost:*", "http://127.0.0.1:*"}
}

func localCredentials() fcemu.Credentials {
	c := fcemu.Credentials{AccessKeyID: os.Getenv("FCLOCAL_ACCESS_KEY_ID"), AccessKeySecret: os.Getenv("FCLOCAL_ACCESS_KEY_SECRET")}
	if c.AccessKeyID == "" || c.AccessKeySecret == "" {
		c = fcemu.Credentials{AccessKeyID: cloud.DefaultAccessKeyID, AccessKeySecret: cloud.DefaultAccessKeySecret}
	}
	return c
}

// findManifest returns the given path, or s.yaml in the working directory or the nearest
// parent that has one.
func findManifest(given string) (string, error) {
	if given != "" {
		if _, err := os.Stat(given); err != nil {
			return "", err
		}
		return filepath.Abs(given)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "s.yaml")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no s.yaml in this directory or any parent; run from the repository or pass --manifest")
		}
		dir = parent
	}
}

func runUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var cf cloudFlags
	cf.register(fs)
	only := fs.String("functions", "", "comma-separated functionNames to run (default: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts, err := cf.options(os.Stderr)
	if err != nil {
		return err
	}
	if *only != "" {
		opts.Functions = strings.Split(*only, ",")
	}
	fmt.Fprintf(os.Stderr, "fclocal: building the functions of %s ...\n", opts.Manifest)
	c, err := cloud.Start(ctx, opts)
	if err != nil {
		return err
	}
	printSummary(os.Stdout, c)
	if dir := filepath.Join(c.Manifest.Dir, "functions"); isDir(dir) {
		if err := manifest.CheckLayout(c.Manifest, dir); err != nil {
			fmt.Fprintf(os.Stderr, "fclocal: s.yaml and functions/ disagree (make test fails on this):\n%v\n", err)
		}
	}
	<-ctx.Done()
	// A second Ctrl-C now kills at once; children die with us (Pdeathsig).
	signal.Reset(os.Interrupt)
	fmt.Fprintln(os.Stderr, "\nfclocal: shutting down (preStop hooks run) ...")
	return c.Close()
}

func printSummary(w io.Writer, c *cloud.Cloud) {
	e := c.Endpoints()
	fmt.Fprintf(w, "\nvodfc local cloud is up (Ctrl-C stops it)\n\n")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  API gateway\t%s\n", e.Gateway)
	fmt.Fprintf(tw, "  console\t%s  (health, invocations, timers/{function}/{trigger}, clock)\n", e.Console+"health")
	if e.OSS != "" {
		fmt.Fprintf(tw, "  OSS\t%s\n", e.OSS)
	}
	if e.Tablestore != "" {
		fmt.Fprintf(tw, "  Tablestore\t%s  instance %s\n", e.Tablestore, e.OTSInstance)
	}
	fmt.Fprintf(tw, "  Redis\t%s\n", e.Redis)
	if e.SMTP != "" {
		fmt.Fprintf(tw, "  SMTP sink\t%s  (read: %s/_local/mail?to=ADDRESS)\n", e.SMTP, e.Gateway)
	}
	fmt.Fprintf(tw, "  data\t%s\n", e.DataDir)
	fmt.Fprintf(tw, "  credentials\t%s / %s (local only)\n", c.Credentials.AccessKeyID, c.Credentials.AccessKeySecret)
	tw.Flush()
	fmt.Fprintf(w, "\nfunctions\n")
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	routes := map[string][]string{}
	for _, r := range c.Manifest.Routes() {
		routes[r.Function] = append(routes[r.Function], r.Path)
	}
	if len(c.Functions()) == 0 {
		fmt.Fprintf(tw, "  (none yet: the top of %s shows how to add one)\n", filepath.Base(c.Manifest.Path))
	}
	for _, f := range c.Functions() {
		rt := f.Runtime
		if f.Concurrency() > 1 {
			rt += fmt.Sprintf(" x%d", f.Concurrency())
		}
		if len(f.Triggers) == 0 {
			fmt.Fprintf(tw, "  %s\t%s\t-\tinvoke: fclocal invoke %s --event FILE\n", f.Name, rt, f.Name)
		}
		for i, t := range f.Triggers {
			name, runtime := f.Name, rt
			if i > 0 {
				name, runtime = "", ""
			}
			detail := cloud.Describe(t)
			switch t.Type {
			case manifest.TriggerHTTP:
				detail += "  " + e.Gateway + gateway.FunctionPrefix + f.Name + "/"
				if p := routes[f.Name]; len(p) > 0 {
					detail += "  routes " + strings.Join(p, " ")
				}
			case manifest.TriggerTimer:
				if !t.Enabled {
					detail += "  (disabled)"
				}
				detail += fmt.Sprintf("  fire now: POST %s/_local/timers/%s/%s", e.Gateway, f.Name, t.Name)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s %s\t%s\n", name, runtime, t.Type, t.Name, detail)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
