package oss_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vodfc.dev/local/ossemu"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
)

// The store is tested with the real SDK against the OSS emulator over loopback (presigned
// URLs must work for plain HTTP clients), with both signature versions.

type fixture struct {
	store *oss.Store
	emu   *ossemu.Server
	mu    sync.Mutex
	now   time.Time
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func newFixture(t *testing.T, sigVersion string) *fixture {
	t.Helper()
	f := &fixture{now: time.Now()}
	emu, err := ossemu.Open(ossemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", DataDir: t.TempDir(),
		Buckets: []string{"media"}, Now: f.clock, RestoreDelay: time.Hour, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: emu}
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	store, err := oss.New(oss.Config{Endpoint: "http://" + ln.Addr().String(), Bucket: "media", Region: "cn-hangzhou",
		SignatureVersion: sigVersion,
		Credentials: func() (runtime.Credentials, bool) {
			return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	f.store, f.emu = store, emu
	return f
}

func TestObjectsAndPresignedURLs(t *testing.T) {
	for _, v := range []string{"v4", "v1"} {
		t.Run(v, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, v)
			s := f.store
			key := "uploads/视频 a+b%/source"
			put, err := s.PresignPut(key, "video/mp4", 10*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			// A browser PUT with the declared content type succeeds; another type is refused.
			if code := httpDo(t, "PUT", put.URL, "video/quicktime", []byte("nope")); code != 403 {
				t.Fatalf("PUT with another content type: %d", code)
			}
			if code := httpDo(t, "PUT", put.URL, put.Headers["Content-Type"], []byte("hello video")); code != 403 {
				t.Fatalf("PUT without the signed x-oss-forbid-overwrite: %d", code)
			}
			if code := httpPut(t, put, []byte("hello video")); code != 200 {
				t.Fatalf("presigned PUT: %d", code)
			}
			// The URL uploads once: a second PUT cannot replace what the first stored.
			if code := httpPut(t, put, []byte("other bytes")); code != 409 {
				t.Fatalf("second presigned PUT: %d", code)
			}
			o, err := s.Head(ctx, key)
			if err != nil || o.Size != 11 || o.ContentType != "video/mp4" || o.Class != oss.Standard || o.ETag == "" {
				t.Fatalf("Head: %+v %v", o, err)
			}
			get, _ := s.PresignGet(key, time.Minute)
			if code := httpDo(t, "GET", get.URL, "", nil); code != 200 {
				t.Fatalf("presigned GET: %d", code)
			}
			if code := httpDo(t, "GET", strings.Replace(get.URL, "source", "sourcf", 1), "", nil); code != 403 && code != 404 {
				t.Fatalf("presigned GET of another key: %d", code)
			}
			path := filepath.Join(t.TempDir(), "src")
			if err := s.GetToFile(ctx, key, path); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(path); string(b) != "hello video" {
				t.Fatalf("downloaded %q", b)
			}
			if err := s.Put(ctx, "media/x/1/cover.jpg", strings.NewReader("jpg"), oss.PutOptions{ContentType: "image/jpeg", Meta: map[string]string{"attempt": "1"}}); err != nil {
				t.Fatal(err)
			}
			if o, _ := s.Head(ctx, "media/x/1/cover.jpg"); o.Meta["attempt"] != "1" {
				t.Fatalf("meta lost: %+v", o.Meta)
			}
			if _, err := s.Head(ctx, "media/none"); !oss.IsNotFound(err) {
				t.Fatalf("Head of a missing key: %v", err)
			}
			if ok, err := s.Exists(ctx, key); !ok || err != nil {
				t.Fatalf("Exists: %v %v", ok, err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatalf("deleting twice: %v", err)
			}
		})
	}
}

func TestMultipartResumeAndComplete(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, "v4").store
	key := "uploads/v1/source"
	id, err := s.StartMultipart(ctx, key, "video/mp4")
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 100<<10)
	rand.Read(part)
	var parts []oss.Part
	for n := 1; n <= 2; n++ {
		u, err := s.PresignPart(key, id, n, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		etag := httpPutETag(t, u.URL, part)
		parts = append(parts, oss.Part{Number: n, ETag: etag})
	}
	// The client lost its state: ListParts tells what is there.
	listed, err := s.ListParts(ctx, key, id)
	if err != nil || len(listed) != 2 || listed[1].ETag != strings.Trim(parts[1].ETag, `"`) || listed[0].Size != int64(len(part)) {
		t.Fatalf("ListParts: %+v %v", listed, err)
	}
	u, _ := s.PresignPart(key, id, 3, time.Minute)
	parts = append(parts, oss.Part{Number: 3, ETag: httpPutETag(t, u.URL, []byte("tail"))})
	var uploads []oss.Upload
	s.ListUploads(ctx, "uploads/", func(u oss.Upload) error { uploads = append(uploads, u); return nil })
	if len(uploads) != 1 || uploads[0].ID != id {
		t.Fatalf("ListUploads: %+v", uploads)
	}
	etag, err := s.CompleteMultipart(ctx, key, id, parts)
	if err != nil || !strings.HasSuffix(etag, "-3") {
		t.Fatalf("Complete: %q %v", etag, err)
	}
	if o, _ := s.Head(ctx, key); o.Size != int64(2*len(part)+4) {
		t.Fatalf("assembled size %d", o.Size)
	}
	if err := s.AbortMultipart(ctx, key, id); err != nil {
		t.Fatalf("aborting a finished upload: %v", err)
	}
}

func TestClassesRestoreListAndDeletePrefix(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "v4")
	s := f.store
	for _, k := range []string{"media/v/a/1.mp4", "media/v/a/2.mp4", "media/v/b/1.mp4", "media/w/1.mp4"} {
		if err := s.Put(ctx, k, bytes.NewReader(make([]byte, 1000)), oss.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := s.Head(ctx, "media/v/a/1.mp4")
	f.advance(40 * 24 * time.Hour)
	if err := s.SetClass(ctx, "media/v/a/1.mp4", oss.Archive); err != nil {
		t.Fatal(err)
	}
	o, _ := s.Head(ctx, "media/v/a/1.mp4")
	if o.Class != oss.Archive || !o.LastModified.After(before.LastModified) || o.Readable() {
		t.Fatalf("after SetClass: %+v", o)
	}
	if _, err := s.ReadAll(ctx, "media/v/a/1.mp4"); err == nil {
		t.Fatal("an unrestored Archive object was readable")
	}
	if st, err := s.StartRestore(ctx, "media/v/a/1.mp4", 1); err != nil || st != oss.RestoreRequested {
		t.Fatalf("StartRestore: %v %v", st, err)
	}
	if st, err := s.StartRestore(ctx, "media/v/a/1.mp4", 1); err != nil || st != oss.RestoreOngoing {
		t.Fatalf("second StartRestore: %v %v", st, err)
	}
	if o, _ := s.Head(ctx, "media/v/a/1.mp4"); !o.Restore.Requested || !o.Restore.Ongoing {
		t.Fatalf("restore state while ongoing: %+v", o.Restore)
	}
	f.advance(2 * time.Hour)
	o, _ = s.Head(ctx, "media/v/a/1.mp4")
	if !o.Readable() {
		t.Fatalf("restored object not readable: %+v", o.Restore)
	}
	if st, err := s.StartRestore(ctx, "media/v/a/1.mp4", 1); err != nil || st != oss.RestoreDone {
		t.Fatalf("restore of a restored object: %v %v", st, err)
	}
	var classes []string
	s.List(ctx, "media/v/", func(o oss.Object) error { classes = append(classes, o.Key+"="+o.Class); return nil })
	if len(classes) != 3 || classes[0] != "media/v/a/1.mp4=Archive" {
		t.Fatalf("List: %v", classes)
	}
	if _, err := s.DeletePrefix(ctx, "media/v"); err == nil {
		t.Fatal("a prefix without a trailing slash must be refused")
	}
	n, err := s.DeletePrefix(ctx, "media/v/")
	if err != nil || n != 3 {
		t.Fatalf("DeletePrefix: %d %v", n, err)
	}
	if ok, _ := s.Exists(ctx, "media/w/1.mp4"); !ok {
		t.Fatal("DeletePrefix removed a neighbour")
	}
}

func httpDo(t *testing.T, method, url, ctype string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// httpPut sends body to a presigned PUT with exactly the headers it was signed with.
func httpPut(t *testing.T, p oss.Presigned, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest("PUT", p.URL, bytes.NewReader(body))
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func httpPutETag(t *testing.T, url string, body []byte) string {
	t.Helper()
	req, _ := http.NewRequest("PUT", url, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("part PUT: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	return resp.Header.Get("ETag")
}
