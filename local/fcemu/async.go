package fcemu

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"vodfc.dev/local/manifest"
)

// Trigger name under which destination deliveries appear in the invocation log.
const (
	TriggerOnSuccess = "onSuccess"
	TriggerOnFailure = "onFailure"
)

// InvokeAsync queues an asynchronous invocation, as an OSS or timer trigger does, and returns
// once the event is accepted. A failed run is retried maxAsyncRetryAttempts times with a
// growing pause (x-fc-retry-count tells the function which attempt it is), then handed to the
// onFailure destination; a successful one goes to onSuccess. It implements ossemu.Invoker.
func (e *Emulator) InvokeAsync(ctx context.Context, function, trigger string, payload []byte) error {
	if len(payload) > MaxAsyncPayload {
		return fmt.Errorf("%w: %d bytes, FC allows %d for an asynchronous invocation", ErrPayloadTooLarge, len(payload), MaxAsyncPayload)
	}
	return e.enqueue(function, trigger, payload)
}

func (e *Emulator) enqueue(function, trigger string, payload []byte) error {
	p, err := e.pool(function)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	e.asyncWG.Add(1)
	e.mu.Unlock()
	p.mu.Lock()
	p.queued++
	p.mu.Unlock()
	ev := &asyncEvent{id: newRequestID(), trigger: trigger, payload: append([]byte(nil), payload...), accepted: time.Now()}
	go e.runAsync(p, ev)
	return nil
}

type asyncEvent struct {
	id       string
	trigger  string
	payload  []byte
	accepted time.Time
}

// runAsync delivers one async event with its retries. All attempts share the request id, as
// they do in FC.
func (e *Emulator) runAsync(p *pool, ev *asyncEvent) {
	defer e.asyncWG.Done()
	defer func() {
		p.mu.Lock()
		p.queued--
		p.mu.Unlock()
	}()
	spec := p.fn.Spec
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-e.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for attempt := 0; ; attempt++ {
		if age := time.Since(ev.accepted); age > spec.Async.MaxEventAge {
			e.destination(p, ev, spec.Async.OnFailure, attempt, &Error{Type: "MaxEventAgeExceeded",
				Message: fmt.Sprintf("event is %s old; maxAsyncEventAgeInSeconds is %s", age.Round(time.Second), spec.Async.MaxEventAge)}, nil)
			return
		}
		rec := e.history.beginWithID(ev.id, p.name, ev.trigger, KindAsync, attempt)
		out, ferr := p.invoke(ctx, rec, ev.payload, attempt)
		if ferr == nil {
			e.destination(p, ev, spec.Async.OnSuccess, attempt+1, nil, out)
			return
		}
		if e.closing() {
			e.log.Warn("async event dropped at shutdown", "function", p.name, "trigger", ev.trigger, "requestId", ev.id)
			return
		}
		if attempt >= spec.Async.MaxRetries {
			e.log.Warn("async invocation failed for good", "function", p.name, "trigger", ev.trigger,
				"requestId", ev.id, "attempts", attempt+1, "err", ferr)
			e.destination(p, ev, spec.Async.OnFailure, attempt+1, ferr, nil)
			return
		}
		select {
		case <-time.After(e.opts.RetryBackoff(attempt + 1)):
		case <-ctx.Done():
			e.log.Warn("async retry dropped at shutdown", "function", p.name, "trigger", ev.trigger, "requestId", ev.id)
			return
		}
	}
}

// destinationRecord is what FC sends to an async destination.
type destinationRecord struct {
	Timestamp      int64 `json:"timestamp"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  string `json:"requestPayload"`
	ResponseContext struct {
		StatusCode    int    `json:"statusCode"`
		FunctionError string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload string `json:"responsePayload"`
}

// destination delivers the outcome of an async event to its destination, when there is one.
func (e *Emulator) destination(p *pool, ev *asyncEvent, arn string, count int, ferr *Error, out []byte) {
	if arn == "" {
		return
	}
	var rec destinationRecord
	rec.Timestamp = e.clock.Now().UnixMilli()
	rec.RequestContext.RequestID = ev.id
	rec.RequestContext.FunctionArn = fmt.Sprintf("acs:fc:%s:%s:functions/%s", e.opts.Region, e.opts.AccountID, p.name)
	rec.RequestContext.ApproximateInvokeCount = count
	rec.RequestPayload = string(ev.payload)
	rec.ResponseContext.StatusCode = 200
	trigger := TriggerOnSuccess
	if ferr != nil {
		trigger = TriggerOnFailure
		cond := ferr.Type
		if !platformError(cond) {
			cond = ErrorUnhandled // the function's own error; its body is the responsePayload
		}
		rec.RequestContext.Condition = cond
		rec.ResponseContext.FunctionError = cond
		if ferr.Payload != nil {
			rec.ResponsePayload = string(ferr.Payload)
		} else {
			b, _ := json.Marshal(map[string]string{"errorMessage": ferr.Message, "errorType": ferr.Type})
			rec.ResponsePayload = string(b)
		}
	} else {
		rec.RequestContext.Condition = "Success"
		rec.ResponsePayload = string(out)
	}
	fn, isFC, err := manifest.DestinationFunction(arn)
	if err != nil || !isFC {
		e.log.Warn("async destination is not emulated; record dropped", "function", p.name, "destination", arn, "err", err)
		return
	}
	payload, _ := json.Marshal(rec)
	if err := e.enqueue(fn, trigger, payload); err != nil {
		e.log.Error("async destination not delivered", "function", p.name, "destination", arn, "err", err)
	}
}

// platformError reports whether an error type comes from around the function (timeouts,
// crashes, start failures) rather than from the function's own code.
func platformError(t string) bool {
	switch t {
	case ErrorTimeout, ErrorProcessExited, ErrorStart, ErrorInitializer, "MaxEventAgeExceeded":
		return true
	}
	return false
}
