package manifest

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The repository's own s.yaml: everything `s deploy` ships and `make run` runs.
const repoSYAML = "../../s.yaml"

// TestRepositorySYAML holds the real s.yaml to Function Compute's rules (Validate), to the
// repository's layout (one resource per functions/ directory and back) and to vodfc's own
// choices (DESIGN.md): HTTP functions on custom.debian10 with instanceConcurrency > 1 and a
// route, OSS-triggered functions on custom.debian10 (with the FFmpeg layer when they run
// ffmpeg), timers on go1.
func TestRepositorySYAML(t *testing.T) {
	m, err := Load(repoSYAML, Options{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatalf("s.yaml:\n%v", err)
	}
	if m.Name != "vodfc" || len(m.Domains) != 1 {
		t.Errorf("want project vodfc with one fc3-domain resource, got %q with %d", m.Name, len(m.Domains))
	}
	if err := CheckLayout(m, filepath.Join(filepath.Dir(repoSYAML), "functions")); err != nil {
		t.Errorf("s.yaml and functions/ disagree:\n%v", err)
	}
	routed := map[string]bool{}
	for _, r := range m.Routes() {
		routed[r.Function] = true
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			t.Errorf("%s: route %s is outside /api/v1/", r.Pos, r.Path)
		}
	}
	for _, f := range m.Functions {
		for _, p := range policyProblems(f, routed[f.Name]) {
			t.Error(p)
		}
	}
}

// TestPolicyCatchesDeviations shows the policy checks above are not vacuous while s.yaml
// holds few functions.
func TestPolicyCatchesDeviations(t *testing.T) {
	m, err := Load("testdata/full.s.yaml", Options{Getenv: testEnv})
	if err != nil {
		t.Fatal(err)
	}
	api := m.Function("full-api")
	api.Runtime = "go1"
	nightly := m.Function("full-nightly")
	nightly.Runtime = "custom.debian10"
	worker := m.Function("full-worker")
	worker.Env["FFMPEG_PATH"] = "/usr/bin/ffmpeg"
	nightly.Env["FCLOCAL"] = "1"
	want := map[*Function][]string{
		api:     {"should start with vodfc-", "custom.debian10 with instanceConcurrency", "no route"},
		nightly: {"should run on go1", "FCLOCAL* variables are the local cloud's"},
		worker:  {"FFMPEG_PATH should be /opt/bin/ffmpeg"},
	}
	for f, reasons := range want {
		got := strings.Join(policyProblems(f, false), "\n")
		for _, r := range reasons {
			if !strings.Contains(got, r) {
				t.Errorf("%s: no problem mentions %q; got:\n%s", f.Name, r, got)
			}
		}
	}
}

func policyProblems(f *Function, routed bool) []string {
	var out []string
	errorf := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	kinds := map[string]bool{}
	for _, tr := range f.Triggers {
		kinds[tr.Type] = true
	}
	if len(kinds) > 1 {
		errorf("%s: %s has triggers of several kinds; a vodfc function serves one (runtime.HTTP, Objects or Timer)", f.Pos, f.Name)
	}
	for k := range f.Env {
		if strings.HasPrefix(k, "FCLOCAL") {
			// The local cloud sets these itself; in the cloud FCLOCAL=1 would make functions
			// trust a client's x-fclocal-now header as the clock.
			errorf("%s: %s sets %s: FCLOCAL* variables are the local cloud's and must never reach a deployment", f.At("env."+k), f.Name, k)
		}
	}
	if !strings.HasPrefix(f.Name, "vodfc-") {
		errorf("%s: functionName %q should start with vodfc- (one FC account may hold other projects)", f.At("functionName"), f.Name)
	}
	if filepath.ToSlash(filepath.Clean(f.Code)) != "dist/"+f.Resource {
		errorf("%s: %s: code should be ./dist/%s, where make build and make package expect it", f.At("code"), f.Name, f.Resource)
	}
	if f.Build != nil && f.Build.Package != "./functions/"+f.Resource {
		errorf("%s: resource %s builds %s; it should build ./functions/%s", f.Build.Pos, f.Resource, f.Build.Package, f.Resource)
	}
	switch {
	case kinds[TriggerHTTP]:
		if f.Runtime != "custom.debian10" || f.InstanceConcurrency < 2 {
			errorf("%s: HTTP function %s should run on custom.debian10 with instanceConcurrency > 1 (I/O-bound handlers share an instance)", f.At("runtime"), f.Name)
		}
		if !routed {
			errorf("%s: HTTP function %s has no route in the domain", f.Pos, f.Name)
		}
	case kinds[TriggerOSS]:
		if f.Runtime != "custom.debian10" {
			errorf("%s: OSS-triggered %s should run on custom.debian10 (the FFmpeg layer has no go1 build)", f.At("runtime"), f.Name)
		}
		if _, ok := f.Env["FFMPEG_PATH"]; ok {
			if !slices.ContainsFunc(f.Layers, func(l string) bool { return strings.Contains(l, FFmpegLayer) }) {
				errorf("%s: %s runs ffmpeg but lacks the official FFmpeg layer", f.At("layers"), f.Name)
			}
			if f.Env["FFMPEG_PATH"] != "/opt/bin/ffmpeg" {
				errorf("%s: %s: FFMPEG_PATH should be /opt/bin/ffmpeg, where the layer puts it", f.At("env.FFMPEG_PATH"), f.Name)
			}
		}
	case kinds[TriggerTimer]:
		if f.Runtime != "go1" {
			errorf("%s: timer function %s should run on go1", f.At("runtime"), f.Name)
		}
	}
	return out
}
