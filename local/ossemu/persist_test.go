package ossemu_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"vodfc.dev/local/ossemu"
)

// inproc opens an emulator on dir and a client reaching it in-process.
func inproc(t *testing.T, dir string, now func() time.Time) (*ossemu.Server, *oss.Client) {
	t.Helper()
	emu, err := ossemu.Open(ossemu.Options{AccessKeyID: testAK, AccessKeySecret: testSecret, DataDir: dir,
		Buckets: []string{"keep"}, Now: now, NoSync: true, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := oss.New("http://oss.local", testAK, testSecret, oss.HTTPClient(emu.HTTPClient()), oss.ForcePathStyle(true))
	if err != nil {
		t.Fatal(err)
	}
	return emu, c
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	sim := &clock{}
	emu, c := inproc(t, dir, sim.Now)
	if err := c.CreateBucket("cfg", oss.StorageClass(oss.StorageIA), oss.ACL(oss.ACLPublicRead)); err != nil {
		t.Fatal(err)
	}
	rules := []oss.CORSRule{{AllowedOrigin: []string{"*"}, AllowedMethod: []string{"PUT"}, AllowedHeader: []string{"*"}, MaxAgeSeconds: 5}}
	if err := c.SetBucketCORS("cfg", rules); err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("keep")
	objects := map[string][]byte{}
	for i, k := range oddKeys {
		objects[k] = randBytes(100 + i*1000)
		put(t, b, k, objects[k], oss.Meta("n", strconv.Itoa(i)), oss.ObjectStorageClass(oss.StorageIA))
	}
	before := map[string]http.Header{}
	for k := range objects {
		before[k], _ = b.GetObjectDetailedMeta(k)
	}
	imur, _ := b.InitiateMultipartUpload("mp/resumed.bin", oss.Meta("m", "1"))
	p1 := randBytes(100 << 10)
	u1, err := b.UploadPart(imur, bytes.NewReader(p1), int64(len(p1)), 1)
	if err != nil {
		t.Fatal(err)
	}
	var rh http.Header
	next, err := b.AppendObject("log", bytes.NewReader([]byte("first ")), 0, oss.GetResponseHeader(&rh))
	if err != nil {
		t.Fatal(err)
	}
	crc, _ := strconv.ParseUint(rh.Get("X-Oss-Hash-Crc64ecma"), 10, 64)
	put(t, b, "cold", []byte("archived"), oss.ObjectStorageClass(oss.StorageArchive))
	sim.Advance(10 * 24 * time.Hour)
	if err := b.RestoreObject("cold"); err != nil {
		t.Fatal(err)
	}
	u0, _ := emu.Usage("keep")
	if err := emu.Close(); err != nil {
		t.Fatal(err)
	}

	emu, c = inproc(t, dir, sim.Now)
	defer emu.Close()
	b, _ = c.Bucket("keep")
	for k, data := range objects {
		if !bytes.Equal(getAll(t, b, k), data) {
			t.Fatalf("%q changed across the restart", k)
		}
		h, _ := b.GetObjectDetailedMeta(k)
		for _, name := range []string{"ETag", "Last-Modified", "X-Oss-Meta-N", "X-Oss-Storage-Class", "Content-Type", "X-Oss-Hash-Crc64ecma"} {
			if h.Get(name) != before[k].Get(name) {
				t.Fatalf("%q: %s %q became %q", k, name, before[k].Get(name), h.Get(name))
			}
		}
	}
	info, err := c.GetBucketInfo("cfg")
	if err != nil || info.BucketInfo.StorageClass != "IA" || info.BucketInfo.ACL != "public-read" {
		t.Fatalf("bucket config after restart: %+v %v", info.BucketInfo, err)
	}
	cors, err := c.GetBucketCORS("cfg")
	if err != nil || len(cors.CORSRules) != 1 || cors.CORSRules[0].MaxAgeSeconds != 5 {
		t.Fatalf("CORS after restart: %+v %v", cors, err)
	}
	// The multipart upload resumes.
	p2 := randBytes(10)
	u2, err := b.UploadPart(imur, bytes.NewReader(p2), int64(len(p2)), 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CompleteMultipartUpload(imur, []oss.UploadPart{u1, u2}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(getAll(t, b, "mp/resumed.bin"), append(p1, p2...)) {
		t.Fatal("resumed upload assembled other bytes")
	}
	if h, _ := b.GetObjectDetailedMeta("mp/resumed.bin"); h.Get("X-Oss-Meta-M") != "1" {
		t.Fatal("upload metadata lost across the restart")
	}
	// Appending continues where it stopped, CRC chained.
	if _, err := b.AppendObject("log", bytes.NewReader([]byte("second")), next, oss.InitCRC(crc)); err != nil {
		t.Fatal(err)
	}
	if got := getAll(t, b, "log"); string(got) != "first second" {
		t.Fatalf("appended across restart: %q", got)
	}
	// The restore keeps running on the clock.
	h, _ := b.GetObjectDetailedMeta("cold")
	if h.Get("X-Oss-Restore") != `ongoing-request="true"` {
		t.Fatalf("restore state after restart: %q", h.Get("X-Oss-Restore"))
	}
	sim.Advance(2 * time.Minute)
	if string(getAll(t, b, "cold")) != "archived" {
		t.Fatal("restore did not complete after the restart")
	}
	u1sage, _ := emu.Usage("keep")
	if u1sage.ByteHours["IA"] < u0.ByteHours["IA"] || u1sage.StoredBytes["IA"] != u0.StoredBytes["IA"] {
		t.Fatalf("usage across restart: before %v after %v", u0, u1sage)
	}
}

// TestConcurrentWritersReadersSeeWholeVersions overwrites one key from several goroutines
// while others read it: every read returns one whole version, never a mix or a torn one.
func TestConcurrentWritersReadersSeeWholeVersions(t *testing.T) {
	emu, c := inproc(t, t.TempDir(), nil)
	defer emu.Close()
	b, _ := c.Bucket("keep")
	version := func(v uint64) []byte {
		data := bytes.Repeat([]byte{byte(v)}, 50_000+int(v%7)*10_000)
		binary.BigEndian.PutUint64(data, v)
		return data
	}
	put(t, b, "hot", version(0))
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				v := uint64(w*1000 + i + 1)
				if err := b.PutObject("hot", bytes.NewReader(version(v))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 60 {
				rc, err := b.GetObject("hot")
				if err != nil {
					errs <- err
					return
				}
				var buf bytes.Buffer
				buf.ReadFrom(rc)
				rc.Close()
				got := buf.Bytes()
				if len(got) < 8 || !bytes.Equal(got, version(binary.BigEndian.Uint64(got))) {
					errs <- fmt.Errorf("torn read: %d bytes", len(got))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestVirtualHostedStyle: for a host-name endpoint the SDK puts the bucket in the host
// (bucket.host/key); browsers resolve bucket.localhost to loopback.
func TestVirtualHostedStyle(t *testing.T) {
	emu, _ := inproc(t, t.TempDir(), nil)
	defer emu.Close()
	for name, opts := range authVersions() {
		for _, endpoint := range []string{"http://oss.local", "http://localhost:9100"} {
			c, err := oss.New(endpoint, testAK, testSecret, append([]oss.ClientOption{oss.HTTPClient(emu.HTTPClient()), oss.Region("cn-hangzhou")}, opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := c.Bucket("keep")
			key := "vhost/" + name + "/a b+c.txt"
			var rh http.Header
			put(t, b, key, []byte(endpoint), oss.GetResponseHeader(&rh))
			if got := getAll(t, b, key); string(got) != endpoint {
				t.Fatalf("%s %s: got %q", name, endpoint, got)
			}
			res, err := b.ListObjectsV2(oss.Prefix("vhost/" + name + "/"))
			if err != nil || len(res.Objects) == 0 {
				t.Fatalf("%s %s listing: %v %v", name, endpoint, res, err)
			}
		}
	}
	// An unknown bucket under .localhost is NoSuchBucket, not a path-style guess.
	c, _ := oss.New("http://localhost:9100", testAK, testSecret, oss.HTTPClient(emu.HTTPClient()))
	b, _ := c.Bucket("nope-bucket")
	_, err := b.GetObject("x")
	svcErr(t, err, 404, "NoSuchBucket")
}

func TestDefaultCORSForStartupBuckets(t *testing.T) {
	emu, err := ossemu.Open(ossemu.Options{AccessKeyID: testAK, AccessKeySecret: testSecret, DataDir: t.TempDir(),
		Buckets: []string{"media"}, NoSync: true,
		CORS: []ossemu.CORSRule{{AllowedOrigin: []string{"http://localhost:5173"}, AllowedMethod: []string{"PUT", "POST"}, AllowedHeader: []string{"*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	req, _ := http.NewRequest("OPTIONS", "http://127.0.0.1:9100/media/uploads/x", nil)
	req.Header.Set("Origin", "http://localhost:5173")
	req.Header.Set("Access-Control-Request-Method", "PUT")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := emu.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" {
		t.Fatalf("preflight on a start-up bucket: %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := ossemu.Open(ossemu.Options{AccessKeyID: "a", AccessKeySecret: "b", DataDir: t.TempDir(),
		CORS: []ossemu.CORSRule{{AllowedOrigin: []string{"*"}, AllowedMethod: []string{"PATCH"}}}}); err == nil {
		t.Fatal("a CORS rule with PATCH was accepted")
	}
}
