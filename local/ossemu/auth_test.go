package ossemu_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func TestWrongSecretRejected(t *testing.T) {
	tg := tgt(t)
	for name, opts := range authVersions() {
		t.Run(name, func(t *testing.T) {
			c, err := oss.New(tg.endpoint, tg.ak, "wrong-secret", append([]oss.ClientOption{oss.Region(tg.region)}, opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := c.Bucket(tg.bucket)
			err = b.PutObject(tg.key("auth/nope"), strings.NewReader("x"))
			svcErr(t, err, 403, "SignatureDoesNotMatch")
			_, err = b.GetObject(tg.key("auth/nope"))
			svcErr(t, err, 403, "SignatureDoesNotMatch")
			_, err = b.GetObjectDetailedMeta(tg.key("auth/nope")) // HEAD: error in x-oss-err
			svcErr(t, err, 403, "SignatureDoesNotMatch")

			c, _ = oss.New(tg.endpoint, "unknown-key-id", tg.secret, append([]oss.ClientOption{oss.Region(tg.region)}, opts...)...)
			b, _ = c.Bucket(tg.bucket)
			_, err = b.GetObject(tg.key("auth/nope"))
			svcErr(t, err, 403, "InvalidAccessKeyId")
		})
	}
}

func TestV4WrongRegionRejected(t *testing.T) {
	tg := tgt(t)
	b := tg.bkt(t, v4(), oss.Region("cn-beijing"))
	err := b.PutObject(tg.key("auth/region"), strings.NewReader("x"))
	if err == nil {
		t.Fatal("a V4 signature scoped to another region was accepted")
	}
}

func TestPresignedURLs(t *testing.T) {
	tg := tgt(t)
	for name, opts := range authVersions() {
		t.Run(name, func(t *testing.T) {
			b := tg.bkt(t, opts...)
			key := tg.key("presign-" + name + "/视频 a+b%.m3u8")
			data := randBytes(5000)

			// A presigned PUT used by a plain HTTP client, as a browser would, with the type it was signed for.
			putURL, err := b.SignURL(key, oss.HTTPPut, 300, oss.ContentType("application/x-mpegURL"))
			if err != nil {
				t.Fatal(err)
			}
			st, _, body := httpDo(t, "PUT", putURL, bytes.NewReader(data), http.Header{"Content-Type": {"application/x-mpegURL"}})
			if st != 200 {
				t.Fatalf("presigned PUT: %d %s", st, body)
			}
			// The same URL with another Content-Type is another request: rejected.
			st, _, body = httpDo(t, "PUT", putURL, bytes.NewReader(data), http.Header{"Content-Type": {"text/html"}})
			if st != 403 || !strings.Contains(string(body), "SignatureDoesNotMatch") {
				t.Fatalf("PUT with another Content-Type: %d %s", st, body)
			}

			getURL, err := b.SignURL(key, oss.HTTPGet, 300)
			if err != nil {
				t.Fatal(err)
			}
			st, h, body := httpDo(t, "GET", getURL, nil, nil)
			if st != 200 || !bytes.Equal(body, data) {
				t.Fatalf("presigned GET: %d (%d bytes)", st, len(body))
			}
			if h.Get("X-Oss-Request-Id") == "" {
				t.Fatal("no request id")
			}
			// ffmpeg reads HLS byte ranges through such URLs.
			st, h, body = httpDo(t, "GET", getURL, nil, http.Header{"Range": {"bytes=100-199"}})
			if st != 206 || !bytes.Equal(body, data[100:200]) || h.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(data)) {
				t.Fatalf("presigned ranged GET: %d %v", st, h)
			}
			// The SDK's own helpers for signed URLs.
			rc, err := b.GetObjectWithURL(getURL)
			if err != nil {
				t.Fatal(err)
			}
			rc.Close()

			// Tampering with any part of the URL is caught.
			u, _ := url.Parse(getURL)
			for _, tamper := range []func(*url.URL){
				func(u *url.URL) { u.Path += "x" },
				func(u *url.URL) {
					q := u.Query()
					for _, p := range []string{"Signature", "x-oss-signature"} {
						if v := q.Get(p); v != "" {
							first := "A"
							if v[0] == 'A' {
								first = "B"
							}
							q.Set(p, first+v[1:])
						}
					}
					u.RawQuery = q.Encode()
				},
				func(u *url.URL) {
					q := u.Query()
					for _, p := range []string{"Expires", "x-oss-expires"} {
						if v := q.Get(p); v != "" {
							q.Set(p, v+"0")
						}
					}
					u.RawQuery = q.Encode()
				},
				func(u *url.URL) { q := u.Query(); q.Set("response-content-type", "text/html"); u.RawQuery = q.Encode() },
			} {
				tu := *u
				tamper(&tu)
				st, _, body := httpDo(t, "GET", tu.String(), nil, nil)
				if st != 403 {
					t.Fatalf("tampered URL %s accepted: %d %s", tu.String(), st, body)
				}
			}
			// A signed GET URL does not authorise a DELETE.
			st, _, _ = httpDo(t, "DELETE", getURL, nil, nil)
			if st != 403 {
				t.Fatalf("GET URL used for DELETE: %d", st)
			}
		})
	}
}

func TestPresignedURLExpiry(t *testing.T) {
	tg := tgt(t)
	for name, opts := range authVersions() {
		t.Run(name, func(t *testing.T) {
			b := tg.bkt(t, opts...)
			key := tg.key("expiry/" + name)
			put(t, b, key, []byte("x"))
			getURL, err := b.SignURL(key, oss.HTTPGet, 60)
			if err != nil {
				t.Fatal(err)
			}
			if st, _, _ := httpDo(t, "GET", getURL, nil, nil); st != 200 {
				t.Fatalf("fresh URL: %d", st)
			}
			if tg.real {
				short, _ := b.SignURL(key, oss.HTTPGet, 1)
				time.Sleep(2500 * time.Millisecond)
				getURL = short
			} else {
				tg.wall.shift(t, 2*time.Minute)
			}
			st, _, body := httpDo(t, "GET", getURL, nil, nil)
			if st != 403 || !strings.Contains(string(body), "AccessDenied") || !strings.Contains(string(body), "expired") {
				t.Fatalf("expired URL: %d %s", st, body)
			}
		})
	}
}

func TestSimulationClockDoesNotExpireSignatures(t *testing.T) {
	tg := tgt(t)
	tg.needEmulator(t, "moves the simulation clock")
	b := tg.bkt(t)
	key := tg.key("simclock/x")
	put(t, b, key, []byte("x"))
	tg.sim.shift(t, 90*24*time.Hour) // a tiering simulation jumps three months ahead
	getURL, _ := b.SignURL(key, oss.HTTPGet, 60)
	if st, _, _ := httpDo(t, "GET", getURL, nil, nil); st != 200 {
		t.Fatalf("presigned URL rejected after the simulation clock moved: %d", st)
	}
	put(t, b, key, []byte("y")) // header-signed requests too
}

func TestHeaderClockSkewRejected(t *testing.T) {
	tg := tgt(t)
	tg.needEmulator(t, "moves the wall clock")
	b := tg.bkt(t)
	tg.wall.shift(t, time.Hour)
	_, err := b.GetObject(tg.key("skew"))
	svcErr(t, err, 403, "RequestTimeTooSkewed")
}

func TestAnonymousAccessFollowsACL(t *testing.T) {
	tg := tgt(t)
	b, name := tg.newBucket(t)
	put(t, b, "public/a.txt", []byte("hello"))
	base := tg.endpoint + "/" + name + "/"
	if st, _, body := httpDo(t, "GET", base+"public/a.txt", nil, nil); st != 403 || !strings.Contains(string(body), "AccessDenied") {
		t.Fatalf("anonymous GET on a private bucket: %d %s", st, body)
	}
	if st, _, _ := httpDo(t, "PUT", base+"public/b.txt", strings.NewReader("x"), nil); st != 403 {
		t.Fatalf("anonymous PUT on a private bucket: %d", st)
	}
	if st, _, _ := httpDo(t, "GET", base, nil, nil); st != 403 {
		t.Fatalf("anonymous listing on a private bucket: %d", st)
	}
	// One object made public.
	if err := b.SetObjectACL("public/a.txt", oss.ACLPublicRead); err != nil {
		t.Fatal(err)
	}
	if st, _, body := httpDo(t, "GET", base+"public/a.txt", nil, nil); st != 200 || string(body) != "hello" {
		t.Fatalf("anonymous GET of a public-read object: %d %s", st, body)
	}
	acl, err := b.GetObjectACL("public/a.txt")
	if err != nil || acl.ACL != "public-read" {
		t.Fatalf("GetObjectACL: %v %v", acl, err)
	}
	// The whole bucket public-read: reads and listings, but no writes.
	put(t, b, "public/c.txt", []byte("c"))
	c := tg.client(t)
	if err := c.SetBucketACL(name, oss.ACLPublicRead); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := httpDo(t, "GET", base+"public/c.txt", nil, nil); st != 200 {
		t.Fatalf("anonymous GET on public-read: %d", st)
	}
	if st, _, body := httpDo(t, "GET", base+"?prefix=public/", nil, nil); st != 200 || !strings.Contains(string(body), "c.txt") {
		t.Fatalf("anonymous listing on public-read: %d %s", st, body)
	}
	if st, _, _ := httpDo(t, "PUT", base+"public/d.txt", strings.NewReader("x"), nil); st != 403 {
		t.Fatalf("anonymous PUT on public-read: %d", st)
	}
	if st, _, _ := httpDo(t, "PUT", tg.endpoint+"/"+name+"?acl", nil, http.Header{"X-Oss-Acl": {"public-read-write"}}); st != 403 {
		t.Fatalf("anonymous PutBucketACL: %d", st)
	}
	if err := c.SetBucketACL(name, oss.ACLPublicReadWrite); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := httpDo(t, "PUT", base+"public/d.txt", strings.NewReader("x"), nil); st != 200 {
		t.Fatalf("anonymous PUT on public-read-write: %d", st)
	}
	res, err := c.GetBucketACL(name)
	if err != nil || res.ACL != "public-read-write" {
		t.Fatalf("GetBucketACL: %v %v", res, err)
	}
}

func TestMalformedRequests(t *testing.T) {
	tg := tgt(t)
	tg.needEmulator(t, "raw requests with bodies real OSS may meter")
	b := tg.bkt(t)
	// Bad Authorization header.
	st, _, body := httpDo(t, "GET", tg.endpoint+"/"+tg.bucket+"/x", nil, http.Header{"Authorization": {"Bearer abc"}})
	if st != 400 || !strings.Contains(string(body), "InvalidArgument") {
		t.Fatalf("bad Authorization: %d %s", st, body)
	}
	// An object name OSS refuses (starts with a backslash), presigned so only the name is wrong.
	u, _ := b.SignURL(`\bad`, oss.HTTPPut, 60)
	st, _, body = httpDo(t, "PUT", u, strings.NewReader("x"), nil)
	if st != 400 || !strings.Contains(string(body), "InvalidObjectName") {
		t.Fatalf("bad object name: %d %s", st, body)
	}
	// A declared size over 5 GB is refused before any byte is read.
	u, _ = b.SignURL(tg.key("huge"), oss.HTTPPut, 60)
	pu, _ := url.Parse(u)
	conn, err := net.Dial("tcp", pu.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", pu.RequestURI(), pu.Host, int64(6)<<30)
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, _ := conn.Read(buf)
	if !strings.Contains(string(buf[:n]), " 400 ") || !strings.Contains(string(buf[:n]), "EntityTooLarge") {
		t.Fatalf("6 GB PUT: %q", buf[:n])
	}
}
