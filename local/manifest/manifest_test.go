package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testEnv(name string) string {
	switch name {
	case "FULL_TEST_VALUE":
		return "from-the-environment"
	case "ALIBABA_CLOUD_ACCESS_KEY_ID":
		return "REAL-KEY-MUST-NOT-BE-READ"
	}
	return ""
}

func TestParseResolvesEveryKindOfFunction(t *testing.T) {
	m, err := Load("testdata/full.s.yaml", Options{Getenv: testEnv})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Functions) != 4 || len(m.Domains) != 1 {
		t.Fatalf("got %d functions and %d domains", len(m.Functions), len(m.Domains))
	}
	api := m.Function("full-api")
	if api == nil {
		t.Fatal("full-api missing")
	}
	if api.MemorySize != 1024 || api.CPU != 0.5 || api.Timeout != 30*time.Second || api.Concurrency() != 20 {
		t.Errorf("api limits: mem %d cpu %g timeout %s concurrency %d", api.MemorySize, api.CPU, api.Timeout, api.Concurrency())
	}
	wantEnv := map[string]string{
		"MEDIA_BUCKET": "media-bucket",
		"GREETING":     "hello from cn-hangzhou",
		"FROM_ENV":     "from-the-environment",
		"DEFAULTED":    "fallback",
	}
	for k, v := range wantEnv {
		if api.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, api.Env[k], v)
		}
	}
	if api.Build == nil || api.Build.Package != "./functions/api" || api.Build.Output != "dist/api/main" {
		t.Errorf("api build = %+v", api.Build)
	}
	if api.Executable() != "main" || !api.IsCustom() {
		t.Errorf("api executable %q custom %v", api.Executable(), api.IsCustom())
	}
	if ht := api.HTTPTrigger(); ht == nil || !ht.AllowsMethod("delete") || ht.AllowsMethod("PUT") {
		t.Errorf("api http trigger = %+v", ht)
	}

	w := m.Function("full-worker")
	ot := w.Trigger("uploads")
	if ot == nil || ot.Bucket != "media-bucket" || ot.Prefix != "uploads/" || !ot.HasSuffix || ot.Suffix != "" {
		t.Fatalf("oss trigger = %+v", ot)
	}
	if ot.SourceArn != "acs:oss:cn-hangzhou:"+LocalAccountID+":media-bucket" {
		t.Errorf("sourceArn = %s", ot.SourceArn)
	}
	if w.Async.MaxRetries != 2 || w.Async.OnFailure != "acs:fc:cn-hangzhou:"+LocalAccountID+":functions/full-failed" {
		t.Errorf("worker async = %+v", w.Async)
	}
	if w.Concurrency() != 1 {
		t.Errorf("worker concurrency %d", w.Concurrency())
	}

	n := m.Function("full-nightly")
	if n.Concurrency() != 1 || n.Async.MaxRetries != 0 || n.Initializer == nil || n.PreStop.Timeout != 5*time.Second {
		t.Errorf("nightly = %+v", n)
	}
	if tr := n.Trigger("nightly"); tr.Cron != "CRON_TZ=Asia/Shanghai 0 30 3 * * *" || !tr.Enabled || tr.Payload != `{"job":"tier"}` {
		t.Errorf("nightly trigger = %+v", tr)
	}
	if tr := n.Trigger("hourly"); tr.Enabled {
		t.Errorf("hourly should be disabled")
	}
	if f := m.Function("full-failed"); f.Async.MaxRetries != 3 || f.Async.MaxEventAge != 24*time.Hour || f.MemorySize != 128 {
		t.Errorf("defaults not applied: %+v", f.Async)
	}

	routes := m.Routes()
	if len(routes) != 2 || routes[0].Path != "/api/v1/things/*" || routes[0].Function != "full-api" || routes[1].AllowsMethod("PATCH") == false {
		t.Errorf("routes = %+v %+v", routes[0], routes[1])
	}
	if p, wild := routes[0].Prefix(); p != "/api/v1/things/" || !wild {
		t.Errorf("prefix %q %v", p, wild)
	}
	if len(m.Warnings) != 0 {
		t.Errorf("warnings: %v", m.Warnings)
	}
}

func TestCredentialsAreNeverReadFromTheEnvironment(t *testing.T) {
	src := strings.Replace(readFull(t), "${env('FULL_TEST_VALUE')}", "${env('ALIBABA_CLOUD_ACCESS_KEY_ID')}", 1)
	m, err := ParseBytes("s.yaml", []byte(src), Options{Getenv: testEnv})
	if err != nil {
		t.Fatal(err)
	}
	if v := m.Function("full-api").Env["FROM_ENV"]; v != "" {
		t.Fatalf("credential leaked into the manifest: %q", v)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "credential") {
		t.Fatalf("warnings = %v", m.Warnings)
	}
}

func readFull(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/full.s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lineOf is the 1-based line of the first occurrence of s in src.
func lineOf(t *testing.T, src, s string) int {
	t.Helper()
	i := strings.Index(src, s)
	if i < 0 {
		t.Fatalf("%q not in source", s)
	}
	return strings.Count(src[:i], "\n") + 1
}

func TestBadManifestsNameFileLineAndReason(t *testing.T) {
	full := readFull(t)
	cases := []struct {
		name, old, new string
		at             string // the text on the reported line (after the edit)
		reason         string
	}{
		{"yaml syntax", "    component: fc3-domain\n", "    component: fc3-domain\n   bad: [\n", "", "not valid YAML"},
		{"unknown var", "functionName: full-api", "functionName: ${vars.nope}", "functionName: ${vars.nope}", `no "nope"`},
		{"unknown expression", "functionName: full-api", "functionName: ${sls.name}", "functionName: ${sls.name}", "not understood"},
		{"secret config", "role: acs:ram::${config('AccountID')}:role/fc", "role: ${config('AccessKeySecret')}", "role: ${config('AccessKeySecret')}", "never reads cloud credentials"},
		{"map in string", "GREETING: hello from ${vars.region}", "GREETING: hello ${vars.logConfig}", "GREETING: hello ${vars.logConfig}", "cannot be part of a string"},
		{"memory range", "memorySize: 4096", "memorySize: 100", "memorySize: 100", "multiple of 64"},
		{"cpu ratio", "cpu: 2\n", "cpu: 8\n", "cpu: 8", "1 to 4 GB of memory per vCPU"},
		{"disk", "diskSize: 10240", "diskSize: 2048", "diskSize: 2048", "512 or 10240"},
		{"timeout", "timeout: 600", "timeout: 0", "timeout: 0", "1-86400"},
		{"concurrency on go1", "      handler: main\n      code: ./dist/failed\n", "      handler: main\n      code: ./dist/failed\n      instanceConcurrency: 4\n", "instanceConcurrency: 4", "only on custom runtimes"},
		{"runtime", "runtime: go1\n      handler: main\n      code: ./dist/failed", "runtime: python3\n      handler: main\n      code: ./dist/failed", "runtime: python3", "the local cloud runs"},
		{"trigger type", "triggerType: timer\n          triggerConfig:\n            cronExpression: CRON_TZ", "triggerType: mns_topic\n          triggerConfig:\n            cronExpression: CRON_TZ", "triggerType: mns_topic", "http, oss and timer"},
		{"oss event", "oss:ObjectCreated:PutObject,", "ObjectCreated:PutObject,", "events: [ObjectCreated", "oss: prefix"},
		{"oss filter", "                suffix: ''\n", "", "            filter:", "prefix and filter.key.suffix are both required"},
		{"self trigger", "MEDIA_OUTPUT_PREFIX: media/", "MEDIA_OUTPUT_PREFIX: uploads/media/", "MEDIA_OUTPUT_PREFIX: uploads/media/", "would trigger it again"},
		{"no output prefix", "        MEDIA_OUTPUT_PREFIX: media/\n", "", "- triggerName: uploads", "declares no output prefix"},
		{"cron fields", "CRON_TZ=Asia/Shanghai 0 30 3 * * *", "30 3 * * *", "cronExpression: 30 3", "FC wants 6"},
		{"cron value", "CRON_TZ=Asia/Shanghai 0 30 3 * * *", "0 61 3 * * *", "cronExpression: 0 61", "cron expression"},
		{"cron tz", "CRON_TZ=Asia/Shanghai 0 30 3 * * *", "CRON_TZ=Mars/Olympus 0 30 3 * * *", "cronExpression: CRON_TZ=Mars", "time zone"},
		{"retries", "maxAsyncRetryAttempts: 2", "maxAsyncRetryAttempts: 9", "maxAsyncRetryAttempts: 9", "0-8"},
		{"destination", "functions/${resources.failed.props.functionName}", "functions/nobody", "destinationConfig:", "does not define"},
		{"reserved env", "GREETING: hello", "FC_GREETING: hello", "FC_GREETING: hello", "reserved"},
		{"route target", "functionName: ${resources.api.props.functionName}\n            methods: [GET, POST]", "functionName: full-worker\n            methods: [GET, POST]", "- path: ${vars.apiPrefix}", "has no HTTP trigger"},
		{"route method", "methods: [GET, POST]\n          - path: /health", "methods: [GET, PUT]\n          - path: /health", "- path: ${vars.apiPrefix}", "does not"},
		{"route path", "- path: /health", "- path: health", "- path: health", "must start with /"},
		{"missing functionName", "      functionName: full-nightly\n", "", "      region: ${vars.region}\n      runtime: go1\n      handler: main\n      code: ./dist/nightly", "functionName is required"},
		{"build for the host", "GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -o dist/nightly", "go build -o dist/nightly", "- run: go build -o dist/nightly", "GOOS=linux GOARCH=amd64 CGO_ENABLED=0"},
		{"build output", "-o dist/worker/main", "-o dist/other/main", "- run: GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -o dist/other/main", "go build writes dist/other/main but code is ./dist/worker"},
		{"no build", "    actions:\n      pre-deploy:\n        - run: GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -o dist/failed/main ./functions/failed\n", "", "  failed:", "no pre-deploy `go build`"},
		{"custom command", "        command: [/code/main]\n      layers:", "        command: [/usr/bin/env]\n      layers:", "customRuntimeConfig:\n        command: [/usr/bin/env]", "must be a file of the code package"},
		{"ffmpeg on go1", "      handler: main\n      code: ./dist/failed\n", "      handler: main\n      code: ./dist/failed\n      layers: [acs:fc:cn-hangzhou:official:layers/FFmpeg6x/versions/1]\n", "layers: [acs", "not go1"},
		{"duplicate name", "functionName: full-failed", "functionName: full-worker", "  failed:", "also used"},
		{"bad boolean", "enable: false", "enable: maybe", "enable: maybe", "true or false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(full, tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			src := strings.Replace(full, tc.old, tc.new, 1)
			path := filepath.Join(t.TempDir(), "s.yaml")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, Options{Getenv: testEnv})
			if err == nil {
				t.Fatal("accepted")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T %v is not Errors", err, err)
			}
			wantLine := 0
			if tc.at != "" {
				wantLine = lineOf(t, src, tc.at)
			}
			for _, e := range errs {
				if strings.Contains(e.Reason, tc.reason) {
					if e.Pos.File != path {
						t.Errorf("file %q, want %q", e.Pos.File, path)
					}
					if tc.at != "" && e.Pos.Line != wantLine {
						t.Errorf("line %d, want %d (%s)", e.Pos.Line, wantLine, e)
					}
					if tc.at == "" && e.Pos.Line == 0 {
						t.Errorf("no line in %s", e)
					}
					if !strings.HasPrefix(e.Error(), path+":") {
						t.Errorf("message %q does not start with the file", e.Error())
					}
					return
				}
			}
			t.Fatalf("no error mentions %q; got:\n%v", tc.reason, err)
		})
	}
}

func TestShellWordsAndGoBuild(t *testing.T) {
	words, err := shellWords(`GOOS=linux CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o 'dist/a b/main' ./functions/a && echo done`)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := parseGoBuild(words)
	if !ok || b.Package != "./functions/a" || b.Output != "dist/a b/main" || b.Env["GOOS"] != "linux" || b.Env["CGO_ENABLED"] != "0" {
		t.Fatalf("build = %+v ok=%v (words %q)", b, ok, words)
	}
	if _, err := shellWords(`go build "unterminated`); err == nil {
		t.Fatal("unterminated quote accepted")
	}
}

func TestCheckLayout(t *testing.T) {
	root := t.TempDir()
	src := readFull(t)
	if err := os.WriteFile(filepath.Join(root, "s.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"api", "worker", "failed", "nightly", "stray"} {
		dir := filepath.Join(root, "functions", d)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644)
	}
	m, err := Load(filepath.Join(root, "s.yaml"), Options{Getenv: testEnv})
	if err != nil {
		t.Fatal(err)
	}
	err = CheckLayout(m, filepath.Join(root, "functions"))
	if err == nil || !strings.Contains(err.Error(), "functions/stray has no resource") {
		t.Fatalf("stray directory not reported: %v", err)
	}
	os.RemoveAll(filepath.Join(root, "functions", "stray"))
	os.RemoveAll(filepath.Join(root, "functions", "failed"))
	err = CheckLayout(m, filepath.Join(root, "functions"))
	if err == nil || !strings.Contains(err.Error(), "full-failed builds ./functions/failed, which holds no Go package") {
		t.Fatalf("missing directory not reported: %v", err)
	}
}
