package ossemu_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// oddKeys are names that break naive encoders: spaces, '+', '%', CJK, deep paths, dots.
var oddKeys = []string{
	"plain.txt",
	"with space/a b.mp4",
	"plus+sign/a+b=c&d.ts",
	"percent%2F/100%25 real.m3u8",
	"中文目录/视频 文件.mp4",
	"deep/a/b/c/d/e/f/g/h/i/j/k.bin",
	"dots/../not-a-parent/./x",
	"tilde~star*paren(1)!'quote",
}

func authVersions() map[string][]oss.ClientOption {
	return map[string][]oss.ClientOption{"v1": nil, "v2": {v2()}, "v4": {v4()}}
}

func TestObjectRoundTripOddKeys(t *testing.T) {
	tg := tgt(t)
	for name, opts := range authVersions() {
		t.Run(name, func(t *testing.T) {
			b := tg.bkt(t, opts...)
			for i, k := range oddKeys {
				key := tg.key("odd-" + name + "/" + k)
				data := []byte(strings.Repeat(k, i+1))
				put(t, b, key, data, oss.Meta("uploader", "u-"+name), oss.ContentType("video/mp4"))
				if got := getAll(t, b, key); !bytes.Equal(got, data) {
					t.Fatalf("%q: got %q", key, got)
				}
				h, err := b.GetObjectDetailedMeta(key)
				if err != nil {
					t.Fatalf("HEAD %q: %v", key, err)
				}
				if h.Get("X-Oss-Meta-Uploader") != "u-"+name || h.Get("Content-Type") != "video/mp4" ||
					h.Get("Content-Length") != strconv.Itoa(len(data)) || h.Get("X-Oss-Storage-Class") != "Standard" {
					t.Fatalf("HEAD %q headers: %v", key, h)
				}
				if h.Get("ETag") != `"`+md5hex(data)+`"` {
					t.Fatalf("ETag %s, want MD5 %s", h.Get("ETag"), md5hex(data))
				}
				if want := strconv.FormatUint(crc64.Checksum(data, crc64.MakeTable(crc64.ECMA)), 10); h.Get("X-Oss-Hash-Crc64ecma") != want {
					t.Fatalf("CRC64 %s, want %s", h.Get("X-Oss-Hash-Crc64ecma"), want)
				}
				if ok, err := b.IsObjectExist(key); !ok || err != nil {
					t.Fatalf("IsObjectExist %q = %v, %v", key, ok, err)
				}
			}
			// Listing hands every odd key back unchanged (the SDK asks for encoding-type=url).
			res, err := b.ListObjectsV2(oss.Prefix(tg.key("odd-"+name+"/")), oss.MaxKeys(1000))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, o := range res.Objects {
				got[o.Key] = true
			}
			for _, k := range oddKeys {
				if !got[tg.key("odd-"+name+"/"+k)] {
					t.Fatalf("listing lacks %q; got %v", k, got)
				}
			}
			for _, k := range oddKeys {
				if err := b.DeleteObject(tg.key("odd-" + name + "/" + k)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestGetRangeConditionsAndOverrides(t *testing.T) {
	tg := tgt(t)
	b := tg.bkt(t)
	key := tg.key("range/clip.ts")
	data := randBytes(100_000)
	put(t, b, key, data)

	if got := getAll(t, b, key, oss.Range(10, 19)); !bytes.Equal(got, data[10:20]) {
		t.Fatalf("range 10-19 wrong")
	}
	if got := getAll(t, b, key, oss.NormalizedRange("99990-")); !bytes.Equal(got, data[99990:]) {
		t.Fatalf("open range wrong")
	}
	if got := getAll(t, b, key, oss.NormalizedRange("-5")); !bytes.Equal(got, data[len(data)-5:]) {
		t.Fatalf("suffix range wrong")
	}
	// OSS serves the whole object for a range that starts past the end, unless asked to be standard.
	if got := getAll(t, b, key, oss.Range(200_000, 300_000)); !bytes.Equal(got, data) {
		t.Fatalf("out-of-range start should return the whole object, got %d bytes", len(got))
	}
	_, err := b.GetObject(key, oss.Range(200_000, 300_000), oss.RangeBehavior("standard"))
	svcErr(t, err, 416, "InvalidRange")
	if err := b.GetObjectToFile(key, t.TempDir()+"/f"); err != nil { // the SDK checks the CRC64 here
		t.Fatal(err)
	}

	h, _ := b.GetObjectDetailedMeta(key)
	etag := h.Get("ETag")
	_, err = b.GetObject(key, oss.IfMatch(`"0000"`))
	svcErr(t, err, 412, "PreconditionFailed")
	getAll(t, b, key, oss.IfMatch(etag))
	_, err = b.GetObject(key, oss.IfNoneMatch(etag))
	if se, ok := err.(oss.ServiceError); !ok || se.StatusCode != 304 {
		if err == nil || !strings.Contains(err.Error(), "304") {
			t.Fatalf("If-None-Match same ETag: want 304, got %v", err)
		}
	}
	getAll(t, b, key, oss.IfNoneMatch(`"0000"`))
	lm, _ := http.ParseTime(h.Get("Last-Modified"))
	_, err = b.GetObject(key, oss.IfModifiedSince(lm.Add(time.Hour)))
	if err == nil || !strings.Contains(err.Error(), "304") {
		t.Fatalf("If-Modified-Since future: want 304, got %v", err)
	}
	getAll(t, b, key, oss.IfModifiedSince(lm.Add(-time.Hour)))
	_, err = b.GetObject(key, oss.IfUnmodifiedSince(lm.Add(-time.Hour)))
	svcErr(t, err, 412, "PreconditionFailed")

	var rh http.Header
	rc, err := b.GetObject(key, oss.ResponseContentType("text/plain"), oss.ResponseContentDisposition(`attachment; filename="x.ts"`),
		oss.ResponseCacheControl("no-store"), oss.GetResponseHeader(&rh))
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if rh.Get("Content-Type") != "text/plain" || rh.Get("Content-Disposition") != `attachment; filename="x.ts"` || rh.Get("Cache-Control") != "no-store" {
		t.Fatalf("response-* overrides not applied: %v", rh)
	}
}

func TestHeadMetaDeleteAndErrors(t *testing.T) {
	tg := tgt(t)
	b := tg.bkt(t)
	key := tg.key("meta/a.bin")
	data := randBytes(1234)
	put(t, b, key, data, oss.Meta("Answer", "42"), oss.CacheControl("max-age=60"), oss.ContentDisposition("inline"))
	h, err := b.GetObjectMeta(key)
	if err != nil || h.Get("Content-Length") != "1234" || h.Get("ETag") == "" || h.Get("Last-Modified") == "" {
		t.Fatalf("GetObjectMeta: %v %v", h, err)
	}
	h, err = b.GetObjectDetailedMeta(key)
	if err != nil || h.Get("X-Oss-Meta-Answer") != "42" || h.Get("Cache-Control") != "max-age=60" || h.Get("Content-Disposition") != "inline" {
		t.Fatalf("HEAD: %v %v", h, err)
	}
	if h.Get("X-Oss-Request-Id") == "" {
		t.Fatal("no request id on HEAD")
	}

	// Errors: XML for GET, the x-oss-err header for HEAD (the SDK decodes both).
	_, err = b.GetObject(tg.key("meta/missing"))
	svcErr(t, err, 404, "NoSuchKey")
	_, err = b.GetObjectDetailedMeta(tg.key("meta/missing"))
	svcErr(t, err, 404, "NoSuchKey")
	nb, _ := tg.client(t).Bucket("no-such-bucket-" + strings.ToLower(randHex(4)))
	_, err = nb.GetObject("x")
	svcErr(t, err, 404, "NoSuchBucket")

	// Content-MD5 is verified.
	sum := md5.Sum([]byte("other bytes"))
	err = b.PutObject(tg.key("meta/bad-md5"), bytes.NewReader(data), oss.ContentMD5(base64.StdEncoding.EncodeToString(sum[:])))
	svcErr(t, err, 400, "InvalidDigest")
	if ok, _ := b.IsObjectExist(tg.key("meta/bad-md5")); ok {
		t.Fatal("an upload with a wrong Content-MD5 was stored")
	}
	good := md5.Sum(data)
	if err := b.PutObject(tg.key("meta/good-md5"), bytes.NewReader(data), oss.ContentMD5(base64.StdEncoding.EncodeToString(good[:]))); err != nil {
		t.Fatal(err)
	}

	// x-oss-forbid-overwrite.
	err = b.PutObject(key, bytes.NewReader([]byte("x")), oss.ForbidOverWrite(true))
	svcErr(t, err, 409, "FileAlreadyExists")

	if err := b.DeleteObject(key); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteObject(key); err != nil { // deleting a missing key is 204 too
		t.Fatal(err)
	}
	_, err = b.GetObject(key)
	svcErr(t, err, 404, "NoSuchKey")
}

func TestDeleteMultipleObjects(t *testing.T) {
	tg := tgt(t)
	b := tg.bkt(t)
	var keys []string
	for _, k := range oddKeys {
		key := tg.key("multidel/" + k)
		put(t, b, key, []byte(k))
		keys = append(keys, key)
	}
	res, err := b.DeleteObjects(keys[:4])
	if err != nil {
		t.Fatal(err)
	}
	if len(res.DeletedObjects) != 4 {
		t.Fatalf("verbose delete reported %v", res.DeletedObjects)
	}
	for i, k := range res.DeletedObjects {
		if k != keys[i] {
			t.Fatalf("deleted key %q, want %q", k, keys[i])
		}
	}
	res, err = b.DeleteObjects(append(keys[4:], tg.key("multidel/never-existed")), oss.DeleteObjectsQuiet(true))
	if err != nil || len(res.DeletedObjects) != 0 {
		t.Fatalf("quiet delete: %v %v", res, err)
	}
	lr, err := b.ListObjects(oss.Prefix(tg.key("multidel/")))
	if err != nil || len(lr.Objects) != 0 {
		t.Fatalf("left after delete: %v %v", lr.Objects, err)
	}
}

func TestCopyObject(t *testing.T) {
	tg := tgt(t)
	b := tg.bkt(t)
	src := tg.key("copy/src 源.mp4")
	data := randBytes(70_000)
	put(t, b, src, data, oss.Meta("a", "1"), oss.ContentType("video/mp4"))
	srcHead, _ := b.GetObjectDetailedMeta(src)

	dst := tg.key("copy/dst+1.mp4")
	if _, err := b.CopyObject(src, dst); err != nil {
		t.Fatal(err)
	}
	h, _ := b.GetObjectDetailedMeta(dst)
	if h.Get("X-Oss-Meta-A") != "1" || h.Get("Content-Type") != "video/mp4" || h.Get("ETag") != srcHead.Get("ETag") {
		t.Fatalf("COPY directive lost metadata: %v", h)
	}
	if !bytes.Equal(getAll(t, b, dst), data) {
		t.Fatal("copy has other bytes")
	}
	dst2 := tg.key("copy/dst2.mp4")
	if _, err := b.CopyObject(src, dst2, oss.MetadataDirective(oss.MetaReplace), oss.Meta("b", "2"), oss.ContentType("application/x-test")); err != nil {
		t.Fatal(err)
	}
	h, _ = b.GetObjectDetailedMeta(dst2)
	if h.Get("X-Oss-Meta-A") != "" || h.Get("X-Oss-Meta-B") != "2" || h.Get("Content-Type") != "application/x-test" {
		t.Fatalf("REPLACE directive: %v", h)
	}
	// Overwriting the source leaves the copy intact (copies share nothing visible).
	put(t, b, src, []byte("new"))
	if !bytes.Equal(getAll(t, b, dst), data) {
		t.Fatal("copy changed when its source was overwritten")
	}
	_, err := b.CopyObject(tg.key("copy/missing"), dst)
	svcErr(t, err, 404, "NoSuchKey")

	// A self-copy changes the storage class and resets LastModified.
	if !tg.real {
		tg.sim.shift(t, time.Hour)
	} else {
		time.Sleep(1100 * time.Millisecond)
	}
	if _, err := b.CopyObject(dst, dst, oss.ObjectStorageClass(oss.StorageIA)); err != nil {
		t.Fatal(err)
	}
	h2, _ := b.GetObjectDetailedMeta(dst)
	if h2.Get("X-Oss-Storage-Class") != "IA" {
		t.Fatalf("class after self-copy: %s", h2.Get("X-Oss-Storage-Class"))
	}
	t1, _ := http.ParseTime(h.Get("Last-Modified"))
	t2, _ := http.ParseTime(h2.Get("Last-Modified"))
	if !t2.After(t1) {
		t.Fatalf("LastModified not reset by the class change: %v then %v", t1, t2)
	}
	if !bytes.Equal(getAll(t, b, dst), data) {
		t.Fatal("bytes changed by a class change")
	}
}

func TestAppendObject(t *testing.T) {
	tg := tgt(t)
	b := tg.bkt(t)
	key := tg.key("append/log 日志.txt")
	b.DeleteObject(key) // a previous -count run left it
	var all []byte
	var pos int64
	var crc uint64
	for i := range 5 {
		chunk := randBytes(1000 + i*37)
		var rh http.Header
		next, err := b.AppendObject(key, bytes.NewReader(chunk), pos, oss.InitCRC(crc), oss.GetResponseHeader(&rh))
		if err != nil { // with InitCRC the SDK checks the combined CRC64 the server reports
			t.Fatalf("append %d: %v", i, err)
		}
		all = append(all, chunk...)
		pos = next
		crc, _ = strconv.ParseUint(rh.Get("X-Oss-Hash-Crc64ecma"), 10, 64)
		if next != int64(len(all)) {
			t.Fatalf("next position %d, want %d", next, len(all))
		}
	}
	if !bytes.Equal(getAll(t, b, key), all) {
		t.Fatal("appended object has other bytes")
	}
	h, _ := b.GetObjectDetailedMeta(key)
	if h.Get("X-Oss-Object-Type") != "Appendable" || h.Get("X-Oss-Next-Append-Position") != strconv.Itoa(len(all)) {
		t.Fatalf("appendable headers: %v", h)
	}
	_, err := b.AppendObject(key, strings.NewReader("x"), 3)
	se := svcErr(t, err, 409, "PositionNotEqualToLength")
	_ = se
	plain := tg.key("append/normal")
	put(t, b, plain, []byte("normal"))
	_, err = b.AppendObject(plain, strings.NewReader("x"), 6)
	svcErr(t, err, 409, "ObjectNotAppendable")
}

func TestPutStreamsWithoutContentLength(t *testing.T) {
	tg := tgt(t)
	b := tg.bkt(t)
	key := tg.key("chunked/no-length.bin")
	data := randBytes(300_000)
	// An io.Reader of unknown length goes out with chunked transfer encoding.
	if err := b.PutObject(key, io.MultiReader(bytes.NewReader(data[:1000]), bytes.NewReader(data[1000:]))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(getAll(t, b, key), data) {
		t.Fatal("chunked upload stored other bytes")
	}
}
