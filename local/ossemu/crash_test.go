package ossemu_test

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// content is the one byte string a key may ever hold in these tests: any object found after a
// crash can be checked for completeness from its name alone.
func content(key string, max int) []byte {
	h := fnv.New64a()
	h.Write([]byte(key))
	seed := h.Sum64()
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	r := rand.NewChaCha8(s)
	b := make([]byte, 1+int(seed%uint64(max)))
	r.Read(b)
	return b
}

func TestCrashLosesNothingAcknowledged(t *testing.T) {
	tg := tgt(t)
	tg.needEmulator(t, "kills the server")
	dir := t.TempDir()
	ch := startChild(t, dir)
	client := func(endpoint string) *oss.Bucket {
		c, err := oss.New(endpoint, testAK, testSecret, oss.Timeout(5, 20))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := c.Bucket("crash")
		return b
	}
	b := client(ch.endpoint)

	var acked sync.Map // key → true once PutObject returned nil
	var ackCount atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d/%05d", w, i)
				if err := b.PutObject(key, bytes.NewReader(content(key, 600<<10))); err != nil {
					return
				}
				acked.Store(key, true)
				ackCount.Add(1)
			}
		}()
	}
	// A multipart upload and an appendable object in flight too.
	imur, err := b.InitiateMultipartUpload("mp/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	var partsMu sync.Mutex
	parts := map[int]oss.UploadPart{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 1; n <= 10000; n++ {
			select {
			case <-stop:
				return
			default:
			}
			data := content(fmt.Sprintf("part-%d", n), 1) // 1 byte: seed%1 == 0
			data = bytes.Repeat(data, 100<<10)
			up, err := b.UploadPart(imur, bytes.NewReader(data), int64(len(data)), n)
			if err != nil {
				return
			}
			partsMu.Lock()
			parts[n] = up
			partsMu.Unlock()
		}
	}()
	var appended atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		var pos int64
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			next, err := b.AppendObject("app/log", bytes.NewReader(content(fmt.Sprintf("chunk-%d", i), 10<<10)), pos)
			if err != nil {
				return
			}
			pos = next
			appended.Store(pos)
		}
	}()

	deadline := time.Now().Add(2 * time.Minute)
	for ackCount.Load() < 150 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ch.kill(t) // SIGKILL in the middle of writes
	close(stop)
	wg.Wait()
	if ackCount.Load() < 150 {
		t.Fatalf("only %d PUTs acknowledged before the deadline", ackCount.Load())
	}

	ch = startChild(t, dir)
	b = client(ch.endpoint)
	// Every acknowledged object is there, whole.
	n := 0
	acked.Range(func(k, _ any) bool {
		key := k.(string)
		if got := getAll(t, b, key); !bytes.Equal(got, content(key, 600<<10)) {
			t.Fatalf("acknowledged %s came back with %d bytes, want %d", key, len(got), len(content(key, 600<<10)))
		}
		n++
		return true
	})
	// Every object present (acknowledged or caught mid-flight) is complete.
	listed := 0
	marker := ""
	for {
		res, err := b.ListObjects(oss.Prefix("w"), oss.Marker(marker), oss.MaxKeys(1000))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			want := content(o.Key, 600<<10)
			if o.Size != int64(len(want)) || o.ETag != `"`+md5hex(want)+`"` {
				t.Fatalf("%s is partial after the crash: %d bytes, ETag %s", o.Key, o.Size, o.ETag)
			}
			listed++
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextMarker
	}
	if listed < n {
		t.Fatalf("listing shows %d objects, %d were acknowledged", listed, n)
	}
	// Acknowledged parts survive and the upload can be completed.
	lp, err := b.ListUploadedParts(imur)
	if err != nil {
		t.Fatal(err)
	}
	have := map[int]string{}
	for _, p := range lp.UploadedParts {
		have[p.PartNumber] = p.ETag
	}
	var list []oss.UploadPart
	for num, p := range parts {
		if have[num] != p.ETag {
			t.Fatalf("acknowledged part %d lost (have %q)", num, have[num])
		}
	}
	for _, p := range lp.UploadedParts {
		list = append(list, oss.UploadPart{PartNumber: p.PartNumber, ETag: p.ETag})
	}
	if len(list) > 0 {
		if _, err := b.CompleteMultipartUpload(imur, list); err != nil {
			t.Fatal(err)
		}
	}
	// The appendable object keeps at least what was acknowledged, and only whole appends.
	got := getAll(t, b, "app/log")
	if int64(len(got)) < appended.Load() {
		t.Fatalf("appendable object has %d bytes, %d were acknowledged", len(got), appended.Load())
	}
	var want []byte
	for i := 0; len(want) < len(got); i++ {
		want = append(want, content(fmt.Sprintf("chunk-%d", i), 10<<10)...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendable object is not a sequence of whole appends (%d bytes)", len(got))
	}
	// Nothing left over: one data file per object, no temp files.
	files := 0
	filepath.WalkDir(filepath.Join(dir, "buckets", "crash", "data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	res, _ := b.ListObjects(oss.MaxKeys(1000))
	total := len(res.Objects)
	for res.IsTruncated {
		res, _ = b.ListObjects(oss.MaxKeys(1000), oss.Marker(res.NextMarker))
		total += len(res.Objects)
	}
	if files != total {
		t.Fatalf("%d data files for %d objects: the crash left garbage", files, total)
	}
	t.Logf("killed after %d acknowledged PUTs, %d parts, %d appended bytes; %d objects afterwards", n, len(parts), appended.Load(), total)
}

func TestMultipart1GiBBoundedMemory(t *testing.T) {
	tg := tgt(t)
	tg.needEmulator(t, "measures the server's memory")
	if testing.Short() {
		t.Skip("-short: skips moving 1 GiB")
	}
	ch := startChild(t, t.TempDir())
	c, err := oss.New(ch.endpoint, testAK, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("crash")
	const partSize, parts = 16 << 20, 64 // 1 GiB
	imur, err := b.InitiateMultipartUpload("big/1gib.bin")
	if err != nil {
		t.Fatal(err)
	}
	sums := make([][md5.Size]byte, parts)
	uploaded := make([]oss.UploadPart, parts)
	work := make(chan int)
	errs := make(chan error, parts)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				var seed [32]byte
				seed[0] = byte(n)
				h := md5.New()
				r := io.TeeReader(io.LimitReader(rand.NewChaCha8(seed), partSize), h)
				up, err := b.UploadPart(imur, r, partSize, n+1)
				if err != nil {
					errs <- err
					continue
				}
				copy(sums[n][:], h.Sum(nil))
				uploaded[n] = up
			}
		}()
	}
	for n := range parts {
		work <- n
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := b.CompleteMultipartUpload(imur, uploaded); err != nil {
		t.Fatal(err)
	}
	// Read it back as a stream and check every part's bytes.
	rc, err := b.GetObject("big/1gib.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for n := range parts {
		h := md5.New()
		if _, err := io.CopyN(h, rc, partSize); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(h.Sum(nil), sums[n][:]) {
			t.Fatalf("part %d reads back different", n+1)
		}
	}
	if extra, _ := io.Copy(io.Discard, rc); extra != 0 {
		t.Fatalf("%d bytes too many", extra)
	}
	peak := ch.peakRSS(t)
	t.Logf("1 GiB multipart upload and download: emulator peak RSS %.1f MiB", float64(peak)/(1<<20))
	if peak > 200<<20 {
		t.Fatalf("emulator peak RSS %d MiB, limit 200 MiB", peak>>20)
	}
}
