// Command ossfn is the function of ossemu's end-to-end test: an OSS-triggered go1 function
// that reads the object its event names — through OSS_ENDPOINT with the credentials FC hands the
// invocation, as a real transcoder would — and appends what it saw to $EVENT_LOG.
package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/aliyun/fc-runtime-go-sdk/events"
	"github.com/aliyun/fc-runtime-go-sdk/fc"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

// Seen is one line of $EVENT_LOG.
type Seen struct {
	EventName string          `json:"eventName"`
	Key       string          `json:"key"`
	Size      int             `json:"size"`
	ETag      string          `json:"eTag"`
	BodyMD5   string          `json:"bodyMD5"` // of the bytes read back from OSS
	Event     json.RawMessage `json:"event"`
}

func handle(ctx context.Context, raw json.RawMessage) error {
	var ev events.OssEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("not an OSS event: %w", err)
	}
	fctx, ok := fccontext.FromContext(ctx)
	if !ok {
		return fmt.Errorf("no FC context")
	}
	cr := fctx.Credentials
	opts := []oss.ClientOption{}
	if cr.SecurityToken != "" {
		opts = append(opts, oss.SecurityToken(cr.SecurityToken))
	}
	client, err := oss.New(os.Getenv("OSS_ENDPOINT"), cr.AccessKeyId, cr.AccessKeySecret, opts...)
	if err != nil {
		return err
	}
	for _, r := range ev.Events {
		seen := Seen{EventName: *r.EventName, Key: *r.Oss.Object.Key, Size: *r.Oss.Object.Size, ETag: *r.Oss.Object.ETag, Event: raw}
		if strings.HasPrefix(seen.EventName, "ObjectCreated:") {
			b, err := client.Bucket(*r.Oss.Bucket.Name)
			if err != nil {
				return err
			}
			rc, err := b.GetObject(seen.Key)
			if err != nil {
				return fmt.Errorf("reading %q: %w", seen.Key, err)
			}
			h := md5.New()
			_, err = io.Copy(h, rc)
			rc.Close()
			if err != nil {
				return err
			}
			seen.BodyMD5 = strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
		}
		line, _ := json.Marshal(seen)
		f, err := os.OpenFile(os.Getenv("EVENT_LOG"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		_, err = f.Write(append(line, '\n'))
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func main() { fc.Start(handle) }
