package ossemu_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// form is an ordered PostObject form; the file goes last, as OSS requires.
type form [][2]string

func (f form) set(name, value string) form {
	for i := range f {
		if f[i][0] == name {
			f[i][1] = value
			return f
		}
	}
	return append(f, [2]string{name, value})
}

func postForm(t *testing.T, url string, f form, filename string, content []byte, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	var body bytes.Buffer
	h := http.Header{"Content-Type": {multipartWriter(&body, f, filename, content)}}
	for k, v := range header {
		h[k] = v
	}
	return httpDo(t, "POST", url, &body, h)
}

// multipartWriter writes the form into body and returns its Content-Type.
func multipartWriter(body *bytes.Buffer, f form, filename string, content []byte) string {
	w := multipart.NewWriter(body)
	for _, kv := range f {
		w.WriteField(kv[0], kv[1])
	}
	fw, _ := w.CreateFormFile("file", filename)
	fw.Write(content)
	w.WriteField("submit", "Upload to OSS") // fields after the file are ignored
	w.Close()
	return w.FormDataContentType()
}

func policyB64(t *testing.T, exp time.Time, conditions ...any) string {
	raw, err := json.Marshal(map[string]any{"expiration": exp.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": conditions})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// v1Form signs a policy the V1 way: base64(HMAC-SHA1(secret, policy)).
func (tg *target) v1Form(t *testing.T, exp time.Time, conditions ...any) form {
	p := policyB64(t, exp, conditions...)
	m := hmac.New(sha1.New, []byte(tg.secret))
	m.Write([]byte(p))
	return form{{"OSSAccessKeyId", tg.ak}, {"policy", p}, {"Signature", base64.StdEncoding.EncodeToString(m.Sum(nil))}}
}

// v4Form signs a policy the V4 way: hex(HMAC-SHA256(derived key, policy)); the policy pins
// the signing fields.
func (tg *target) v4Form(t *testing.T, exp time.Time, conditions ...any) form {
	return tg.v4Sign(t, exp, true, conditions...)
}

func (tg *target) v4Sign(t *testing.T, exp time.Time, pin bool, conditions ...any) form {
	now := time.Now().UTC()
	day, date := now.Format("20060102"), now.Format("20060102T150405Z")
	cred := tg.ak + "/" + day + "/" + tg.region + "/oss/aliyun_v4_request"
	if pin {
		conditions = append(conditions, map[string]string{"x-oss-signature-version": "OSS4-HMAC-SHA256"},
			map[string]string{"x-oss-credential": cred}, map[string]string{"x-oss-date": date})
	}
	p := policyB64(t, exp, conditions...)
	key := []byte("aliyun_v4" + tg.secret)
	for _, s := range []string{day, tg.region, "oss", "aliyun_v4_request"} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		key = m.Sum(nil)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(p))
	return form{{"x-oss-signature-version", "OSS4-HMAC-SHA256"}, {"x-oss-credential", cred}, {"x-oss-date", date},
		{"policy", p}, {"x-oss-signature", hex.EncodeToString(m.Sum(nil))}}
}

func TestPostObjectPolicies(t *testing.T) {
	tg := tgt(t)
	b := tg.bkt(t)
	url := tg.bucketURL()
	for _, version := range []string{"v1", "v4"} {
		t.Run(version, func(t *testing.T) {
			sign := tg.v1Form
			if version == "v4" {
				sign = tg.v4Form
			}
			key := tg.key("post-" + version + "/上传 a+b.mp4")
			exp := time.Now().Add(10 * time.Minute)
			conds := []any{map[string]string{"bucket": tg.bucket}, []any{"eq", "$key", key},
				[]any{"content-length-range", 1, 1000}, []any{"starts-with", "$Content-Type", "video/"}}
			fields := append(sign(t, exp, conds...), [2]string{"key", key}, [2]string{"Content-Type", "video/mp4"},
				[2]string{"x-oss-meta-owner", "u1"}, [2]string{"success_action_status", "201"})
			data := randBytes(500)

			st, h, body := postForm(t, url, fields, "clip.mp4", data, nil)
			if st != 201 {
				t.Fatalf("PostObject: %d %s", st, body)
			}
			var pr struct {
				Bucket, Key, ETag string
			}
			if err := xml.Unmarshal(body, &pr); err != nil || pr.Key != key || pr.ETag != `"`+md5hex(data)+`"` || h.Get("ETag") != pr.ETag {
				t.Fatalf("PostResponse %s (%v)", body, err)
			}
			if !bytes.Equal(getAll(t, b, key), data) {
				t.Fatal("posted object has other bytes")
			}
			hd, _ := b.GetObjectDetailedMeta(key)
			if hd.Get("Content-Type") != "video/mp4" || hd.Get("X-Oss-Meta-Owner") != "u1" {
				t.Fatalf("posted object headers: %v", hd)
			}

			// Default success status is 204.
			st, _, body = postForm(t, url, form(fields).set("success_action_status", ""), "clip.mp4", data, nil)
			if st != 204 {
				t.Fatalf("default status: %d %s", st, body)
			}
			reject := func(what string, f form, content []byte, status int, code string) {
				t.Helper()
				st, _, body := postForm(t, url, f, "clip.mp4", content, nil)
				if st != status || !strings.Contains(string(body), "<Code>"+code+"</Code>") {
					t.Fatalf("%s: %d %s, want %d %s", what, st, body, status, code)
				}
			}
			reject("too large", fields, randBytes(1001), 400, "EntityTooLarge")
			reject("empty", fields, nil, 400, "EntityTooSmall")
			reject("other key", form(fields).set("key", tg.key("post-"+version+"/elsewhere")), data, 403, "AccessDenied")
			reject("other type", form(fields).set("Content-Type", "text/html"), data, 403, "AccessDenied")
			expired := append(sign(t, time.Now().Add(-time.Minute), conds...), fields[len(fields)-4:]...)
			reject("expired policy", expired, data, 403, "AccessDenied")
			sigField := "Signature"
			if version == "v4" {
				sigField = "x-oss-signature"
			}
			tampered := form(append(form(nil), fields...))
			for i := range tampered {
				if tampered[i][0] == sigField {
					tampered[i][1] = strings.Repeat("0", len(tampered[i][1])-4) + "AAA="
				}
			}
			reject("tampered signature", tampered, data, 403, "SignatureDoesNotMatch")
			if ok, _ := b.IsObjectExist(tg.key("post-" + version + "/elsewhere")); ok {
				t.Fatal("a rejected form stored an object")
			}
		})
	}
}

func TestPostObjectFilenameAndAnonymous(t *testing.T) {
	tg := tgt(t)
	b, name := tg.newBucket(t)
	url := tg.endpoint + "/" + name + "/"
	f := append(tg.v1Form(t, time.Now().Add(time.Minute), []any{"starts-with", "$key", "in/"}), [2]string{"key", "in/${filename}"})
	if st, _, body := postForm(t, url, f, "我的 video.mp4", []byte("v"), nil); st != 204 {
		t.Fatalf("${filename}: %d %s", st, body)
	}
	if !bytes.Equal(getAll(t, b, "in/我的 video.mp4"), []byte("v")) {
		t.Fatal("${filename} not substituted")
	}
	h, _ := b.GetObjectDetailedMeta("in/我的 video.mp4")
	if h.Get("Content-Type") != "video/mp4" {
		t.Fatalf("type by extension: %s", h.Get("Content-Type"))
	}
	// Without a policy the form is anonymous: only a public-read-write bucket takes it.
	anon := form{{"key", "anon.txt"}}
	if st, _, _ := postForm(t, url, anon, "a.txt", []byte("a"), nil); st != 403 {
		t.Fatalf("anonymous POST to a private bucket: %d", st)
	}
	if err := tg.client(t).SetBucketACL(name, oss.ACLPublicReadWrite); err != nil {
		t.Fatal(err)
	}
	if st, _, body := postForm(t, url, anon, "a.txt", []byte("a"), nil); st != 204 {
		t.Fatalf("anonymous POST to a public-read-write bucket: %d %s", st, body)
	}
	// V4 policies must pin the signing fields.
	f4 := append(tg.v4Sign(t, time.Now().Add(time.Minute), false), [2]string{"key", "v4.txt"})
	if st, _, body := postForm(t, url, f4, "a.txt", []byte("a"), nil); st != 403 || !strings.Contains(string(body), "x-oss-") {
		t.Fatalf("V4 policy without the signing fields: %d %s", st, body)
	}
}

func TestCORS(t *testing.T) {
	tg := tgt(t)
	_, name := tg.newBucket(t)
	c := tg.client(t)
	_, err := c.GetBucketCORS(name)
	svcErr(t, err, 404, "NoSuchCORSConfiguration")
	rules := []oss.CORSRule{{
		AllowedOrigin: []string{"http://app.example:5173", "https://*.vodfc.dev"},
		AllowedMethod: []string{"GET", "PUT", "POST", "HEAD"},
		AllowedHeader: []string{"*"},
		ExposeHeader:  []string{"ETag", "x-oss-request-id"},
		MaxAgeSeconds: 600,
	}}
	if err := c.SetBucketCORS(name, rules); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBucketCORS(name)
	if err != nil || len(got.CORSRules) != 1 || got.CORSRules[0].MaxAgeSeconds != 600 || len(got.CORSRules[0].AllowedOrigin) != 2 {
		t.Fatalf("GetBucketCORS: %+v %v", got, err)
	}

	// A browser's preflight for a presigned PUT from another origin.
	url := tg.endpoint + "/" + name + "/uploads/v1/source"
	st, h, _ := httpDo(t, "OPTIONS", url, nil, http.Header{"Origin": {"http://app.example:5173"},
		"Access-Control-Request-Method": {"PUT"}, "Access-Control-Request-Headers": {"content-type, x-oss-meta-title"}})
	if st != 200 || h.Get("Access-Control-Allow-Origin") != "http://app.example:5173" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "PUT") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "content-type") || h.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("preflight: %d %v", st, h)
	}
	st, h, _ = httpDo(t, "OPTIONS", url, nil, http.Header{"Origin": {"https://www.vodfc.dev"}, "Access-Control-Request-Method": {"POST"}})
	if st != 200 || h.Get("Access-Control-Allow-Origin") != "https://www.vodfc.dev" {
		t.Fatalf("wildcard origin preflight: %d %v", st, h)
	}
	for _, bad := range []http.Header{
		{"Origin": {"http://evil.example"}, "Access-Control-Request-Method": {"PUT"}},
		{"Origin": {"http://app.example:5173"}, "Access-Control-Request-Method": {"DELETE"}},
		{"Origin": {"http://app.example:5173"}},
	} {
		if st, h, body := httpDo(t, "OPTIONS", url, nil, bad); st != 403 || h.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight %v: %d %s", bad, st, body)
		}
	}
	// The real request then carries the CORS headers, so the page can read ETag.
	bu, _ := c.Bucket(name)
	putURL, _ := bu.SignURL("uploads/v1/source", oss.HTTPPut, 60)
	st, h, body := httpDo(t, "PUT", putURL, strings.NewReader("video"), http.Header{"Origin": {"http://app.example:5173"}})
	if st != 200 || h.Get("Access-Control-Allow-Origin") != "http://app.example:5173" || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Fatalf("CORS PUT: %d %v %s", st, h, body)
	}
	// And a browser form POST from that origin.
	f := append(tg.v4Form(t, time.Now().Add(time.Minute), []any{"starts-with", "$key", "uploads/"}), [2]string{"key", "uploads/v2/source"})
	st, h, body = postForm(t, tg.endpoint+"/"+name, f, "v.mp4", []byte("form"), http.Header{"Origin": {"https://m.vodfc.dev"}})
	if st != 204 || h.Get("Access-Control-Allow-Origin") != "https://m.vodfc.dev" {
		t.Fatalf("CORS POST: %d %v %s", st, h, body)
	}
	// The SDK's own OPTIONS helper.
	oh, err := bu.OptionsMethod("uploads/v1/source", oss.Origin("http://app.example:5173"), oss.ACReqMethod("GET"))
	if err != nil || oh.Get("Access-Control-Allow-Origin") == "" {
		t.Fatalf("OptionsMethod: %v %v", oh, err)
	}
	if err := c.DeleteBucketCORS(name); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := httpDo(t, "OPTIONS", url, nil, http.Header{"Origin": {"http://app.example:5173"}, "Access-Control-Request-Method": {"PUT"}}); st != 403 {
		t.Fatalf("preflight after DeleteBucketCors: %d", st)
	}
}
