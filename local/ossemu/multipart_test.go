package ossemu_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// multipartETag is how OSS computes a multipart object's ETag: MD5 of the parts' binary MD5s,
// then "-" and the part count.
func multipartETag(parts ...[]byte) string {
	var sums []byte
	for _, p := range parts {
		s := md5.Sum(p)
		sums = append(sums, s[:]...)
	}
	all := md5.Sum(sums)
	return fmt.Sprintf(`"%s-%d"`, strings.ToUpper(hex.EncodeToString(all[:])), len(parts))
}

func TestMultipartUpload(t *testing.T) {
	tg := tgt(t)
	for name, opts := range authVersions() {
		t.Run(name, func(t *testing.T) {
			b := tg.bkt(t, opts...)
			key := tg.key("mp-" + name + "/大 video+1.mp4")
			src := tg.key("mp-" + name + "/copy-source.bin")
			srcData := randBytes(300_000)
			put(t, b, src, srcData)

			imur, err := b.InitiateMultipartUpload(key, oss.ObjectStorageClass(oss.StorageIA), oss.Meta("video", "v1"), oss.ContentType("video/mp4"))
			if err != nil {
				t.Fatal(err)
			}
			if imur.Key != key || imur.UploadID == "" {
				t.Fatalf("initiate: %+v", imur)
			}
			p1, p2, p4 := randBytes(100<<10), randBytes(150<<10), randBytes(777)
			var parts []oss.UploadPart
			for i, data := range [][]byte{p1, p2} {
				up, err := b.UploadPart(imur, bytes.NewReader(data), int64(len(data)), i+1)
				if err != nil {
					t.Fatal(err)
				}
				if up.ETag != `"`+md5hex(data)+`"` {
					t.Fatalf("part ETag %s", up.ETag)
				}
				parts = append(parts, up)
			}
			// Part 3 copied from a range of another object; part 4 last and small.
			cp, err := b.UploadPartCopy(imur, tg.bucket, src, 1000, 200_000, 3)
			if err != nil {
				t.Fatal(err)
			}
			p3 := srcData[1000:201000]
			parts = append(parts, cp)
			up, err := b.UploadPart(imur, bytes.NewReader(p4), int64(len(p4)), 4)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, up)
			// Re-uploading a part number replaces it.
			p2 = randBytes(120 << 10)
			up, err = b.UploadPart(imur, bytes.NewReader(p2), int64(len(p2)), 2)
			if err != nil {
				t.Fatal(err)
			}
			parts[1] = up

			lp, err := b.ListUploadedParts(imur, oss.MaxParts(2))
			if err != nil {
				t.Fatal(err)
			}
			if len(lp.UploadedParts) != 2 || !lp.IsTruncated || lp.Key != key || lp.UploadedParts[1].Size != len(p2) {
				t.Fatalf("ListParts page 1: %+v", lp)
			}
			lp, err = b.ListUploadedParts(imur, oss.PartNumberMarker(2))
			if err != nil || len(lp.UploadedParts) != 2 || lp.UploadedParts[0].PartNumber != 3 || lp.IsTruncated {
				t.Fatalf("ListParts page 2: %+v %v", lp, err)
			}
			lu, err := b.ListMultipartUploads(oss.Prefix(tg.key("mp-" + name + "/")))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, u := range lu.Uploads {
				found = found || (u.UploadID == imur.UploadID && u.Key == key)
			}
			if !found {
				t.Fatalf("ListMultipartUploads lacks the upload: %+v", lu.Uploads)
			}

			// A wrong ETag is InvalidPart; nothing is created and the upload goes on.
			bad := append([]oss.UploadPart(nil), parts...)
			bad[0].ETag = `"00000000000000000000000000000000"`
			_, err = b.CompleteMultipartUpload(imur, bad)
			svcErr(t, err, 400, "InvalidPart")
			bad = append([]oss.UploadPart(nil), parts...)
			bad = append(bad, oss.UploadPart{PartNumber: 9, ETag: parts[0].ETag})
			_, err = b.CompleteMultipartUpload(imur, bad)
			svcErr(t, err, 400, "InvalidPart")

			res, err := b.CompleteMultipartUpload(imur, parts)
			if err != nil {
				t.Fatal(err)
			}
			if res.ETag != multipartETag(p1, p2, p3, p4) {
				t.Fatalf("multipart ETag %s, want %s", res.ETag, multipartETag(p1, p2, p3, p4))
			}
			want := bytes.Join([][]byte{p1, p2, p3, p4}, nil)
			if !bytes.Equal(getAll(t, b, key), want) {
				t.Fatal("assembled object has other bytes")
			}
			if err := b.GetObjectToFile(key, t.TempDir()+"/f"); err != nil { // CRC64 of the whole, combined from parts
				t.Fatal(err)
			}
			h, _ := b.GetObjectDetailedMeta(key)
			if h.Get("X-Oss-Object-Type") != "Multipart" || h.Get("X-Oss-Storage-Class") != "IA" ||
				h.Get("X-Oss-Meta-Video") != "v1" || h.Get("Content-Type") != "video/mp4" {
				t.Fatalf("multipart object headers: %v", h)
			}
			_, err = b.CompleteMultipartUpload(imur, parts)
			svcErr(t, err, 404, "NoSuchUpload")
		})
	}
}

func TestMultipartErrors(t *testing.T) {
	tg := tgt(t)
	c := tg.client(t)
	b := tg.bkt(t)
	key := tg.key("mperr/x.bin")

	// Parts out of order: the SDK sorts them, so send the XML ourselves.
	imur, err := b.InitiateMultipartUpload(key)
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := randBytes(100<<10), randBytes(10)
	u1, _ := b.UploadPart(imur, bytes.NewReader(p1), int64(len(p1)), 1)
	u2, _ := b.UploadPart(imur, bytes.NewReader(p2), int64(len(p2)), 2)
	body := fmt.Sprintf(`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>`, u2.ETag, u1.ETag)
	_, err = c.Conn.Do("POST", tg.bucket, key, map[string]interface{}{"uploadId": imur.UploadID}, nil, strings.NewReader(body), 0, nil)
	svcErr(t, err, 400, "InvalidPartOrder")

	// A part other than the last under 100 KB.
	small := randBytes(1000)
	u1b, _ := b.UploadPart(imur, bytes.NewReader(small), int64(len(small)), 1)
	_, err = b.CompleteMultipartUpload(imur, []oss.UploadPart{u1b, u2})
	svcErr(t, err, 400, "EntityTooSmall")

	// Part numbers outside 1..10000.
	_, err = b.UploadPart(imur, bytes.NewReader(small), int64(len(small)), 10001)
	svcErr(t, err, 400, "InvalidArgument")

	// Abort answers exactly 204 (the SDK checks), then the upload is gone.
	if err := b.AbortMultipartUpload(imur); err != nil {
		t.Fatal(err)
	}
	svcErr(t, b.AbortMultipartUpload(imur), 404, "NoSuchUpload")
	_, err = b.UploadPart(imur, bytes.NewReader(small), int64(len(small)), 1)
	svcErr(t, err, 404, "NoSuchUpload")
	_, err = b.ListUploadedParts(imur)
	svcErr(t, err, 404, "NoSuchUpload")
	if ok, _ := b.IsObjectExist(key); ok {
		t.Fatal("an aborted upload left an object")
	}
	_, err = b.UploadPart(oss.InitiateMultipartUploadResult{Bucket: tg.bucket, Key: key, UploadID: "NOPE"}, bytes.NewReader(small), 10, 1)
	svcErr(t, err, 404, "NoSuchUpload")
}

func TestMultipartCompleteAll(t *testing.T) {
	tg := tgt(t)
	b := tg.bkt(t)
	key := tg.key("mpall/x.bin")
	imur, err := b.InitiateMultipartUpload(key)
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := randBytes(100<<10), randBytes(5)
	b.UploadPart(imur, bytes.NewReader(p2), int64(len(p2)), 2)
	b.UploadPart(imur, bytes.NewReader(p1), int64(len(p1)), 1)
	// OSS wants no body with x-oss-complete-all (the SDK's CompleteMultipartUpload always sends one).
	resp, err := tg.client(t).Conn.Do("POST", tg.bucket, key, map[string]interface{}{"uploadId": imur.UploadID},
		map[string]string{"x-oss-complete-all": "yes"}, nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !bytes.Equal(getAll(t, b, key), append(p1, p2...)) {
		t.Fatal("complete-all assembled other bytes")
	}
}
