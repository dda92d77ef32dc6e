package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// InvokeLambda handles one AWS Lambda payload by the function's kind: an API Gateway HTTP API
// (payload 2.0) or Function URL request for HTTP functions, an S3 notification for Objects, an
// EventBridge scheduled event for Timer. Lambda hands out no per-invocation credentials and no
// retry count, so those stay zero in the context.
func (f *Function) InvokeLambda(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
	f.inflight.Add(1)
	defer f.inflight.Done()
	inv := &Invocation{}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		inv.RequestID = lc.AwsRequestID
	}
	ctx = WithInvocation(ctx, inv)
	if err := f.ensureInit(ctx); err != nil {
		return nil, err
	}
	switch {
	case f.HTTP != nil:
		var ev awsevents.APIGatewayV2HTTPRequest
		if err := decodeObject(payload, &ev); err != nil {
			return nil, err
		}
		if ev.Version != "2.0" {
			return nil, invalidEvent("HTTP event version %q: configure API Gateway payload format 2.0 or a Function URL", ev.Version)
		}
		res, err := ServeLambdaHTTP(ctx, f.HTTP, &ev)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errInvalidEvent, err)
		}
		return json.Marshal(res)
	case f.Objects != nil:
		recs, err := decodeS3Event(payload)
		if err != nil {
			return nil, err
		}
		return nil, handleObjects(ctx, f.Objects, recs)
	default:
		t, err := decodeAWSTimer(payload)
		if err != nil {
			return nil, err
		}
		return nil, handleTimer(ctx, f.Timer, t)
	}
}

// runLambda hands the process to aws-lambda-go. The initializer runs now, in Lambda's init
// phase; preStop runs on the SIGTERM Lambda sends once aws-lambda-go registers for it.
func runLambda(f *Function) error {
	ctx := WithInvocation(context.Background(), &Invocation{RequestID: "init"})
	if err := f.ensureInit(ctx); err != nil {
		return err
	}
	lambda.StartWithOptions(
		func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
			out, err := f.InvokeLambda(ctx, payload)
			if err == nil && out == nil {
				out = json.RawMessage("null")
			}
			return out, err
		},
		lambda.WithEnableSIGTERM(func() {
			f.drainAndStop(shutdownLimit)
			os.Exit(0)
		}),
	)
	return fmt.Errorf("aws-lambda-go returned")
}
