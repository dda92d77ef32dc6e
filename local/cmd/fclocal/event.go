package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"vodfc.dev/local/clock"
	"vodfc.dev/local/fcemu"
	"vodfc.dev/local/manifest"
)

func init() {
	commands["event"] = command{summary: "print a sample oss, timer or http event to edit and pass to invoke", run: func(ctx context.Context, args []string) error {
		return printEvent(os.Stdout, args)
	}}
}

func printEvent(w io.Writer, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: fclocal event oss|timer|http [flags]")
	}
	kind, args := args[0], args[1:]
	fs := flag.NewFlagSet("event "+kind, flag.ContinueOnError)
	now := time.Now().UTC()
	var ev any
	switch kind {
	case "oss":
		bucket := fs.String("bucket", "vodfc-media", "bucket name")
		key := fs.String("key", "uploads/01HZX3V9Q7/source", "object key")
		name := fs.String("event", "ObjectCreated:PutObject", "event name (no oss: prefix in the payload)")
		size := fs.Int64("size", 1048576, "object size in bytes")
		region := fs.String("region", "cn-hangzhou", "region")
		if err := fs.Parse(args); err != nil {
			return err
		}
		ev = ossEvent(*bucket, *key, strings.TrimPrefix(*name, "oss:"), *size, *region, now)
	case "timer":
		trigger := fs.String("trigger", "nightly", "triggerName")
		payload := fs.String("payload", "", "the trigger's payload")
		data := fs.String("data", ".fclocal", "the local cloud's data directory: the event is stamped with its shiftable clock")
		at := fs.String("at", "", "triggerTime, RFC 3339 (default: now on the local cloud's clock)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		// Timer functions take "now" from triggerTime, so a hand-made event must carry the
		// local cloud's (possibly advanced) time, or it would act in the past.
		if *at != "" {
			t, err := time.Parse(time.RFC3339, *at)
			if err != nil {
				return fmt.Errorf("--at %q: want RFC 3339 such as 2025-06-01T19:30:00Z", *at)
			}
			now = t.UTC()
		} else if c, err := clock.Open(filepath.Join(*data, "clock.json")); err == nil {
			now = c.Now().UTC()
		}
		ev = map[string]string{"triggerTime": now.Truncate(time.Second).Format(time.RFC3339), "triggerName": *trigger, "payload": *payload}
	case "http":
		method := fs.String("method", "GET", "HTTP method")
		path := fs.String("path", "/api/v1/videos", "path and query")
		body := fs.String("body", "", "request body")
		ctype := fs.String("content-type", "application/json", "Content-Type of the body")
		if err := fs.Parse(args); err != nil {
			return err
		}
		r := httptest.NewRequest(*method, *path, strings.NewReader(*body))
		r.Host = "127.0.0.1:8080"
		r.Header.Set("User-Agent", "curl/8.5.0")
		if *body != "" {
			r.Header.Set("Content-Type", *ctype)
		}
		b, err := fcemu.HTTPEvent(r, []byte(*body), "1-fclocal-sample", manifest.LocalAccountID, now)
		if err != nil {
			return err
		}
		ev = json.RawMessage(b)
	default:
		return fmt.Errorf("no sample for %q: want oss, timer or http", kind)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(ev)
}

// ossEvent is one OSS notification record in the shape FC delivers (REFERENCE §2).
func ossEvent(bucket, key, name string, size int64, region string, now time.Time) any {
	acct := manifest.LocalAccountID
	return map[string]any{"events": []any{map[string]any{
		"eventName":    name,
		"eventSource":  "acs:oss",
		"eventTime":    now.Format("2006-01-02T15:04:05.000Z"),
		"eventVersion": "1.0",
		"oss": map[string]any{
			"bucket": map[string]any{"arn": "acs:oss:" + region + ":" + acct + ":" + bucket, "name": bucket, "ownerIdentity": acct, "virtualBucket": ""},
			"object": map[string]any{"deltaSize": size, "eTag": "9E107D9D372BB6826BD81D3542A419D6", "key": key,
				"objectMeta": map[string]any{"mimeType": "video/mp4"}, "size": size},
			"ossSchemaVersion": "1.0",
			"ruleId":           "fclocal-sample",
		},
		"region":            region,
		"requestParameters": map[string]any{"sourceIPAddress": "127.0.0.1"},
		"responseElements":  map[string]any{"requestId": "fclocal-sample"},
		"userIdentity":      map[string]any{"principalId": acct},
	}}}
}
