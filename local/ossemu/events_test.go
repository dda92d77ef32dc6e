package ossemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/aliyun/fc-runtime-go-sdk/events"

	"vodfc.dev/local/ossemu"
)

var testTriggers = []ossemu.Trigger{
	{Function: "transcode", Name: "uploads", Bucket: "media", Prefix: "uploads/",
		Events: []string{"oss:ObjectCreated:PutObject", "oss:ObjectCreated:PostObject", "oss:ObjectCreated:CompleteMultipartUpload"}},
	{Function: "thumbs", Name: "images", Bucket: "media", Prefix: "images/", Suffix: ".jpg", Events: []string{"oss:ObjectCreated:*"}},
	{Function: "cleanup", Name: "removed", Bucket: "media", Suffix: ".tmp", Events: []string{"oss:ObjectRemoved:*"}},
	{Function: "transcode", Name: "other-bucket", Bucket: "elsewhere", Prefix: "uploads/", Events: []string{"oss:ObjectCreated:*"}},
}

// eventEmu is an emulator with triggers, reached in-process through HTTPClient.
type eventEmu struct {
	emu *ossemu.Server
	rec *recorder
	b   *oss.Bucket
	dir string
}

func openEventEmu(t *testing.T, dir string, inv ossemu.Invoker) *eventEmu {
	t.Helper()
	emu, err := ossemu.Open(ossemu.Options{AccessKeyID: testAK, AccessKeySecret: testSecret, DataDir: dir,
		Buckets: []string{"media", "elsewhere"}, Triggers: testTriggers, Invoker: inv, NoSync: true, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := oss.New("http://oss.local", testAK, testSecret, oss.HTTPClient(emu.HTTPClient()), oss.ForcePathStyle(true))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("media")
	rec, _ := inv.(*recorder)
	return &eventEmu{emu: emu, rec: rec, b: b, dir: dir}
}

func decodeEvent(t *testing.T, payload []byte) *events.OssEventRecord {
	t.Helper()
	var ev events.OssEvent
	if err := json.Unmarshal(payload, &ev); err != nil || len(ev.Events) != 1 {
		t.Fatalf("payload is not an events.OssEvent: %v\n%s", err, payload)
	}
	return ev.Events[0]
}

func callsTo(calls []invocation, function, key string) []*events.OssEventRecord {
	var out []*events.OssEventRecord
	for _, c := range calls {
		if c.Function != function {
			continue
		}
		var ev events.OssEvent
		json.Unmarshal(c.Payload, &ev)
		if *ev.Events[0].Oss.Object.Key == key {
			out = append(out, ev.Events[0])
		}
	}
	return out
}

func names(evs []*events.OssEventRecord) []string {
	var out []string
	for _, e := range evs {
		out = append(out, *e.EventName)
	}
	return out
}

func TestEventsMatchTriggers(t *testing.T) {
	rec := newRecorder()
	e := openEventEmu(t, t.TempDir(), rec)
	defer e.emu.Close()
	b := e.b

	// Nothing fires outside the triggers' prefixes, suffixes, events and buckets.
	put(t, b, "other/x.mp4", []byte("x"))
	put(t, b, "images/a.png", []byte("x"))
	put(t, b, "uploads-not-a-dir.mp4", []byte("x"))
	b.CopyObject("other/x.mp4", "uploads/copied.mp4") // CopyObject is not among the transcode trigger's events
	b.DeleteObject("other/x.mp4")
	if n := e.emu.PendingEvents(); n != 0 || rec.count() != 0 {
		t.Fatalf("unmatched operations fired %d pending, %d delivered", n, rec.count())
	}

	// A PUT under uploads/ reaches transcode with the event FC delivers.
	data := randBytes(29203)
	var rh http.Header
	if err := b.PutObject("uploads/v1/source 源.mp4", bytes.NewReader(data), oss.ContentType("video/mp4"), oss.GetResponseHeader(&rh)); err != nil {
		t.Fatal(err)
	}
	calls := rec.waitFor(t, "PutObject event", func(c []invocation) bool { return len(callsTo(c, "transcode", "uploads/v1/source 源.mp4")) == 1 })
	if calls[0].Trigger != "uploads" {
		t.Fatalf("trigger name %q", calls[0].Trigger)
	}
	ev := decodeEvent(t, calls[0].Payload)
	check := map[string][2]string{
		"eventName":     {*ev.EventName, "ObjectCreated:PutObject"},
		"eventSource":   {*ev.EventSource, "acs:oss"},
		"eventVersion":  {*ev.EventVersion, "1.0"},
		"region":        {*ev.Region, "cn-hangzhou"},
		"bucket.name":   {*ev.Oss.Bucket.Name, "media"},
		"bucket.arn":    {*ev.Oss.Bucket.Arn, "acs:oss:cn-hangzhou:1234567890123456:media"},
		"ownerIdentity": {*ev.Oss.Bucket.OwnerIdentity, "1234567890123456"},
		"eTag":          {*ev.Oss.Object.ETag, md5hex(data)},
		"key":           {*ev.Oss.Object.Key, "uploads/v1/source 源.mp4"},
		"mimeType":      {*ev.Oss.Object.ObjectMeta.MimeType, "video/mp4"},
		"requestId":     {*ev.ResponseElements.RequestID, rh.Get("X-Oss-Request-Id")},
		"principalId":   {*ev.UserIdentity.PrincipalID, "1234567890123456"},
		"schema":        {*ev.Oss.OssSchemaVersion, "1.0"},
	}
	for field, v := range check {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", field, v[0], v[1])
		}
	}
	if *ev.Oss.Object.Size != len(data) || *ev.Oss.Object.DeltaSize != len(data) || ev.EventTime.IsZero() ||
		*ev.Oss.RuleID == "" || ev.RequestParameters.SourceIPAddress == nil {
		t.Errorf("size %d delta %d time %v", *ev.Oss.Object.Size, *ev.Oss.Object.DeltaSize, ev.EventTime)
	}
	// The document has exactly REFERENCE §2's fields.
	var generic map[string][]map[string]any
	json.Unmarshal(calls[0].Payload, &generic)
	var fields []string
	for k := range generic["events"][0] {
		fields = append(fields, k)
	}
	slices.Sort(fields)
	if want := []string{"eventName", "eventSource", "eventTime", "eventVersion", "oss", "region", "requestParameters", "responseElements", "userIdentity"}; !slices.Equal(fields, want) {
		t.Errorf("event fields %v", fields)
	}
	if !strings.Contains(string(calls[0].Payload), `"eventTime":"`) || !strings.Contains(string(calls[0].Payload), `.000Z"`) && !strings.Contains(string(calls[0].Payload), `Z"`) {
		t.Errorf("eventTime format: %s", calls[0].Payload)
	}

	// A multipart upload fires CompleteMultipartUpload (not PutObject, and no part events for
	// a trigger that does not ask for them).
	imur, _ := b.InitiateMultipartUpload("uploads/v2/source")
	p1, p2 := randBytes(100<<10), randBytes(10)
	u1, _ := b.UploadPart(imur, bytes.NewReader(p1), int64(len(p1)), 1)
	u2, _ := b.UploadPart(imur, bytes.NewReader(p2), int64(len(p2)), 2)
	res, err := b.CompleteMultipartUpload(imur, []oss.UploadPart{u1, u2})
	if err != nil {
		t.Fatal(err)
	}
	calls = rec.waitFor(t, "CompleteMultipartUpload event", func(c []invocation) bool { return len(callsTo(c, "transcode", "uploads/v2/source")) == 1 })
	mp := callsTo(calls, "transcode", "uploads/v2/source")[0]
	if *mp.EventName != "ObjectCreated:CompleteMultipartUpload" || `"`+*mp.Oss.Object.ETag+`"` != res.ETag || *mp.Oss.Object.Size != len(p1)+len(p2) {
		t.Fatalf("multipart event: %s %s %d", *mp.EventName, *mp.Oss.Object.ETag, *mp.Oss.Object.Size)
	}

	// ObjectCreated:* also fires for the parts, as in OSS, and in order for one key.
	imur, _ = b.InitiateMultipartUpload("images/big.jpg")
	u1, _ = b.UploadPart(imur, bytes.NewReader(p1), int64(len(p1)), 1)
	b.CompleteMultipartUpload(imur, []oss.UploadPart{u1})
	b.AppendObject("images/log.jpg", strings.NewReader("a"), 0)
	calls = rec.waitFor(t, "image events", func(c []invocation) bool {
		return len(callsTo(c, "thumbs", "images/big.jpg")) == 3 && len(callsTo(c, "thumbs", "images/log.jpg")) == 1
	})
	if got := names(callsTo(calls, "thumbs", "images/big.jpg")); !slices.Equal(got, []string{"ObjectCreated:InitiateMultipartUpload", "ObjectCreated:UploadPart", "ObjectCreated:CompleteMultipartUpload"}) {
		t.Fatalf("image events %v", got)
	}
	if got := names(callsTo(calls, "thumbs", "images/log.jpg")); got[0] != "ObjectCreated:AppendObject" {
		t.Fatalf("append event %v", got)
	}

	// CopyObject fires for its destination when the trigger asks for it (the source, a .png,
	// fires nothing itself).
	src := randBytes(3000)
	put(t, b, "images/src.png", src, oss.ContentType("image/png"))
	if _, err := b.CopyObject("images/src.png", "images/copied.jpg"); err != nil {
		t.Fatal(err)
	}
	calls = rec.waitFor(t, "CopyObject event", func(c []invocation) bool { return len(callsTo(c, "thumbs", "images/copied.jpg")) == 1 })
	cp := callsTo(calls, "thumbs", "images/copied.jpg")[0]
	if *cp.EventName != "ObjectCreated:CopyObject" || *cp.Oss.Object.ETag != md5hex(src) || *cp.Oss.Object.Size != len(src) ||
		*cp.Oss.Object.ObjectMeta.MimeType != "image/png" {
		t.Fatalf("copy event %s %s %d %s", *cp.EventName, *cp.Oss.Object.ETag, *cp.Oss.Object.Size, *cp.Oss.Object.ObjectMeta.MimeType)
	}
	if len(callsTo(calls, "thumbs", "images/src.png")) != 0 {
		t.Fatal("a .png fired the .jpg trigger")
	}

	// Removals.
	put(t, b, "scratch/a.tmp", []byte("12345"))
	put(t, b, "scratch/b.tmp", []byte("x"))
	b.DeleteObject("scratch/a.tmp")
	b.DeleteObjects([]string{"scratch/b.tmp", "scratch/never.tmp"})
	calls = rec.waitFor(t, "removal events", func(c []invocation) bool {
		return len(callsTo(c, "cleanup", "scratch/a.tmp")) == 1 && len(callsTo(c, "cleanup", "scratch/b.tmp")) == 1
	})
	del := callsTo(calls, "cleanup", "scratch/a.tmp")[0]
	if *del.EventName != "ObjectRemoved:DeleteObject" || *del.Oss.Object.DeltaSize != -5 {
		t.Fatalf("delete event %s delta %d", *del.EventName, *del.Oss.Object.DeltaSize)
	}
	if got := *callsTo(calls, "cleanup", "scratch/b.tmp")[0].EventName; got != "ObjectRemoved:DeleteObjects" {
		t.Fatalf("batch delete event %s", got)
	}
	if len(callsTo(calls, "cleanup", "scratch/never.tmp")) != 0 {
		t.Fatal("deleting a missing key fired an event")
	}

	// PostObject.
	f := form{{"key", "uploads/v3/source"}, {"x-oss-object-acl", "private"}}
	tg := &target{ak: testAK, secret: testSecret, region: "cn-hangzhou"}
	f = append(tg.v1Form(t, time.Now().Add(time.Minute), []any{"starts-with", "$key", "uploads/"}), f...)
	req := postRequest(t, "http://oss.local/media", f, "v.mp4", []byte("posted"))
	resp, err := e.emu.HTTPClient().Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("PostObject in-process: %v %v", resp, err)
	}
	resp.Body.Close()
	calls = rec.waitFor(t, "PostObject event", func(c []invocation) bool { return len(callsTo(c, "transcode", "uploads/v3/source")) == 1 })
	if got := *callsTo(calls, "transcode", "uploads/v3/source")[0].EventName; got != "ObjectCreated:PostObject" {
		t.Fatalf("post event %s", got)
	}
	// Nothing but the above fired.
	for _, c := range calls {
		var ev events.OssEvent
		json.Unmarshal(c.Payload, &ev)
		k := *ev.Events[0].Oss.Object.Key
		if strings.HasPrefix(k, "other/") || k == "images/a.png" || k == "uploads/copied.mp4" || k == "uploads-not-a-dir.mp4" {
			t.Fatalf("unexpected event %s for %s", *ev.Events[0].EventName, k)
		}
	}
}

func postRequest(t *testing.T, url string, f form, filename string, content []byte) *http.Request {
	t.Helper()
	var body bytes.Buffer
	w := multipartWriter(&body, f, filename, content)
	req, _ := http.NewRequest("POST", url, &body)
	req.Header.Set("Content-Type", w)
	return req
}

func TestEventsInOrderPerKeyAndNeverBlockUploads(t *testing.T) {
	inv := &gate{release: make(chan struct{}), got: make(chan string, 100)}
	e := openEventEmu(t, t.TempDir(), inv)
	defer e.emu.Close()
	// The function is stuck: uploads still answer at once.
	var etags []string
	for i := range 20 {
		data := []byte{byte(i)}
		put(t, e.b, "uploads/same", data)
		etags = append(etags, md5hex(data))
	}
	if n := e.emu.PendingEvents(); n != 20 {
		t.Fatalf("pending %d, want 20", n)
	}
	close(inv.release)
	for i, want := range etags {
		select {
		case got := <-inv.got:
			if got != want {
				t.Fatalf("event %d for ETag %s, want %s (out of order)", i, got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("event %d never delivered", i)
		}
	}
}

// gate is an Invoker that blocks until released, then reports ETags in delivery order.
type gate struct {
	release chan struct{}
	got     chan string
}

func (g *gate) InvokeAsync(ctx context.Context, function, trigger string, payload []byte) error {
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	var ev events.OssEvent
	json.Unmarshal(payload, &ev)
	g.got <- *ev.Events[0].Oss.Object.ETag
	return nil
}

func TestEventsRetriedAndKeptAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	rec := newRecorder()
	rec.fail.Store(2) // the invoker refuses twice, then accepts
	e := openEventEmu(t, dir, rec)
	put(t, e.b, "uploads/retry", []byte("r"))
	rec.waitFor(t, "retried event", func(c []invocation) bool { return len(callsTo(c, "transcode", "uploads/retry")) == 1 })
	e.emu.Close()

	// No invoker yet (fcemu not started): events wait on disk, through a restart.
	e = openEventEmu(t, dir, nil)
	put(t, e.b, "uploads/a", []byte("a"))
	put(t, e.b, "uploads/b", []byte("b"))
	if n := e.emu.PendingEvents(); n != 2 {
		t.Fatalf("pending %d", n)
	}
	e.emu.Close()
	rec2 := newRecorder()
	e = openEventEmu(t, dir, nil)
	defer e.emu.Close()
	if n := e.emu.PendingEvents(); n != 2 {
		t.Fatalf("pending after restart %d", n)
	}
	e.emu.SetInvoker(rec2)
	calls := rec2.waitFor(t, "events recorded before the restart", func(c []invocation) bool { return len(c) == 2 })
	if len(callsTo(calls, "transcode", "uploads/a")) != 1 || len(callsTo(calls, "transcode", "uploads/b")) != 1 {
		t.Fatalf("redelivered %d calls", len(calls))
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.emu.PendingEvents() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.emu.PendingEvents(); n != 0 {
		t.Fatalf("still pending %d", n)
	}
}

func TestTriggerValidation(t *testing.T) {
	for _, bad := range []ossemu.Trigger{
		{Function: "f", Name: "t", Bucket: "media", Events: nil},
		{Function: "f", Name: "t", Bucket: "media", Events: []string{"ObjectCreated:*"}},
		{Function: "f", Name: "t", Bucket: "Bad_Bucket", Events: []string{"oss:ObjectCreated:*"}},
		{Function: "", Name: "t", Bucket: "media", Events: []string{"oss:ObjectCreated:*"}},
		{Function: "f", Name: "t", Bucket: "media", Events: []string{"oss:ObjectCreated:["}},
	} {
		_, err := ossemu.Open(ossemu.Options{AccessKeyID: "a", AccessKeySecret: "b", DataDir: t.TempDir(), Triggers: []ossemu.Trigger{bad}})
		if err == nil {
			t.Fatalf("trigger %+v accepted", bad)
		}
	}
}
