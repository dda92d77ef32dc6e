package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	fcevents "github.com/aliyun/fc-runtime-go-sdk/events"
	awsevents "github.com/aws/aws-lambda-go/events"
)

// errInvalidEvent marks a payload that does not have the shape the function serves; it is
// reported as "InvalidEvent" and never retried into success, so it lands in the platform's
// failure destination with this message.
var errInvalidEvent = errors.New("invalid event")

func invalidEvent(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errInvalidEvent, fmt.Sprintf(format, args...))
}

// decodeObject rejects anything but a single JSON object, so a payload of the wrong kind
// fails loudly instead of decoding into zero values.
func decodeObject(payload []byte, v any) error {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 || p[0] != '{' {
		return invalidEvent("payload is not a JSON object")
	}
	if err := json.Unmarshal(p, v); err != nil {
		return invalidEvent("%v", err)
	}
	return nil
}

// decodeOSSEvent turns FC's OssEvent into neutral records.
func decodeOSSEvent(payload []byte) ([]ObjectEvent, error) {
	var ev fcevents.OssEvent
	if err := decodeObject(payload, &ev); err != nil {
		return nil, err
	}
	if len(ev.Events) == 0 {
		return nil, invalidEvent("OSS event has no events[] records")
	}
	out := make([]ObjectEvent, 0, len(ev.Events))
	for i, r := range ev.Events {
		if r == nil || r.Oss == nil || r.Oss.Bucket == nil || r.Oss.Object == nil ||
			deref(r.Oss.Bucket.Name) == "" || deref(r.Oss.Object.Key) == "" {
			return nil, invalidEvent("OSS event record %d lacks oss.bucket.name or oss.object.key", i)
		}
		o := ObjectEvent{
			Bucket: *r.Oss.Bucket.Name,
			Key:    decodeOSSKey(*r.Oss.Object.Key),
			ETag:   deref(r.Oss.Object.ETag),
			Name:   strings.TrimPrefix(deref(r.EventName), "oss:"),
		}
		if r.Oss.Object.Size != nil {
			o.Size = int64(*r.Oss.Object.Size)
		}
		if r.EventTime != nil {
			o.Time = *r.EventTime
		}
		out = append(out, o)
	}
	return out, nil
}

// decodeOSSKey applies the key rule. Whether FC URL-encodes OSS keys in events is not
// documented, so both forms are accepted: a key is decoded only when it contains a valid
// %-encoding whose decoding changes it ("a%20b" → "a b", "%E8%A7%86" → "视"); a key with no '%',
// or with a '%' that is not a valid escape ("100%"), is taken as is. '+' is never read as a
// space, because '+' is an ordinary key character. The one ambiguous case, a raw key that
// itself contains a valid escape such as "a%20b", is read decoded; vodfc's own keys contain no
// '%', so it cannot arise for objects vodfc writes.
func decodeOSSKey(k string) string {
	if !strings.Contains(k, "%") {
		return k
	}
	d, err := url.PathUnescape(k)
	if err != nil {
		return k
	}
	return d
}

// s3EventNames maps S3's event names to OSS's, so handlers test one vocabulary.
var s3EventNames = map[string]string{
	"ObjectCreated:Put":                     "ObjectCreated:PutObject",
	"ObjectCreated:Post":                    "ObjectCreated:PostObject",
	"ObjectCreated:Copy":                    "ObjectCreated:CopyObject",
	"ObjectCreated:CompleteMultipartUpload": "ObjectCreated:CompleteMultipartUpload",
	"ObjectRemoved:Delete":                  "ObjectRemoved:DeleteObject",
}

// decodeS3Event turns an S3 notification into neutral records; S3 keys are URL-encoded with '+'
// for spaces and are always decoded.
func decodeS3Event(payload []byte) ([]ObjectEvent, error) {
	var ev awsevents.S3Event
	if err := decodeObject(payload, &ev); err != nil {
		return nil, err
	}
	if len(ev.Records) == 0 {
		return nil, invalidEvent("S3 event has no Records[]")
	}
	out := make([]ObjectEvent, 0, len(ev.Records))
	for i, r := range ev.Records {
		if r.S3.Bucket.Name == "" || r.S3.Object.Key == "" {
			return nil, invalidEvent("S3 event record %d lacks s3.bucket.name or s3.object.key", i)
		}
		name := r.EventName
		if n, ok := s3EventNames[name]; ok {
			name = n
		}
		out = append(out, ObjectEvent{
			Bucket: r.S3.Bucket.Name,
			Key:    r.S3.Object.URLDecodedKey,
			Size:   r.S3.Object.Size,
			ETag:   r.S3.Object.ETag,
			Name:   name,
			Time:   r.EventTime,
		})
	}
	return out, nil
}

// decodeFCTimer reads FC's TimerEvent. A payload with neither triggerName nor triggerTime is
// not a timer event. A missing triggerTime (a hand-made "fire now") means now.
func decodeFCTimer(payload []byte) (TimerEvent, error) {
	var ev fcevents.TimerEvent
	if err := decodeObject(payload, &ev); err != nil {
		return TimerEvent{}, err
	}
	if ev.TriggerName == nil && ev.TriggerTime == nil {
		return TimerEvent{}, invalidEvent("timer event needs triggerName or triggerTime")
	}
	t := TimerEvent{Trigger: deref(ev.TriggerName), Payload: deref(ev.Payload), Time: time.Now().UTC()}
	if ev.TriggerTime != nil {
		tt, err := time.Parse(time.RFC3339, *ev.TriggerTime)
		if err != nil {
			return TimerEvent{}, invalidEvent("timer event triggerTime %q is not RFC 3339", *ev.TriggerTime)
		}
		t.Time = tt
	}
	return t, nil
}

// decodeAWSTimer reads an EventBridge scheduled event, or FC's timer shape when a schedule is
// configured with that as its input.
func decodeAWSTimer(payload []byte) (TimerEvent, error) {
	var ev awsevents.EventBridgeEvent
	if err := decodeObject(payload, &ev); err != nil {
		return TimerEvent{}, err
	}
	if ev.DetailType == "" {
		return decodeFCTimer(payload)
	}
	if ev.DetailType != "Scheduled Event" {
		return TimerEvent{}, invalidEvent("EventBridge event %q is not a Scheduled Event", ev.DetailType)
	}
	t := TimerEvent{Time: ev.Time}
	if len(ev.Resources) > 0 {
		// arn:aws:events:REGION:ACCOUNT:rule/NAME or arn:aws:scheduler:...:schedule/GROUP/NAME
		arn := ev.Resources[0]
		t.Trigger = arn[strings.LastIndexByte(arn, '/')+1:]
	}
	if d := bytes.TrimSpace(ev.Detail); len(d) > 0 && !bytes.Equal(d, []byte("{}")) && !bytes.Equal(d, []byte("null")) {
		t.Payload = string(d)
	}
	return t, nil
}

// handleObjects hands every record to fn. It goes on after a failed record, since the platform
// will redeliver the whole event and every record already handled must be safe to handle again
// anyway; it stops early only when the invocation's context ends.
func handleObjects(ctx context.Context, fn func(context.Context, ObjectEvent) error, recs []ObjectEvent) error {
	var errs []error
	for i, rec := range recs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("record %d (%s/%s) not handled: %w", i, rec.Bucket, rec.Key, err))
			break
		}
		err := callSafely(ctx, "object handler", func(ctx context.Context) error { return fn(ctx, rec) })
		if err != nil {
			slog.ErrorContext(ctx, "object event failed", "record", i, "records", len(recs),
				"bucket", rec.Bucket, "key", rec.Key, "event", rec.Name, "err", err)
			errs = append(errs, fmt.Errorf("record %d (%s/%s): %w", i, rec.Bucket, rec.Key, err))
		}
	}
	return errors.Join(errs...)
}

func handleTimer(ctx context.Context, fn func(context.Context, TimerEvent) error, t TimerEvent) error {
	err := callSafely(ctx, "timer handler", func(ctx context.Context) error { return fn(ctx, t) })
	if err != nil {
		slog.ErrorContext(ctx, "timer event failed", "trigger", t.Trigger, "err", err)
	}
	return err
}

// invokeError is how a failed invocation is reported to FC: the custom runtime's JSON body and
// the go1 SDK's error share the errorMessage / errorType fields.
type invokeError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func toInvokeError(err error) invokeError {
	t := "HandlerError"
	var p *panicError
	switch {
	case errors.As(err, &p):
		t = "Panic"
	case errors.Is(err, errInvalidEvent):
		t = "InvalidEvent"
	case errors.Is(err, errInit):
		t = "InitializationError"
	case errors.Is(err, context.DeadlineExceeded):
		t = "Timeout"
	}
	return invokeError{Message: err.Error(), Type: t}
}
