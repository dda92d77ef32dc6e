package manifest

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"vodfc.dev/local/scheduler"
)

// Runtimes the local cloud runs. Other FC runtimes exist; vodfc's binaries use these.
var Runtimes = []string{"go1", "custom", "custom.debian10", "custom.debian11", "custom.debian12"}

// OSSEvents are the event names an OSS trigger may subscribe to.
var OSSEvents = []string{
	"oss:ObjectCreated:*", "oss:ObjectCreated:PutObject", "oss:ObjectCreated:PostObject",
	"oss:ObjectCreated:CopyObject", "oss:ObjectCreated:AppendObject",
	"oss:ObjectCreated:CompleteMultipartUpload", "oss:ObjectCreated:InitiateMultipartUpload",
	"oss:ObjectCreated:UploadPart", "oss:ObjectCreated:UploadPartCopy", "oss:ObjectCreated:PutSymlink",
	"oss:ObjectRemoved:*", "oss:ObjectRemoved:DeleteObject", "oss:ObjectRemoved:DeleteObjects",
	"oss:ObjectRemoved:AbortMultipartUpload",
	"oss:ObjectModified:*", "oss:ObjectModified:UpdateObjectMeta",
	"oss:ObjectReplication:ObjectCreated", "oss:ObjectReplication:ObjectRemoved", "oss:ObjectReplication:ObjectModified",
}

// FFmpegLayer is the part of the official FFmpeg layer's ARN that identifies it.
const FFmpegLayer = ":official:layers/FFmpeg"

// Limits Function Compute 3.0 enforces (REFERENCE §1).
const (
	MinMemoryMB      = 128
	MaxMemoryMB      = 32768
	MinCPU           = 0.05
	MaxCPU           = 16
	MaxTimeout       = 86400 * time.Second
	MaxConcurrency   = 200
	MaxEnvBytes      = 4096
	MaxAsyncRetries  = 8
	MaxTimerPayload  = 128 << 10
	MaxHookTimeout   = 600 * time.Second
	MaxEventAge      = 86400 * time.Second
	functionNameExpr = `^[A-Za-z_][A-Za-z0-9_-]{0,63}$`
)

var (
	functionNameRE = regexp.MustCompile(functionNameExpr)
	triggerNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,127}$`)
	envNameRE      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	bucketRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	httpMethods    = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"}
	authTypes      = []string{"anonymous", "function", "jwt"}
	diskSizes      = []int{512, 10240}
)

// Validate checks the rules Function Compute and the fc3 component enforce at deploy time,
// plus vodfc's own: every function is built by a pre-deploy `go build` into its code
// directory, and no OSS-triggered function writes where its own trigger listens.
func Validate(m *Manifest) error {
	v := &validator{m: m}
	for _, f := range m.Functions {
		v.function(f)
	}
	for _, d := range m.Domains {
		v.domain(d)
	}
	return v.errs.err()
}

type validator struct {
	m    *Manifest
	errs Errors
}

func (v *validator) add(p Pos, format string, args ...any) {
	v.errs = append(v.errs, &Error{Pos: p, Reason: fmt.Sprintf(format, args...)})
}

func (v *validator) function(f *Function) {
	if !functionNameRE.MatchString(f.Name) {
		v.add(f.At("functionName"), "functionName %q: letters, digits, _ and -, 1-64 characters, not starting with a digit or -", f.Name)
	}
	if !slices.Contains(Runtimes, f.Runtime) {
		v.add(f.At("runtime"), "runtime %q: the local cloud runs %s", f.Runtime, strings.Join(Runtimes, ", "))
	}
	v.code(f)
	v.limits(f)
	v.env(f)
	v.hooks(f)
	v.async(f)
	names := map[string]bool{}
	httpTriggers := 0
	for _, t := range f.Triggers {
		if names[t.Name] {
			v.add(t.At("triggerName"), "trigger name %q is used twice in %s", t.Name, f.Name)
		}
		names[t.Name] = true
		if !triggerNameRE.MatchString(t.Name) {
			v.add(t.At("triggerName"), "triggerName %q: letters, digits, _ and -, 1-128 characters", t.Name)
		}
		switch t.Type {
		case TriggerHTTP:
			httpTriggers++
			if httpTriggers == 2 {
				v.add(t.Pos, "%s has more than one HTTP trigger; FC allows one per function", f.Name)
			}
			v.httpTrigger(t)
		case TriggerOSS:
			v.ossTrigger(f, t)
		case TriggerTimer:
			v.timerTrigger(t)
		default:
			v.add(t.At("triggerType"), "triggerType %q: the local cloud runs http, oss and timer triggers", t.Type)
		}
	}
}

// code checks that the pre-deploy build writes the executable FC will start.
func (v *validator) code(f *Function) {
	switch {
	case f.Runtime == "go1" && f.Handler == "":
		v.add(f.Pos, "%s: a go1 function needs handler: the name of the executable in its code directory (e.g. main)", f.Name)
	case f.IsCustom() && (f.Custom == nil || len(f.Custom.Command) == 0):
		v.add(f.Pos, "%s: a custom runtime function needs customRuntimeConfig.command (e.g. [/code/main])", f.Name)
	case f.IsCustom() && f.Executable() == "":
		v.add(f.At("customRuntimeConfig"), "%s: customRuntimeConfig.command[0] %q must be a file of the code package (/code/NAME)", f.Name, f.Custom.Command[0])
	}
	if f.IsCustom() && f.Custom != nil && (f.Custom.Port < 1 || f.Custom.Port > 65535) {
		v.add(f.At("customRuntimeConfig"), "%s: customRuntimeConfig.port %d is not a port", f.Name, f.Custom.Port)
	}
	if f.Code == "" {
		v.add(f.Pos, "%s: code is required: the directory the pre-deploy build writes into (e.g. ./dist/%s)", f.Name, f.Resource)
		return
	}
	if f.Build == nil {
		v.add(f.Pos, "%s: no pre-deploy `go build` action: s deploy would upload whatever %s holds; add actions.pre-deploy with `go build -o %s/main ./functions/%s`", f.Name, f.Code, strings.TrimPrefix(filepath.ToSlash(filepath.Clean(f.Code)), "./"), f.Resource)
		return
	}
	if e := f.Build.Env; e["GOOS"] != "linux" || e["GOARCH"] != "amd64" || e["CGO_ENABLED"] != "0" {
		v.add(f.Build.Pos, "%s: the pre-deploy build must target FC: start it with GOOS=linux GOARCH=amd64 CGO_ENABLED=0 (a static linux/amd64 binary, whatever machine runs s deploy)", f.Name)
	}
	out := filepath.Clean(filepath.Join(f.Build.Dir, f.Build.Output))
	if f.Build.Output == "" {
		v.add(f.Build.Pos, "%s: the pre-deploy go build has no -o; it must write %s/%s", f.Name, f.Code, f.Executable())
		return
	}
	if filepath.Dir(out) != filepath.Clean(f.Code) {
		v.add(f.Build.Pos, "%s: go build writes %s but code is %s", f.Name, out, f.Code)
	}
	if exe := f.Executable(); exe != "" && filepath.Base(out) != exe {
		v.add(f.Build.Pos, "%s: go build writes %s but FC starts %q", f.Name, filepath.Base(out), exe)
	}
}

func (v *validator) limits(f *Function) {
	if f.MemorySize < MinMemoryMB || f.MemorySize > MaxMemoryMB || f.MemorySize%64 != 0 {
		v.add(f.At("memorySize"), "%s: memorySize %d MB: want %d-%d, a multiple of 64", f.Name, f.MemorySize, MinMemoryMB, MaxMemoryMB)
	}
	steps := f.CPU / 0.05
	if f.CPU < MinCPU || f.CPU > MaxCPU || math.Abs(steps-math.Round(steps)) > 1e-6 {
		v.add(f.At("cpu"), "%s: cpu %g: want %g-%d vCPU in steps of 0.05", f.Name, f.CPU, MinCPU, MaxCPU)
	} else if ratio := float64(f.MemorySize) / 1024 / f.CPU; ratio < 1-1e-9 || ratio > 4+1e-9 {
		v.add(f.At("cpu"), "%s: %g vCPU with %d MB: FC wants 1 to 4 GB of memory per vCPU", f.Name, f.CPU, f.MemorySize)
	}
	if !slices.Contains(diskSizes, f.DiskSize) {
		v.add(f.At("diskSize"), "%s: diskSize %d MB: FC offers 512 or 10240", f.Name, f.DiskSize)
	}
	if f.Timeout < time.Second || f.Timeout > MaxTimeout {
		v.add(f.At("timeout"), "%s: timeout %s: want 1-86400 seconds", f.Name, f.Timeout)
	}
	if _, set := f.fields["instanceConcurrency"]; set {
		switch {
		case !f.IsCustom():
			v.add(f.At("instanceConcurrency"), "%s: instanceConcurrency works only on custom runtimes; %s runs one request per instance", f.Name, f.Runtime)
		case f.InstanceConcurrency < 1 || f.InstanceConcurrency > MaxConcurrency:
			v.add(f.At("instanceConcurrency"), "%s: instanceConcurrency %d: want 1-%d", f.Name, f.InstanceConcurrency, MaxConcurrency)
		}
	}
	for _, l := range f.Layers {
		if strings.Contains(l, FFmpegLayer) && f.Runtime == "go1" {
			v.add(f.At("layers"), "%s: the FFmpeg layer supports custom runtimes, not go1", f.Name)
		}
	}
}

func (v *validator) env(f *Function) {
	size := 0
	for k, val := range f.Env {
		size += len(k) + len(val)
		p := f.At("env." + k)
		switch {
		case !envNameRE.MatchString(k):
			v.add(p, "%s: environment variable %q: a letter, then letters, digits and _", f.Name, k)
		case strings.HasPrefix(k, "FC_"):
			v.add(p, "%s: environment variable %s: FC_ names are reserved by Function Compute", f.Name, k)
		}
	}
	if size > MaxEnvBytes {
		v.add(f.At("environmentVariables"), "%s: environment variables take %d bytes; FC allows %d", f.Name, size, MaxEnvBytes)
	}
}

func (v *validator) hooks(f *Function) {
	for _, h := range []struct {
		name string
		hook *Hook
	}{{"initializer", f.Initializer}, {"preStop", f.PreStop}} {
		if h.hook == nil {
			continue
		}
		p := f.At("instanceLifecycleConfig")
		if h.hook.Handler == "" {
			v.add(p, "%s: instanceLifecycleConfig.%s.handler must not be empty (any name; FC only checks it is set)", f.Name, h.name)
		}
		if h.hook.Timeout < time.Second || h.hook.Timeout > MaxHookTimeout {
			v.add(p, "%s: instanceLifecycleConfig.%s.timeout %s: want 1-600 seconds", f.Name, h.name, h.hook.Timeout)
		}
	}
}

func (v *validator) async(f *Function) {
	a := f.Async
	if a.MaxRetries < 0 || a.MaxRetries > MaxAsyncRetries {
		v.add(f.At("async.maxAsyncRetryAttempts"), "%s: maxAsyncRetryAttempts %d: want 0-%d", f.Name, a.MaxRetries, MaxAsyncRetries)
	}
	if a.MaxEventAge < time.Second || a.MaxEventAge > MaxEventAge {
		v.add(f.At("async.maxAsyncEventAgeInSeconds"), "%s: maxAsyncEventAgeInSeconds %s: want 1-86400 seconds", f.Name, a.MaxEventAge)
	}
	for _, dst := range []string{a.OnSuccess, a.OnFailure} {
		if dst == "" {
			continue
		}
		p := f.At("async.destinationConfig")
		fn, isFC, err := DestinationFunction(dst)
		switch {
		case err != nil:
			v.add(p, "%s: %v", f.Name, err)
		case isFC && v.m.Function(fn) == nil:
			v.add(p, "%s: destination %s names function %q, which s.yaml does not define", f.Name, dst, fn)
		case isFC && fn == f.Name:
			v.add(p, "%s: a function cannot be its own destination", f.Name)
		}
	}
}

// DestinationFunction parses an async destination ARN. For a function destination
// (acs:fc:{region}:{account}:functions/{name}[/{qualifier}]) it returns the function name and
// true; other services FC can deliver to (MNS, EventBridge, RocketMQ) return false.
func DestinationFunction(arn string) (string, bool, error) {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) != 5 || parts[0] != "acs" {
		return "", false, fmt.Errorf("destination %q is not an ARN (acs:SERVICE:REGION:ACCOUNT:RESOURCE)", arn)
	}
	switch parts[1] {
	case "fc":
		rest, ok := strings.CutPrefix(parts[4], "functions/")
		if !ok {
			return "", false, fmt.Errorf("destination %q: want acs:fc:REGION:ACCOUNT:functions/NAME", arn)
		}
		name, _, _ := strings.Cut(rest, "/")
		if !functionNameRE.MatchString(name) {
			return "", false, fmt.Errorf("destination %q: %q is not a function name", arn, name)
		}
		return name, true, nil
	case "mns", "eventbridge", "mq", "rocketmq":
		return "", false, nil
	}
	return "", false, fmt.Errorf("destination %q: FC delivers to fc, mns, eventbridge or rocketmq", arn)
}

func (v *validator) httpTrigger(t *Trigger) {
	if !slices.Contains(authTypes, t.AuthType) {
		v.add(t.At("triggerConfig.authType"), "authType %q: want anonymous, function or jwt", t.AuthType)
	}
	if len(t.Methods) == 0 {
		v.add(t.At("triggerConfig.methods"), "HTTP trigger %s lists no methods", t.Name)
	}
	for _, m := range t.Methods {
		if !slices.Contains(httpMethods, m) {
			v.add(t.At("triggerConfig.methods"), "method %q: want one of %s", m, strings.Join(httpMethods, ", "))
		}
	}
}

func (v *validator) ossTrigger(f *Function, t *Trigger) {
	arn := strings.Split(t.SourceArn, ":")
	if len(arn) != 5 || arn[0] != "acs" || arn[1] != "oss" || arn[2] == "" || !bucketRE.MatchString(arn[4]) {
		v.add(t.At("sourceArn"), "sourceArn %q: want acs:oss:REGION:ACCOUNT:BUCKET", t.SourceArn)
	}
	if len(t.Events) == 0 {
		v.add(t.At("triggerConfig.events"), "OSS trigger %s lists no events", t.Name)
	}
	for _, e := range t.Events {
		if !slices.Contains(OSSEvents, e) {
			hint := ""
			if slices.Contains(OSSEvents, "oss:"+e) {
				hint = " (trigger configs spell it with the oss: prefix)"
			}
			v.add(t.At("triggerConfig.events"), "OSS event %q is not one OSS sends%s", e, hint)
		}
	}
	if !t.HasPrefix || !t.HasSuffix {
		v.add(t.At("triggerConfig.filter"), "OSS trigger %s: filter.key.prefix and filter.key.suffix are both required ('' = any)", t.Name)
	}
	creates := false
	for _, e := range t.Events {
		creates = creates || strings.HasPrefix(e, "oss:ObjectCreated:")
	}
	if !creates {
		return
	}
	outputs := OutputPrefixes(f)
	if len(outputs) == 0 {
		v.add(t.Pos, "%s is triggered by new objects under %q but declares no output prefix: name where it writes in an environment variable ending in OUTPUT_PREFIX, so this check can prove it never triggers itself", f.Name, t.Prefix)
		return
	}
	for name, out := range outputs {
		if overlaps(out, t.Prefix) {
			v.add(f.At("env."+name), "%s writes under %s=%q, inside its own trigger %s (prefix %q): every object it writes would trigger it again", f.Name, name, out, t.Name, t.Prefix)
		}
	}
}

// OutputPrefixes are the environment variables through which a function declares where it
// writes objects: OUTPUT_PREFIX or any name ending in _OUTPUT_PREFIX.
func OutputPrefixes(f *Function) map[string]string {
	out := map[string]string{}
	for k, v := range f.Env {
		if k == "OUTPUT_PREFIX" || strings.HasSuffix(k, "_OUTPUT_PREFIX") {
			out[k] = v
		}
	}
	return out
}

// overlaps reports whether some key can start with both prefixes.
func overlaps(a, b string) bool {
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

func (v *validator) timerTrigger(t *Trigger) {
	if _, err := scheduler.ParseCron(t.Cron); err != nil {
		v.add(t.At("triggerConfig.cronExpression"), "%v", err)
	}
	if len(t.Payload) > MaxTimerPayload {
		v.add(t.At("triggerConfig.payload"), "timer payload is %d bytes; FC allows 128 KB", len(t.Payload))
	}
}

func (v *validator) domain(d *Domain) {
	seen := map[string]bool{}
	for _, r := range d.Routes {
		prefix, _ := r.Prefix()
		switch {
		case !strings.HasPrefix(r.Path, "/"):
			v.add(r.Pos, "route path %q must start with /", r.Path)
		case strings.Contains(prefix, "*"):
			v.add(r.Pos, "route path %q: * may only end a path", r.Path)
		}
		if seen[r.Path] {
			v.add(r.Pos, "route path %q appears twice in %s", r.Path, d.Resource)
		}
		seen[r.Path] = true
		f := v.m.Function(r.Function)
		if f == nil {
			v.add(r.Pos, "route %s goes to function %q, which s.yaml does not define", r.Path, r.Function)
			continue
		}
		ht := f.HTTPTrigger()
		if ht == nil {
			v.add(r.Pos, "route %s goes to %s, which has no HTTP trigger", r.Path, f.Name)
			continue
		}
		for _, m := range r.Methods {
			if !slices.Contains(httpMethods, m) {
				v.add(r.Pos, "route %s: method %q: want one of %s", r.Path, m, strings.Join(httpMethods, ", "))
			} else if !ht.AllowsMethod(m) {
				v.add(r.Pos, "route %s allows %s but the HTTP trigger of %s does not", r.Path, m, f.Name)
			}
		}
	}
}

// CheckLayout checks that s.yaml and the functions directory describe the same functions:
// every directory under functionsDir holding Go files is built by exactly one resource, and
// every resource builds a package that exists.
func CheckLayout(m *Manifest, functionsDir string) error {
	var errs Errors
	built := map[string]*Function{}
	for _, f := range m.Functions {
		if f.Build == nil || f.Build.Package == "" {
			continue
		}
		dir := filepath.Clean(filepath.Join(m.Dir, f.Build.Dir, filepath.FromSlash(f.Build.Package)))
		if prev, dup := built[dir]; dup {
			errs = append(errs, &Error{Pos: f.Build.Pos, Reason: fmt.Sprintf("%s builds %s, like %s", f.Name, f.Build.Package, prev.Name)})
		}
		built[dir] = f
		if !hasGoFiles(dir) {
			errs = append(errs, &Error{Pos: f.Build.Pos, Reason: fmt.Sprintf("%s builds %s, which holds no Go package", f.Name, f.Build.Package)})
		}
	}
	entries, err := os.ReadDir(functionsDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		dir := filepath.Join(functionsDir, e.Name())
		if !e.IsDir() || !hasGoFiles(dir) {
			continue
		}
		abs, _ := filepath.Abs(dir)
		if built[filepath.Clean(abs)] == nil {
			errs = append(errs, &Error{Pos: Pos{File: m.Path}, Reason: fmt.Sprintf("functions/%s has no resource in s.yaml that builds it", e.Name())})
		}
	}
	return errs.err()
}

func hasGoFiles(dir string) bool {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(matches) > 0
}
