package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// The command runs against the Tablestore emulator over loopback, signed with the local pair
// exactly as it would be against the local cloud.
func startEmulator(t *testing.T) (endpoint string, env map[string]string) {
	t.Helper()
	emu, err := otsemu.Open(otsemu.Options{AccessKeyID: "test-ak", AccessKeySecret: "test-sk", Instance: "vodfc"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	return srv.URL, map[string]string{
		"OTS_ENDPOINT": srv.URL, "OTS_INSTANCE": "vodfc",
		"FCLOCAL_ACCESS_KEY_ID": "test-ak", "FCLOCAL_ACCESS_KEY_SECRET": "test-sk",
		// Never used for a loopback endpoint: a wrong pair here proves it.
		"ALIBABA_CLOUD_ACCESS_KEY_ID": "cloud-ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "cloud-sk",
	}
}

func runCmd(t *testing.T, env map[string]string, args ...string) (code int, out, errOut string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func actions(t *testing.T, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("malformed line %q in\n%s", line, out)
		}
		action := f[1]
		if action == "would" {
			action += " " + f[2]
		}
		got[f[0]] = action
	}
	return got
}

func TestCreatesEveryTableThenIsIdempotent(t *testing.T) {
	_, env := startEmulator(t)

	code, out, errOut := runCmd(t, env, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, errOut)
	}
	for _, tb := range tablestore.Schema {
		if a := actions(t, out)[tb.Name]; a != "would create" {
			t.Fatalf("dry run on an empty instance: %s is %q\n%s", tb.Name, a, out)
		}
	}
	if !strings.Contains(out, "dry run: nothing changed") {
		t.Fatalf("dry run does not say so:\n%s", out)
	}
	// The dry run changed nothing: a second one still plans to create everything.
	if _, out2, _ := runCmd(t, env, "--dry-run"); actions(t, out2)["users"] != "would create" {
		t.Fatalf("the dry run created tables:\n%s", out2)
	}

	code, out, errOut = runCmd(t, env)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, tb := range tablestore.Schema {
		if a := actions(t, out)[tb.Name]; a != "created" {
			t.Fatalf("%s is %q\n%s", tb.Name, a, out)
		}
	}
	code, out, _ = runCmd(t, env)
	if code != 0 {
		t.Fatalf("second run: exit %d", code)
	}
	for _, tb := range tablestore.Schema {
		if a := actions(t, out)[tb.Name]; a != "unchanged" {
			t.Fatalf("second run: %s is %q\n%s", tb.Name, a, out)
		}
	}
}

func TestUpdatesChangedOptions(t *testing.T) {
	endpoint, env := startEmulator(t)
	db, err := tablestore.New(tablestore.Config{Endpoint: endpoint, Instance: "vodfc",
		Credentials: func() (runtime.Credentials, bool) {
			return runtime.Credentials{AccessKeyID: "test-ak", AccessKeySecret: "test-sk"}, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	old := tablestore.EmailCodes
	old.TTL = time.Hour
	if _, err := db.Ensure(context.Background(), []tablestore.Table{old}); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, env, "--dry-run")
	if code != 0 || actions(t, out)["email_codes"] != "would update" || !strings.Contains(out, "ttl 1h0m0s → 24h0m0s") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, env)
	if code != 0 || actions(t, out)["email_codes"] != "updated" {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if _, out, _ = runCmd(t, env); actions(t, out)["email_codes"] != "unchanged" {
		t.Fatalf("after the update:\n%s", out)
	}
}

func TestRefusesAChangedPrimaryKey(t *testing.T) {
	endpoint, env := startEmulator(t)
	db, _ := tablestore.New(tablestore.Config{Endpoint: endpoint, Instance: "vodfc",
		Credentials: func() (runtime.Credentials, bool) {
			return runtime.Credentials{AccessKeyID: "test-ak", AccessKeySecret: "test-sk"}, true
		}})
	wrong := tablestore.Table{Name: "users", Key: []tablestore.KeyDef{{Name: "id", Type: tablestore.Integer}}}
	if _, err := db.Ensure(context.Background(), []tablestore.Table{wrong}); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCmd(t, env)
	if code != 1 || !strings.Contains(errOut, "keys cannot change in place") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestCloudEndpointNeedsCloudCredentials(t *testing.T) {
	env := map[string]string{"OTS_ENDPOINT": "https://vodfc.cn-hangzhou.ots.aliyuncs.com", "OTS_INSTANCE": "vodfc",
		"FCLOCAL_ACCESS_KEY_ID": "local", "FCLOCAL_ACCESS_KEY_SECRET": "local"}
	code, _, errOut := runCmd(t, env)
	if code != 2 || !strings.Contains(errOut, "ALIBABA_CLOUD_ACCESS_KEY_ID") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCmd(t, map[string]string{})
	if code != 2 || !strings.Contains(errOut, "--endpoint") {
		t.Fatalf("no endpoint: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCmd(t, env, "--endpoint", "ftp://x", "--instance", "vodfc")
	if code != 2 || !strings.Contains(errOut, "not an http(s) URL") {
		t.Fatalf("bad endpoint: exit %d, stderr %q", code, errOut)
	}
}

func TestCloudCredentialsComeFromTheEnvironment(t *testing.T) {
	c, err := credentials("https://vodfc.cn-hangzhou.ots.aliyuncs.com", "vodfc", func(k string) string {
		return map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk",
			"ALIBABA_CLOUD_SECURITY_TOKEN": "sts"}[k]
	})
	if err != nil || c.AccessKeyID != "ak" || c.AccessKeySecret != "sk" || c.SecurityToken != "sts" {
		t.Fatalf("%+v %v", c, err)
	}
	c, err = credentials("http://localhost:9200", "vodfc", func(string) string { return "" })
	if err != nil || c.AccessKeyID != localAccessKeyID || c.AccessKeySecret != localAccessKeySecret {
		t.Fatalf("local defaults: %+v %v", c, err)
	}
}
