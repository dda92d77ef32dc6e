// Package cloud is the composition root of the local cloud: it reads s.yaml, builds every
// function, starts the services they talk to (Redis, and the OSS, Tablestore and mail
// emulators), runs the functions under fcemu, fires their timers and OSS events, and serves
// them through one gateway with the /_local/ console. `fclocal up` and every end-to-end test
// start it with Start and stop it with Close.
package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"

	"vodfc.dev/local/clock"
	"vodfc.dev/local/fcemu"
	"vodfc.dev/local/gateway"
	"vodfc.dev/local/mailbox"
	"vodfc.dev/local/manifest"
	"vodfc.dev/local/ossemu"
	"vodfc.dev/local/otsemu"
	"vodfc.dev/local/scheduler"
)

// Local dev credentials, used unless FCLOCAL_ACCESS_KEY_ID / FCLOCAL_ACCESS_KEY_SECRET say
// otherwise. They open only the local emulators.
const (
	DefaultAccessKeyID     = "fclocal-access-key-id"
	DefaultAccessKeySecret = "fclocal-access-key-secret"
)

// Default addresses (docs/architecture.md).
const (
	DefaultAddr      = "127.0.0.1:8080"
	DefaultOSSAddr   = "127.0.0.1:9100"
	DefaultOTSAddr   = "127.0.0.1:9200"
	DefaultRedisAddr = "127.0.0.1:6380"
	DefaultSMTPAddr  = "127.0.0.1:2525"
	DefaultInstance  = "vodfc"
)

// Options configure the local cloud. Addresses default to those of docs/architecture.md; give
// "127.0.0.1:0" (or ":0") for a free port, as tests do. Every listener binds to loopback.
type Options struct {
	// Manifest is the path of s.yaml.
	Manifest string
	// DataDir keeps emulator data, the clock offset and built binaries; a temp dir (removed
	// by Close) when empty.
	DataDir   string
	Addr      string // gateway and console
	OSSAddr   string
	OTSAddr   string
	RedisAddr string // the embedded Redis
	SMTPAddr  string
	// ExternalRedis is a Redis server to use instead of the embedded one (REDIS_ADDR).
	ExternalRedis         string
	ExternalRedisPassword string
	// Instance is the Tablestore instance name.
	Instance string
	// CORSOrigins may PUT/POST/GET objects from a web page (presigned URLs, PostObject) on
	// buckets that have no CORS rules of their own; each may hold one '*'.
	CORSOrigins []string
	// Functions limits the cloud to these functions (by functionName); all when empty.
	Functions []string
	// Credentials the functions receive and the emulators accept.
	Credentials fcemu.Credentials
	// Log receives the cloud's log and every line the functions print; os.Stderr when nil.
	Log io.Writer
	// Verbose logs debug detail.
	Verbose bool
	// Setup runs after the services started and before functions take traffic (creating
	// tables, seeding data).
	Setup func(ctx context.Context, c *Cloud) error
	// Getenv resolves ${env(...)} in s.yaml; os.Getenv when nil.
	Getenv func(string) string
	// Function runtime tuning (zero = fcemu's defaults).
	IdleTimeout  time.Duration
	MaxInstances int
	RetryBackoff func(n int) time.Duration
}

// Ephemeral returns options for a throw-away cloud, as end-to-end tests want one: every
// listener on a free loopback port, a temporary data directory (removed by Close), no output,
// and async retries after 50 ms, 100 ms, 150 ms ... instead of seconds. functions limits it to
// those functions. Adjust the fields before Start as needed (Log, Setup, ...).
func Ephemeral(manifestPath string, functions ...string) Options {
	return Options{
		Manifest:     manifestPath,
		Addr:         "127.0.0.1:0",
		OSSAddr:      "127.0.0.1:0",
		OTSAddr:      "127.0.0.1:0",
		RedisAddr:    "127.0.0.1:0",
		SMTPAddr:     "127.0.0.1:0",
		Functions:    functions,
		Log:          io.Discard,
		RetryBackoff: func(n int) time.Duration { return time.Duration(n) * 50 * time.Millisecond },
	}
}

// Cloud is a running local cloud.
type Cloud struct {
	Manifest    *manifest.Manifest
	Clock       *clock.Clock
	FC          *fcemu.Emulator
	Scheduler   *scheduler.Scheduler
	Credentials fcemu.Credentials

	// GatewayURL serves the API routes, /_fn/{function}/ and the /_local/ console.
	GatewayURL string
	// RedisAddr is host:port of Redis.
	RedisAddr string
	// OSSEndpoint, OTSEndpoint and SMTPAddr are the emulators' addresses (empty when the
	// emulator is not part of this build).
	OSSEndpoint string
	OTSEndpoint string
	OTSInstance string
	SMTPAddr    string
	DataDir     string

	log       *slog.Logger
	out       io.Writer
	functions []*manifest.Function // the ones running
	redis     *miniredis.Miniredis
	mail      *mailbox.Mailbox
	ots       *otsemu.Server
	oss       *ossemu.Server
	secrets   *secrets
	srv       *http.Server
	tempDir   bool
	closers   []func(context.Context) error // run in reverse order by Close
	stop      chan struct{}                 // closed by Close: ends background goroutines
	closeOnce sync.Once
	closeErr  error
	started   time.Time
}

// Start brings the local cloud up. On error everything started so far is stopped again.
func Start(ctx context.Context, opts Options) (c *Cloud, err error) {
	if opts.Manifest == "" {
		return nil, errors.New("cloud: Options.Manifest (path of s.yaml) is required")
	}
	out := opts.Log
	if out == nil {
		out = os.Stderr
	}
	level := slog.LevelInfo
	if opts.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	m, err := manifest.Load(opts.Manifest, manifest.Options{Getenv: opts.Getenv})
	if err != nil {
		return nil, err
	}
	for _, w := range m.Warnings {
		log.Warn(w)
	}
	for _, e := range m.UnsetEnv {
		if !providedLocally(e.Name) {
			log.Warn(e.At + ": environment variable " + e.Name + " is not set; ${env('" + e.Name + "')} is empty")
		}
	}
	fns, err := selectFunctions(m, opts.Functions)
	if err != nil {
		return nil, err
	}
	for _, f := range fns {
		if t := f.HTTPTrigger(); t != nil && t.AuthType != "anonymous" {
			log.Warn("HTTP trigger authType is not enforced locally: requests are let through as anonymous", "function", f.Name, "trigger", t.Name, "authType", t.AuthType)
		}
	}
	c = &Cloud{Manifest: m, log: log, out: out, functions: fns, started: time.Now(), stop: make(chan struct{})}
	defer func() {
		if err != nil {
			c.Close()
			c = nil
		}
	}()
	if err := c.dataDir(opts.DataDir); err != nil {
		return c, err
	}
	c.Clock, err = clock.Open(filepath.Join(c.DataDir, "clock.json"))
	if err != nil {
		return c, err
	}
	c.Credentials = opts.Credentials
	if c.Credentials.AccessKeyID == "" {
		c.Credentials = fcemu.Credentials{AccessKeyID: DefaultAccessKeyID, AccessKeySecret: DefaultAccessKeySecret}
	}
	c.OTSInstance = or(opts.Instance, DefaultInstance)
	if c.secrets, err = loadSecrets(c.DataDir); err != nil {
		return c, err
	}

	// Bind the gateway first: a port conflict should stop us before minutes of building.
	gwLn, err := listen(or(opts.Addr, DefaultAddr))
	if err != nil {
		return c, fmt.Errorf("gateway: %w", err)
	}
	c.GatewayURL = "http://" + gwLn.Addr().String()
	c.closers = append(c.closers, func(context.Context) error { gwLn.Close(); return nil })

	builds := make(chan buildResult, 1)
	go func() {
		bins, err := buildAll(ctx, m, fns, filepath.Join(c.DataDir, "bin"), log)
		builds <- buildResult{bins, err}
	}()

	if err := c.startServices(ctx, opts); err != nil {
		<-builds
		return c, err
	}
	br := <-builds
	if br.err != nil {
		return c, br.err
	}
	if err := c.ensureTables(ctx); err != nil {
		return c, err
	}

	functions := make([]fcemu.Function, 0, len(fns))
	for _, f := range fns {
		env := c.env(f, opts)
		if err := c.secrets.fill(f, env); err != nil {
			return c, err
		}
		functions = append(functions, fcemu.Function{
			Spec:       f,
			Executable: br.bins[f.Name],
			CodeDir:    filepath.Dir(br.bins[f.Name]),
			TmpDir:     filepath.Join(c.DataDir, "tmp", f.Name),
			Env:        env,
		})
	}
	c.FC, err = fcemu.New(fcemu.Options{
		Functions:    functions,
		Region:       region(m),
		Credentials:  c.Credentials,
		Clock:        c.Clock,
		Output:       out,
		Logger:       log.With("part", "fcemu"),
		IdleTimeout:  opts.IdleTimeout,
		MaxInstances: opts.MaxInstances,
		RetryBackoff: opts.RetryBackoff,
		ClockURL:     c.GatewayURL + "/_local/clock",
	})
	if err != nil {
		return c, err
	}
	c.closers = append(c.closers, c.FC.Close)
	c.oss.SetInvoker(c.FC)
	// At shutdown, OSS stops handing out events before fcemu stops taking them: what is not
	// delivered stays on disk for the next start instead of failing against a closed fcemu.
	c.closers = append(c.closers, func(context.Context) error { c.oss.SetInvoker(nil); return nil })

	var jobs []scheduler.Job
	for _, f := range fns {
		for _, t := range f.Triggers {
			if t.Type == manifest.TriggerTimer {
				jobs = append(jobs, scheduler.Job{Function: f.Name, Trigger: t.Name, Cron: t.Cron, Enabled: t.Enabled, Payload: t.Payload})
			}
		}
	}
	c.Scheduler, err = scheduler.New(scheduler.Options{Clock: c.Clock, Jobs: jobs, Fire: c.FC.InvokeAsync, Logger: log.With("part", "scheduler")})
	if err != nil {
		return c, err
	}

	if opts.Setup != nil {
		if err := opts.Setup(ctx, c); err != nil {
			return c, fmt.Errorf("setup: %w", err)
		}
	}

	gw, err := gateway.New(gateway.Options{Routes: c.routes(), Functions: c.FC, Console: c.console(), Logger: log.With("part", "gateway")})
	if err != nil {
		return c, err
	}
	c.srv = &http.Server{Handler: gw, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go c.srv.Serve(gwLn)
	c.closers = append(c.closers, func(ctx context.Context) error { return c.srv.Shutdown(ctx) })

	c.Scheduler.Start()
	c.closers = append(c.closers, func(context.Context) error { c.Scheduler.Close(); return nil })
	return c, nil
}

type buildResult struct {
	bins map[string]string
	err  error
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func region(m *manifest.Manifest) string {
	for _, f := range m.Functions {
		if f.Region != "" {
			return f.Region
		}
	}
	return "cn-hangzhou"
}

func selectFunctions(m *manifest.Manifest, names []string) ([]*manifest.Function, error) {
	if len(names) == 0 {
		return m.Functions, nil
	}
	var out []*manifest.Function
	for _, n := range names {
		f := m.Function(n)
		if f == nil {
			var known []string
			for _, f := range m.Functions {
				known = append(known, f.Name)
			}
			return nil, fmt.Errorf("no function %q in %s (it has: %s)", n, m.Path, strings.Join(known, ", "))
		}
		out = append(out, f)
	}
	return out, nil
}

func (c *Cloud) dataDir(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "fclocal-")
		if err != nil {
			return err
		}
		c.DataDir, c.tempDir = d, true
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	c.DataDir = abs
	return os.MkdirAll(abs, 0o755)
}

// listen binds a loopback address. The local cloud holds dev credentials and no auth of its
// own, so it refuses to listen anywhere else.
func listen(addr string) (net.Listener, error) {
	a, err := loopback(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", a)
	if err != nil {
		return nil, fmt.Errorf("%w (is another fclocal running? pick another port with the flags of fclocal up)", err)
	}
	return ln, nil
}

// loopback checks that addr is on loopback and spells it with 127.0.0.1 when the host is
// empty or localhost.
func loopback(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("address %q: the local cloud listens on loopback only (127.0.0.1)", addr)
	}
	return net.JoinHostPort(host, port), nil
}

// startServices starts what the functions talk to.
func (c *Cloud) startServices(ctx context.Context, opts Options) error {
	if opts.ExternalRedis != "" {
		c.RedisAddr = opts.ExternalRedis
	} else {
		// miniredis binds the address itself (":0" included): probing a port first and binding
		// it again later races with every other process picking free ports.
		addr, err := loopback(or(opts.RedisAddr, DefaultRedisAddr))
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		r := miniredis.NewMiniRedis()
		// Keys expire as time passes, and jump with the shared clock, as they would on a
		// real server over that much time.
		r.ClockTTL(true)
		if err := r.StartAddr(addr); err != nil {
			return fmt.Errorf("redis on %s: %w (is another Redis or local cloud running? use --redis-addr)", addr, err)
		}
		c.redis = r
		c.RedisAddr = r.Addr()
		c.closers = append(c.closers, func(context.Context) error { r.Close(); return nil })
		go c.followClock(r)
	}

	oss, err := ossemu.Open(ossemu.Options{
		AccessKeyID:     c.Credentials.AccessKeyID,
		AccessKeySecret: c.Credentials.AccessKeySecret,
		DataDir:         filepath.Join(c.DataDir, "oss"),
		Region:          region(c.Manifest),
		AccountID:       manifest.LocalAccountID,
		Buckets:         buckets(c.functions),
		Now:             c.Clock.Now,
		CORS:            corsRules(opts.CORSOrigins),
		Triggers:        ossTriggers(c.functions),
		Logger:          c.log.With("part", "ossemu"),
		// The invoker (fcemu) is set once the functions are built; events wait on disk.
	})
	if err != nil {
		return fmt.Errorf("oss: %w", err)
	}
	c.oss = oss
	c.closers = append(c.closers, func(context.Context) error { return oss.Close() })
	if c.OSSEndpoint, err = c.serve("oss", or(opts.OSSAddr, DefaultOSSAddr), oss); err != nil {
		return err
	}

	ots, err := otsemu.Open(otsemu.Options{
		AccessKeyID:     c.Credentials.AccessKeyID,
		AccessKeySecret: c.Credentials.AccessKeySecret,
		Instance:        c.OTSInstance,
		DataDir:         filepath.Join(c.DataDir, "tablestore"),
		Now:             c.Clock.Now,
		Logger:          c.log.With("part", "otsemu"),
	})
	if err != nil {
		return fmt.Errorf("tablestore: %w", err)
	}
	c.ots = ots
	c.closers = append(c.closers, func(context.Context) error { return ots.Close() })
	if c.OTSEndpoint, err = c.serve("tablestore", or(opts.OTSAddr, DefaultOTSAddr), ots); err != nil {
		return err
	}

	// The services live until Close, not until ctx ends: preStop hooks at shutdown may still
	// send mail or write records.
	life := context.WithoutCancel(ctx)
	smtpAddr, err := loopback(or(opts.SMTPAddr, DefaultSMTPAddr))
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	mb, err := mailbox.Start(life, mailbox.Options{Addr: smtpAddr, Dir: filepath.Join(c.DataDir, "mail"), Logger: c.log.With("part", "mailbox")})
	if err != nil {
		return fmt.Errorf("smtp sink: %w", err)
	}
	c.mail = mb
	c.SMTPAddr = mb.Addr()
	c.closers = append(c.closers, func(context.Context) error { return mb.Close() })
	return nil
}

// serve runs an emulator's handler on a loopback address and returns its base URL. It stops
// before the emulator closes (closers run in reverse).
func (c *Cloud) serve(what, addr string, h http.Handler) (string, error) {
	ln, err := listen(addr)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(c.log.Handler(), slog.LevelWarn)}
	go srv.Serve(ln)
	c.closers = append(c.closers, func(ctx context.Context) error { return srv.Shutdown(ctx) })
	return "http://" + ln.Addr().String(), nil
}

// OSS is the OSS emulator (usage reports, in-process SDK clients).
func (c *Cloud) OSS() *ossemu.Server { return c.oss }

// ossTriggers are the OSS triggers of the functions that run.
func ossTriggers(fns []*manifest.Function) []ossemu.Trigger {
	var out []ossemu.Trigger
	for _, f := range fns {
		for _, t := range f.Triggers {
			if t.Type == manifest.TriggerOSS {
				out = append(out, ossemu.Trigger{Function: f.Name, Name: t.Name, Bucket: t.Bucket,
					Events: t.Events, Prefix: t.Prefix, Suffix: t.Suffix})
			}
		}
	}
	return out
}

// buckets are the buckets the functions use: those their OSS triggers watch and those their
// MEDIA_BUCKET names. They exist from the start, as they would in the account.
func buckets(fns []*manifest.Function) []string {
	var out []string
	add := func(b string) {
		if b != "" && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	for _, f := range fns {
		add(f.Env["MEDIA_BUCKET"])
		for _, t := range f.Triggers {
			if t.Type == manifest.TriggerOSS {
				add(t.Bucket)
			}
		}
	}
	return out
}

func corsRules(origins []string) []ossemu.CORSRule {
	if len(origins) == 0 {
		return nil
	}
	return []ossemu.CORSRule{{
		AllowedOrigin: origins,
		AllowedMethod: []string{"GET", "PUT", "POST", "HEAD", "DELETE"},
		AllowedHeader: []string{"*"},
		ExposeHeader:  []string{"ETag", "x-oss-request-id", "x-oss-hash-crc64ecma", "x-oss-next-append-position"},
		MaxAgeSeconds: 600,
	}}
}

// Tablestore is the Tablestore emulator (for fault injection and in-process SDK transports).
func (c *Cloud) Tablestore() *otsemu.Server { return c.ots }

// Mailbox is the SMTP sink holding every message the functions sent.
func (c *Cloud) Mailbox() *mailbox.Mailbox { return c.mail }

// followClock fast-forwards Redis TTLs when the shared clock jumps.
func (c *Cloud) followClock(r *miniredis.Miniredis) {
	last := c.Clock.Offset()
	for {
		select {
		case <-c.Clock.Changed():
		case <-c.stop:
			return
		}
		off := c.Clock.Offset()
		if off > last {
			r.FastForward(off - last)
		}
		last = off
	}
}

// localServiceVars are the variables env sets for the local services whatever s.yaml says.
var localServiceVars = []string{"REDIS_ADDR", "REDIS_TLS", "REDIS_PASSWORD", "OSS_ENDPOINT", "OSS_PUBLIC_ENDPOINT",
	"OTS_ENDPOINT", "OTS_INSTANCE", "SMTP_ADDR", "SMTP_TLS", "SMTP_USERNAME", "SMTP_PASSWORD", "FFMPEG_PATH", "FFPROBE_PATH"}

// providedLocally reports whether the local cloud gives variable name a value itself, so an
// unset ${env(NAME)} in s.yaml is nothing to warn about.
func providedLocally(name string) bool {
	return isSecretName(name) || slices.Contains(localServiceVars, name)
}

// env is a function's environment: its s.yaml variables, with the service addresses it
// declares pointed at the local services.
func (c *Cloud) env(f *manifest.Function, opts Options) map[string]string {
	local := map[string]string{
		"REDIS_ADDR": c.RedisAddr,
		"REDIS_TLS":  "false",
	}
	if opts.ExternalRedis != "" {
		local["REDIS_PASSWORD"] = opts.ExternalRedisPassword
	} else {
		local["REDIS_PASSWORD"] = ""
	}
	if c.OSSEndpoint != "" {
		local["OSS_ENDPOINT"] = c.OSSEndpoint
		local["OSS_PUBLIC_ENDPOINT"] = c.OSSEndpoint
	}
	if c.OTSEndpoint != "" {
		local["OTS_ENDPOINT"] = c.OTSEndpoint
		local["OTS_INSTANCE"] = c.OTSInstance
	}
	if c.SMTPAddr != "" {
		local["SMTP_ADDR"] = c.SMTPAddr
		local["SMTP_TLS"] = "none"
		local["SMTP_USERNAME"] = ""
		local["SMTP_PASSWORD"] = ""
	}
	for _, tool := range []struct{ env, bin string }{{"FFMPEG_PATH", "ffmpeg"}, {"FFPROBE_PATH", "ffprobe"}} {
		if p, err := lookPath(tool.bin); err == nil {
			local[tool.env] = p
		}
	}
	env := make(map[string]string, len(f.Env))
	for k, v := range f.Env {
		if lv, ok := local[k]; ok {
			v = lv
		}
		env[k] = v
	}
	return env
}

// routes are the gateway routes of the functions that run.
func (c *Cloud) routes() []gateway.Route {
	var out []gateway.Route
	for _, r := range gateway.Routes(c.Manifest) {
		if slices.ContainsFunc(c.functions, func(f *manifest.Function) bool { return f.Name == r.Function }) {
			out = append(out, r)
		}
	}
	return out
}

// Functions are the functions this cloud runs.
func (c *Cloud) Functions() []*manifest.Function { return c.functions }

// Close stops the gateway and the timers, runs every instance's preStop hook, stops the
// services and removes a temporary data directory. It is safe to call more than once.
func (c *Cloud) Close() error {
	c.closeOnce.Do(func() {
		close(c.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var errs []error
		for i := len(c.closers) - 1; i >= 0; i-- {
			if err := c.closers[i](ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
		if c.tempDir {
			os.RemoveAll(c.DataDir)
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}
