package ossemu_test

import (
	"encoding/xml"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// listFixture puts a small tree and returns its keys, sorted.
func listFixture(t *testing.T, tg *target, b *oss.Bucket, root string) []string {
	t.Helper()
	var keys []string
	for _, k := range []string{"a.txt", "b c.txt", "d+e.txt", "dir1/x.txt", "dir1/y.txt", "dir1/sub/z.txt",
		"dir2/x.txt", "中文/一.txt", "中文/二.txt", "zz%41.txt"} {
		keys = append(keys, tg.key(root+k))
	}
	for i, k := range keys {
		opts := []oss.Option{}
		if i%3 == 1 {
			opts = append(opts, oss.ObjectStorageClass(oss.StorageIA))
		}
		put(t, b, k, []byte(k), opts...)
	}
	sort.Strings(keys)
	return keys
}

func TestListObjectsV1AndV2(t *testing.T) {
	tg := tgt(t)
	b := tg.bkt(t)
	root := "list/"
	keys := listFixture(t, tg, b, root)
	prefix := tg.key(root)

	// Flat listing, paged two at a time, both versions, every key exactly once and in order.
	var v1, v2 []string
	marker := ""
	for pages := 0; ; pages++ {
		res, err := b.ListObjects(oss.Prefix(prefix), oss.Marker(marker), oss.MaxKeys(2))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			v1 = append(v1, o.Key)
			if o.Size != int64(len(o.Key)) || o.ETag == "" || o.LastModified.IsZero() || o.Type != "Normal" {
				t.Fatalf("entry %+v", o)
			}
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextMarker
		if pages > 20 {
			t.Fatal("v1 paging does not end")
		}
	}
	token := ""
	for pages := 0; ; pages++ {
		opts := []oss.Option{oss.Prefix(prefix), oss.MaxKeys(3)}
		if token != "" {
			opts = append(opts, oss.ContinuationToken(token))
		}
		res, err := b.ListObjectsV2(opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			v2 = append(v2, o.Key)
		}
		if !res.IsTruncated {
			break
		}
		token = res.NextContinuationToken
		if pages > 20 {
			t.Fatal("v2 paging does not end")
		}
	}
	if !slices.Equal(v1, keys) || !slices.Equal(v2, keys) {
		t.Fatalf("listing\n v1 %q\n v2 %q\nwant %q", v1, v2, keys)
	}

	// Storage class per entry.
	res, err := b.ListObjectsV2(oss.Prefix(prefix), oss.MaxKeys(1000))
	if err != nil {
		t.Fatal(err)
	}
	classes := map[string]int{}
	for _, o := range res.Objects {
		classes[o.StorageClass]++
	}
	if classes["IA"] == 0 || classes["Standard"] == 0 {
		t.Fatalf("storage classes in listing: %v", classes)
	}

	// Delimiter: files at the top and one common prefix per directory, paged one entry at a time.
	var entries []string
	token = ""
	for pages := 0; ; pages++ {
		opts := []oss.Option{oss.Prefix(prefix), oss.Delimiter("/"), oss.MaxKeys(1)}
		if token != "" {
			opts = append(opts, oss.ContinuationToken(token))
		}
		res, err := b.ListObjectsV2(opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			entries = append(entries, o.Key)
		}
		for _, p := range res.CommonPrefixes {
			entries = append(entries, p+"/")
		}
		if !res.IsTruncated {
			break
		}
		token = res.NextContinuationToken
		if pages > 20 {
			t.Fatal("delimiter paging does not end")
		}
	}
	want := []string{prefix + "a.txt", prefix + "b c.txt", prefix + "d+e.txt", prefix + "dir1//", prefix + "dir2//", prefix + "zz%41.txt", prefix + "中文//"}
	sort.Strings(entries)
	if !slices.Equal(entries, want) {
		t.Fatalf("delimiter listing\n got %q\nwant %q", entries, want)
	}
	// The same with v1 markers.
	var v1entries []string
	marker = ""
	for pages := 0; ; pages++ {
		res, err := b.ListObjects(oss.Prefix(prefix), oss.Delimiter("/"), oss.MaxKeys(2), oss.Marker(marker))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			v1entries = append(v1entries, o.Key)
		}
		for _, p := range res.CommonPrefixes {
			v1entries = append(v1entries, p+"/")
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextMarker
		if pages > 20 {
			t.Fatal("v1 delimiter paging does not end")
		}
	}
	sort.Strings(v1entries)
	if !slices.Equal(v1entries, want) {
		t.Fatalf("v1 delimiter listing\n got %q\nwant %q", v1entries, want)
	}

	// Nested prefix with delimiter.
	res, err = b.ListObjectsV2(oss.Prefix(prefix+"dir1/"), oss.Delimiter("/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 2 || len(res.CommonPrefixes) != 1 || res.CommonPrefixes[0] != prefix+"dir1/sub/" {
		t.Fatalf("nested: %+v", res)
	}
	// start-after.
	res, err = b.ListObjectsV2(oss.Prefix(prefix), oss.StartAfter(prefix+"dir1/y.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) == 0 || res.Objects[0].Key != prefix+"dir2/x.txt" {
		t.Fatalf("start-after: %v", res.Objects)
	}
	_, err = b.ListObjects(oss.MaxKeys(5000))
	svcErr(t, err, 400, "InvalidArgument")
}

func TestListWithoutURLEncoding(t *testing.T) {
	tg := tgt(t)
	b := tg.bkt(t)
	key := tg.key("rawlist/a b+c&d<e>.txt")
	put(t, b, key, []byte("x"))
	// A client that does not ask for encoding-type=url gets raw, XML-escaped keys.
	resp, err := tg.client(t).Conn.Do("GET", tg.bucket, "", map[string]interface{}{"prefix": tg.key("rawlist/")}, nil, nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res oss.ListObjectsResult
	if err := xml.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 1 || res.Objects[0].Key != key {
		t.Fatalf("raw listing: %+v", res.Objects)
	}
}

func TestListBuckets(t *testing.T) {
	tg := tgt(t)
	tg.needEmulator(t, "creates buckets")
	c := tg.client(t)
	var names []string
	for i := range 3 {
		name := fmt.Sprintf("lb-%d-%s", i, strings.ToLower(randHex(3)))
		if err := c.CreateBucket(name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	res, err := c.ListBuckets(oss.Prefix("lb-"), oss.MaxKeys(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Buckets) != 2 || !res.IsTruncated || res.Owner.ID == "" {
		t.Fatalf("first page: %+v", res)
	}
	res2, err := c.ListBuckets(oss.Prefix("lb-"), oss.Marker(res.NextMarker))
	if err != nil || len(res2.Buckets) != 1 {
		t.Fatalf("second page: %+v %v", res2, err)
	}
	for _, n := range names {
		if ok, err := c.IsBucketExist(n); !ok || err != nil {
			t.Fatalf("IsBucketExist(%s) = %v %v", n, ok, err)
		}
		if err := c.DeleteBucket(n); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBuckets(t *testing.T) {
	tg := tgt(t)
	tg.needEmulator(t, "creates and deletes buckets")
	c := tg.client(t)
	name := "bk-" + strings.ToLower(randHex(4))
	if err := c.CreateBucket(name, oss.StorageClass(oss.StorageIA), oss.ACL(oss.ACLPublicRead)); err != nil {
		t.Fatal(err)
	}
	svcErr(t, c.CreateBucket(name), 409, "BucketAlreadyExists")
	_, err := c.Conn.Do("PUT", "bad_name", "", nil, nil, nil, 0, nil) // the SDK itself refuses such names
	svcErr(t, err, 400, "InvalidBucketName")
	info, err := c.GetBucketInfo(name)
	if err != nil {
		t.Fatal(err)
	}
	if info.BucketInfo.Name != name || info.BucketInfo.StorageClass != "IA" || info.BucketInfo.ACL != "public-read" ||
		info.BucketInfo.Location != "oss-"+testRegion || info.BucketInfo.CreationDate.IsZero() {
		t.Fatalf("GetBucketInfo: %+v", info.BucketInfo)
	}
	loc, err := c.GetBucketLocation(name)
	if err != nil || loc != "oss-"+testRegion {
		t.Fatalf("GetBucketLocation: %q %v", loc, err)
	}
	// Objects inherit the bucket's class.
	b, _ := c.Bucket(name)
	put(t, b, "k", []byte("x"))
	h, _ := b.GetObjectDetailedMeta("k")
	if h.Get("X-Oss-Storage-Class") != "IA" {
		t.Fatalf("object class in an IA bucket: %s", h.Get("X-Oss-Storage-Class"))
	}
	stat, err := c.GetBucketStat(name)
	if err != nil || stat.ObjectCount != 1 || stat.InfrequentAccessObjectCount != 1 || stat.InfrequentAccessStorage != 64<<10 || stat.InfrequentAccessRealStorage != 1 {
		t.Fatalf("GetBucketStat: %+v %v", stat, err)
	}
	imur, err := b.InitiateMultipartUpload("m")
	if err != nil {
		t.Fatal(err)
	}
	svcErr(t, c.DeleteBucket(name), 409, "BucketNotEmpty")
	b.DeleteObject("k")
	svcErr(t, c.DeleteBucket(name), 409, "BucketNotEmpty") // an upload in progress counts
	if err := b.AbortMultipartUpload(imur); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteBucket(name); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketInfo(name)
	svcErr(t, err, 404, "NoSuchBucket")
	svcErr(t, c.DeleteBucket(name), 404, "NoSuchBucket")
}
