// Package manifest reads s.yaml, the Serverless Devs (fc3) description of every function, and
// owns the typed view of it the local cloud runs: functions with their runtime, limits,
// environment, lifecycle hooks, async policy and triggers, and the fc3-domain routes. Every
// error names the file, the line and the reason. Validate checks the rules Function Compute
// enforces at deploy time, so a mistake shows up locally instead of in `s deploy`.
package manifest

import (
	"path/filepath"
	"strings"
	"time"
)

// LocalAccountID is what ${config('AccountID')} means in the local cloud: a fixed, obviously
// fake account, so ARNs look real without reading any cloud configuration.
const LocalAccountID = "1000000000000000"

// Manifest is a parsed s.yaml with every ${...} expression resolved.
type Manifest struct {
	Path      string // the file read
	Dir       string // its directory: relative paths in s.yaml start here
	Edition   string
	Name      string
	Access    string
	Functions []*Function // in file order
	Domains   []*Domain
	Warnings  []string // things the local cloud ignores or substitutes, worth telling the user
	// UnsetEnv are the variables of ${env(NAME)} expressions that resolved empty. Whoever runs
	// the manifest decides which matter: the local cloud provides secrets itself.
	UnsetEnv []EnvRef
}

// Function returns the function with the given functionName, or nil.
func (m *Manifest) Function(name string) *Function {
	for _, f := range m.Functions {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Routes returns the routes of every fc3-domain resource.
func (m *Manifest) Routes() []*Route {
	var out []*Route
	for _, d := range m.Domains {
		out = append(out, d.Routes...)
	}
	return out
}

// Function is one fc3 resource.
type Function struct {
	Resource    string // the key under resources:
	Name        string // functionName
	Region      string
	Runtime     string
	Handler     string
	Code        string // the code directory as written, relative to Manifest.Dir
	Description string
	MemorySize  int // MB
	CPU         float64
	DiskSize    int // MB
	Timeout     time.Duration
	// InstanceConcurrency is how many requests one instance serves at once; 0 when unset.
	InstanceConcurrency int
	Custom              *CustomRuntime // customRuntimeConfig, for custom runtimes
	Layers              []string
	Env                 map[string]string
	Initializer         *Hook
	PreStop             *Hook
	Async               Async
	Triggers            []*Trigger
	Build               *Build // the `go build` of actions.pre-deploy, nil when there is none
	Pos                 Pos
	fields              map[string]Pos
}

// At is the position of a prop of the function (for messages), or of the function itself.
func (f *Function) At(prop string) Pos {
	if p, ok := f.fields[prop]; ok {
		return p
	}
	return f.Pos
}

// IsCustom reports whether the function runs on a custom runtime (its own HTTP server).
func (f *Function) IsCustom() bool { return IsCustomRuntime(f.Runtime) }

// IsCustomRuntime reports whether runtime is one of FC's custom runtimes.
func IsCustomRuntime(runtime string) bool {
	return runtime == "custom" || strings.HasPrefix(runtime, "custom.")
}

// Concurrency is how many invocations one instance may serve at once. Built-in runtimes such
// as go1 always serve one.
func (f *Function) Concurrency() int {
	if !f.IsCustom() || f.InstanceConcurrency < 1 {
		return 1
	}
	return f.InstanceConcurrency
}

// Trigger returns the trigger with the given name, or nil.
func (f *Function) Trigger(name string) *Trigger {
	for _, t := range f.Triggers {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// HTTPTrigger returns the function's first HTTP trigger, or nil.
func (f *Function) HTTPTrigger() *Trigger {
	for _, t := range f.Triggers {
		if t.Type == TriggerHTTP {
			return t
		}
	}
	return nil
}

// CodeDir is the absolute code directory.
func (f *Function) CodeDir(m *Manifest) string {
	return filepath.Join(m.Dir, filepath.FromSlash(f.Code))
}

// Executable is the file inside the code directory that FC starts: the handler for go1, the
// file under /code named by the first word of customRuntimeConfig.command for custom runtimes.
func (f *Function) Executable() string {
	if f.IsCustom() {
		if f.Custom == nil || len(f.Custom.Command) == 0 {
			return ""
		}
		c := f.Custom.Command[0]
		if rest, ok := strings.CutPrefix(c, "/code/"); ok {
			return rest
		}
		if !strings.HasPrefix(c, "/") {
			return strings.TrimPrefix(c, "./")
		}
		return ""
	}
	return f.Handler
}

// CustomRuntime is customRuntimeConfig.
type CustomRuntime struct {
	Command []string
	Args    []string
	Port    int
}

// Hook is an instance lifecycle hook (initializer or preStop).
type Hook struct {
	Handler string
	Timeout time.Duration
}

// Async is asyncInvokeConfig: how failed asynchronous invocations (OSS and timer triggers) are
// retried and where their results go.
type Async struct {
	MaxRetries  int           // maxAsyncRetryAttempts, default 3
	MaxEventAge time.Duration // maxAsyncEventAgeInSeconds, default 24 h
	OnSuccess   string        // destination ARN
	OnFailure   string        // destination ARN
}

// Build is the `go build` command of a function's pre-deploy action: the same package the cloud
// deploys is the one the local cloud builds.
type Build struct {
	Run     string // the command as written
	Dir     string // the action's path, relative to Manifest.Dir
	Package string // the package argument, e.g. ./functions/videos
	Output  string // the -o argument, e.g. dist/videos/main
	// Env holds the VAR=value words before `go build` (GOOS, GOARCH, CGO_ENABLED).
	Env map[string]string
	Pos Pos
}

// Trigger types the local cloud runs.
const (
	TriggerHTTP  = "http"
	TriggerOSS   = "oss"
	TriggerTimer = "timer"
)

// Trigger is one entry of a function's triggers.
type Trigger struct {
	Name        string
	Type        string
	Qualifier   string
	Description string

	// http
	AuthType string
	Methods  []string

	// oss
	SourceArn string
	Bucket    string // last part of sourceArn
	Events    []string
	Prefix    string
	Suffix    string
	HasPrefix bool // filter.key.prefix present (the schema requires it, '' allowed)
	HasSuffix bool

	// timer
	Cron    string
	Enabled bool
	Payload string

	Pos    Pos
	fields map[string]Pos
}

// At is the position of a field of the trigger (for messages), or of the trigger itself.
func (t *Trigger) At(field string) Pos {
	if p, ok := t.fields[field]; ok {
		return p
	}
	return t.Pos
}

// AllowsMethod reports whether an HTTP trigger accepts method.
func (t *Trigger) AllowsMethod(method string) bool {
	return containsFold(t.Methods, method)
}

// Domain is one fc3-domain resource.
type Domain struct {
	Resource string
	Name     string // domainName
	Protocol string
	Routes   []*Route
	Pos      Pos
}

// Route is one routeConfig.routes entry.
type Route struct {
	Path      string   // /api/v1/videos/* or an exact path
	Function  string   // functionName
	Methods   []string // empty = every method
	Qualifier string
	Pos       Pos
}

// Prefix is the path prefix a wildcard route matches, and whether the route is a wildcard.
func (r *Route) Prefix() (string, bool) {
	if p, ok := strings.CutSuffix(r.Path, "*"); ok {
		return p, true
	}
	return r.Path, false
}

// AllowsMethod reports whether the route accepts method.
func (r *Route) AllowsMethod(method string) bool {
	return len(r.Methods) == 0 || containsFold(r.Methods, method)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// EnvRef is an environment variable s.yaml reads, and where it is first read (file:line).
type EnvRef struct {
	Name, At string
}
