package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"vodfc.dev/local/cloud"
	"vodfc.dev/local/fcemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
)

// The rules are tested one by one in shared/cleanup against the emulators. Here the real
// cleanup binary runs on the local cloud's go1 runtime, fired by the scheduler as the shared
// clock moves, next to the real videos and auth functions a user goes through.

const (
	fnCleanup = "vodfc-cleanup"
	fnVideos  = "vodfc-videos"
	fnAuth    = "vodfc-auth"
)

var (
	cl     *cloud.Cloud
	bucket *oss.Store
)

func TestMain(m *testing.M) {
	opts := cloud.Ephemeral("../../s.yaml", fnCleanup, fnVideos, fnAuth)
	os.Exit(cloud.RunTests(m, opts, func(c *cloud.Cloud) (err error) {
		cl = c
		creds := runtime.Credentials{AccessKeyID: cl.Credentials.AccessKeyID, AccessKeySecret: cl.Credentials.AccessKeySecret}
		bucket, err = oss.New(oss.Config{Endpoint: cl.OSSEndpoint, Bucket: cl.Manifest.Function(fnCleanup).Env["MEDIA_BUCKET"],
			Region: "cn-hangzhou", Credentials: func() (runtime.Credentials, bool) { return creds, true }})
		return err
	}))
}

var client = &http.Client{Timeout: 30 * time.Second}

func call(t *testing.T, method, u, token string, body any, header ...string) (int, []byte) {
	t.Helper()
	if strings.HasPrefix(u, "/") {
		u = cl.GatewayURL + u
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
		header = append(header, "Content-Type", "application/json")
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// advanceAndAwaitCleanup moves the clock by d through the console; the scheduler fires the
// hourly timer once for the hours skipped, and this waits for that run.
func advanceAndAwaitCleanup(t *testing.T, d time.Duration) fcemu.Invocation {
	t.Helper()
	before := map[string]bool{}
	for _, inv := range cl.FC.Invocations(fnCleanup, 1000) {
		before[inv.RequestID] = true
	}
	if code, b := call(t, "POST", "/_local/clock", "", map[string]string{"advance": d.String()}); code != 200 {
		t.Fatalf("advancing the clock: %d %s", code, b)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, inv := range cl.FC.Invocations(fnCleanup, 1000) {
			if before[inv.RequestID] || inv.Status == fcemu.StatusRunning {
				continue
			}
			if inv.Status != fcemu.StatusSucceeded {
				t.Fatalf("cleanup %s: %s %s\n%s", inv.Status, inv.ErrorType, inv.Error, inv.Log)
			}
			return inv
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the cleanup timer did not run")
	return fcemu.Invocation{}
}

type mail struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

func mails(t *testing.T, addr string) []mail {
	t.Helper()
	code, b := call(t, "GET", "/_local/mail?to="+url.QueryEscape(addr), "", nil)
	if code != 200 {
		t.Fatalf("mail: %d %s", code, b)
	}
	var out []mail // newest first
	json.Unmarshal(b, &out)
	return out
}

func awaitMails(t *testing.T, addr string, n int) []mail {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := mails(t, addr); len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d mails to %s", n, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTheHourlyTimerCleansUpAfterUsersOnTheLocalCloud(t *testing.T) {
	ctx := context.Background()
	owner, err := cl.MintToken("owner-"+vodfc.NewID(), vodfc.TierFree)
	if err != nil {
		t.Fatal(err)
	}
	create := func(size int64) (string, map[string]any) {
		code, b := call(t, "POST", "/api/v1/videos", owner, map[string]any{"title": "never finished", "filename": "a.mp4",
			"size": size, "content_type": "video/mp4"})
		if code != 201 && code != 200 {
			t.Fatalf("create: %d %s", code, b)
		}
		var out struct {
			Video  struct{ ID string }
			Upload map[string]any
		}
		json.Unmarshal(b, &out)
		return out.Video.ID, out.Upload
	}
	// One large upload left half way (multipart), one small file uploaded whose processing
	// never happened (no transcode runs here), and a user who never confirmed the address.
	big, plan := create(100 << 20)
	if plan["method"] != "multipart" || plan["upload_id"] == "" {
		t.Fatalf("plan %v", plan)
	}
	small, plan := create(1000)
	hdr := []string{}
	for k, v := range plan["headers"].(map[string]any) {
		hdr = append(hdr, k, v.(string))
	}
	if code, b := call(t, "PUT", plan["url"].(string), "", bytes.Repeat([]byte{1}, 1000), hdr...); code != 200 {
		t.Fatalf("upload: %d %s", code, b)
	}
	addr := "never-" + strings.ToLower(vodfc.NewID()) + "@example.com"
	signUp := map[string]string{"email": addr, "password": "correct horse battery staple", "nickname": "n"}
	if code, b := call(t, "POST", "/api/v1/auth/register", "", signUp); code != 202 {
		t.Fatalf("register: %d %s", code, b)
	}
	awaitMails(t, addr, 1)

	inv := advanceAndAwaitCleanup(t, 25*time.Hour)
	for _, id := range []string{big, small} {
		code, b := call(t, "GET", "/api/v1/videos/"+id, owner, nil)
		var v struct {
			Status      string
			FailureCode string `json:"failure_code"`
		}
		json.Unmarshal(b, &v)
		if code != 200 || v.Status != "failed" || v.FailureCode != "upload_expired" {
			t.Fatalf("video %s a day later: %d %s", id, code, b)
		}
	}
	if ok, _ := bucket.Exists(ctx, vodfc.SourceKey(small)); ok {
		t.Fatal("the expired video's file is still stored")
	}
	open := 0
	bucket.ListUploads(ctx, vodfc.UploadsPrefix+big+"/", func(oss.Upload) error { open++; return nil })
	if open != 0 {
		t.Fatal("the expired video's multipart upload is still open")
	}
	for _, want := range []string{`cleanup: videos whose upload expired`, `cleanup: stale multipart uploads aborted`, `cleanup: unverified accounts removed`} {
		if !strings.Contains(inv.Log, want) {
			t.Errorf("the run did not log %q:\n%s", want, inv.Log)
		}
	}

	// A week after signing up, the unverified account is gone: the address signs up afresh
	// (a new code), where it would otherwise get an "account exists" notice.
	advanceAndAwaitCleanup(t, 7*24*time.Hour)
	if code, b := call(t, "POST", "/api/v1/auth/register", "", signUp); code != 202 {
		t.Fatalf("register again: %d %s", code, b)
	}
	m := awaitMails(t, addr, 2)[0]
	if !strings.Contains(m.Subject, "verification code") {
		t.Fatalf("signing up again after the cleanup got %q", m.Subject)
	}

	// The functions live on the moved clock too: a video created now is stamped now, and the
	// next hour's run leaves it waiting for its file.
	fresh, _ := create(1000)
	code, b := call(t, "GET", "/api/v1/videos/"+fresh, owner, nil)
	var v struct {
		Status    string
		CreatedAt time.Time `json:"created_at"`
	}
	if err := json.Unmarshal(b, &v); err != nil || code != 200 {
		t.Fatalf("the fresh video: %d %s", code, b)
	}
	if d := cl.Clock.Now().Sub(v.CreatedAt); d < 0 || d > time.Minute {
		t.Fatalf("created at %v, %v before the local cloud's now", v.CreatedAt, d)
	}
	advanceAndAwaitCleanup(t, time.Hour)
	if code, b := call(t, "GET", "/api/v1/videos/"+fresh, owner, nil); code != 200 || !strings.Contains(string(b), `"awaiting_upload"`) {
		t.Fatalf("a video made an hour ago after the clock moved: %d %s", code, b)
	}
}
