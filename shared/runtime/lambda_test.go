package runtime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

var (
	awsDirOnce sync.Once
	awsDir     string
	awsDirErr  error
)

// awsTestdata reads one of aws-lambda-go's own sample events from its module directory.
func awsTestdata(t *testing.T, name string) []byte {
	t.Helper()
	awsDirOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
		awsDir, awsDirErr = strings.TrimSpace(string(out)), err
	})
	if awsDirErr != nil || awsDir == "" {
		t.Fatalf("locating aws-lambda-go: %v", awsDirErr)
	}
	return readFile(t, filepath.Join(awsDir, "events", "testdata", name))
}

func lambdaCtx(id string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
}

func TestLambdaHTTPSamples(t *testing.T) {
	f := &Function{HTTP: echoHandler()}
	for _, tc := range []struct {
		file, method, path, query, cookie, body string
	}{
		{"apigw-v2-request-no-authorizer.json", "GET", "/", "", "", ""},
		{"lambda-urls-request.json", "POST", "/my/path", "parameter1=value1&parameter1=value2&parameter2=value", "cookie1; cookie2", "Hello from client!"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out, err := f.InvokeLambda(lambdaCtx("aws-"+tc.file), awsTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var resp awsevents.LambdaFunctionURLResponse
			mustJSON(t, out, &resp)
			var e echo
			mustJSON(t, []byte(resp.Body), &e)
			if resp.StatusCode != 200 || e.Method != tc.method || e.Path != tc.path || e.RawQuery != tc.query ||
				e.Header.Get("Cookie") != tc.cookie || e.Body != tc.body || e.RequestID != "aws-"+tc.file {
				t.Errorf("response %+v, request seen as %+v", resp, e)
			}
			if tc.query != "" && len(e.Query["parameter1"]) != 2 {
				t.Errorf("repeated query values %v", e.Query)
			}
		})
	}
	// Set-Cookie values travel apart, all of them.
	var ev map[string]any
	mustJSON(t, awsTestdata(t, "lambda-urls-request.json"), &ev)
	ev["rawPath"] = "/cookies"
	payload, _ := json.Marshal(ev)
	out, err := f.InvokeLambda(lambdaCtx("c"), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp awsevents.LambdaFunctionURLResponse
	mustJSON(t, out, &resp)
	if resp.StatusCode != 201 || len(resp.Cookies) != 2 || resp.Headers["Set-Cookie"] != "" || resp.Headers["X-Multi"] != "one, two" {
		t.Errorf("cookies response %+v", resp)
	}
	// REST API (payload 1.0) events are refused with a clear message.
	if _, err := f.InvokeLambda(lambdaCtx("v1"), awsTestdata(t, "apigw-request.json")); err == nil || !strings.Contains(err.Error(), "payload format 2.0") {
		t.Errorf("payload 1.0: %v", err)
	}
}

func TestLambdaEventSamples(t *testing.T) {
	var got []ObjectEvent
	objects := &Function{Objects: func(_ context.Context, e ObjectEvent) error { got = append(got, e); return nil }}
	for _, name := range []string{"s3-event.json", "s3-event-with-decoded.json"} {
		got = nil
		if _, err := objects.InvokeLambda(lambdaCtx("s3"), awsTestdata(t, name)); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Key != "Happy Face.jpg" || got[0].Bucket != "sourcebucket" || got[0].Size != 1024 ||
			got[0].Name != "ObjectCreated:PutObject" || got[0].ETag != "d41d8cd98f00b204e9800998ecf8427e" || got[0].Time.IsZero() {
			t.Errorf("%s: %+v", name, got)
		}
	}
	// S3 encodes a space as '+' and a '+' as %2B; CJK arrives %-encoded.
	got = nil
	plus := strings.Replace(string(awsTestdata(t, "s3-event.json")), `"Happy%20Face.jpg"`, `"uploads/my+clip%2B1/%E8%A7%86%E9%A2%91.mp4"`, 1)
	if _, err := objects.InvokeLambda(lambdaCtx("s3"), []byte(plus)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != "uploads/my clip+1/视频.mp4" {
		t.Errorf("encoded S3 key decoded as %+v", got)
	}
	if _, err := objects.InvokeLambda(lambdaCtx("s3"), awsTestdata(t, "sqs-event.json")); err == nil {
		t.Error("an SQS event was taken for an S3 one")
	}

	var fired TimerEvent
	timer := &Function{Timer: func(_ context.Context, e TimerEvent) error { fired = e; return nil }}
	// AWS's documented scheduled-event example (aws-lambda-go ships none).
	if _, err := timer.InvokeLambda(lambdaCtx("t"), readFile(t, "testdata/aws-scheduled-event.json")); err != nil {
		t.Fatal(err)
	}
	if fired.Trigger != "my-scheduled-rule" || fired.Payload != "" || fired.Time.Format("2006-01-02T15:04:05Z") != "2015-10-08T16:53:06Z" {
		t.Errorf("scheduled event %+v", fired)
	}
	if _, err := timer.InvokeLambda(lambdaCtx("t"), awsTestdata(t, "codepipeline-execution-state-change-event.json")); err == nil {
		t.Error("a CodePipeline event was taken for a schedule")
	}
}

// TestLambdaThroughSDK runs runtime.HTTP under aws-lambda-go's real loop against a fake
// Lambda runtime API.
func TestLambdaThroughSDK(t *testing.T) {
	api := newFakeRuntimeAPI(t, lambdaPrefix)
	c := startChild(t, "http", "AWS_LAMBDA_RUNTIME_API="+api.addr(), "AWS_LAMBDA_FUNCTION_NAME=videos")
	var ev map[string]any
	mustJSON(t, awsTestdata(t, "lambda-urls-request.json"), &ev)
	ev["body"] = base64.StdEncoding.EncodeToString([]byte{0, 1, 2})
	ev["isBase64Encoded"] = true
	payload, _ := json.Marshal(ev)
	id, res := api.invoke(t, false, payload, nil)
	if res.failed {
		t.Fatalf("invocation failed: %s", res.body)
	}
	var resp awsevents.LambdaFunctionURLResponse
	mustJSON(t, res.body, &resp)
	var e echo
	mustJSON(t, []byte(resp.Body), &e)
	if e.RequestID != id || e.Function != "videos" || e.Body != "\x00\x01\x02" || e.Path != "/my/path" {
		t.Errorf("request seen as %+v", e)
	}
	c.waitLine(`"init ran"`)
	c.waitLine(`"echo served"`, `"request_id":"`+id+`"`)
	_, res = api.invoke(t, false, awsTestdata(t, "s3-event.json"), nil)
	if !res.failed || !strings.Contains(string(res.body), "invalid event") {
		t.Errorf("S3 event to an HTTP function: failed=%v %s", res.failed, res.body)
	}
	c.signal(syscall.SIGTERM)
	if code := c.wait(); code != 0 {
		t.Errorf("exit status %d", code)
	}
	if c.count(`"prestop ran"`) != 1 {
		t.Error("preStop did not run on SIGTERM")
	}
}
