package ossemu_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"vodfc.dev/local/ossemu"
)

// Benchmarks: throughput of 256 MiB objects through the SDK over loopback, next to dd moving
// the same bytes on the same disk, and small-object operations per second. Run with
//
//	go test -run '^$' -bench . -benchtime 3x ./local/ossemu/
//
// OSSEMU_BENCH_NOSYNC=1 measures the emulator without fsync.

func benchServer(b *testing.B, opts ...oss.ClientOption) (*oss.Bucket, string) {
	b.Helper()
	dir := b.TempDir()
	emu, err := ossemu.Open(ossemu.Options{AccessKeyID: testAK, AccessKeySecret: testSecret, DataDir: dir,
		Buckets: []string{"bench"}, NoSync: os.Getenv("OSSEMU_BENCH_NOSYNC") != ""})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: emu}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close(); emu.Close() })
	c, err := oss.New("http://"+ln.Addr().String(), testAK, testSecret, opts...)
	if err != nil {
		b.Fatal(err)
	}
	bk, _ := c.Bucket("bench")
	return bk, dir
}

const bigObject = 256 << 20

// bigSource writes 256 MiB of random bytes to a file (what both the SDK and dd read).
func bigSource(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "src.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	var seed [32]byte
	if _, err := io.Copy(f, io.LimitReader(rand.NewChaCha8(seed), bigObject)); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path
}

func BenchmarkPut256MiB(b *testing.B) { benchPut(b) }

// The NoClientCRC variants turn off the SDK's own CRC64 of the body, which costs the client
// about as much as the transfer: they show what the emulator itself sustains.
func BenchmarkPut256MiBNoClientCRC(b *testing.B) { benchPut(b, oss.EnableCRC(false)) }

func benchPut(b *testing.B, opts ...oss.ClientOption) {
	bk, _ := benchServer(b, opts...)
	src := bigSource(b)
	b.SetBytes(bigObject)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := bk.PutObjectFromFile("big-"+strconv.Itoa(i%2), src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet256MiB(b *testing.B)            { benchGet(b) }
func BenchmarkGet256MiBNoClientCRC(b *testing.B) { benchGet(b, oss.EnableCRC(false)) }

func benchGet(b *testing.B, opts ...oss.ClientOption) {
	bk, _ := benchServer(b, opts...)
	src := bigSource(b)
	if err := bk.PutObjectFromFile("big", src); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(bigObject)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rc, err := bk.GetObject("big")
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != bigObject {
			b.Fatal(n, err)
		}
		rc.Close()
	}
}

// BenchmarkDDWrite256MiB and BenchmarkDDRead256MiB are the baselines: dd copying the same
// file on the same disk (with conv=fsync when the emulator syncs).
func BenchmarkDDWrite256MiB(b *testing.B) {
	src := bigSource(b)
	dst := filepath.Join(b.TempDir(), "dst.bin")
	args := []string{"if=" + src, "of=" + dst, "bs=1M"}
	if os.Getenv("OSSEMU_BENCH_NOSYNC") == "" {
		args = append(args, "conv=fsync")
	}
	b.SetBytes(bigObject)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if out, err := exec.Command("dd", args...).CombinedOutput(); err != nil {
			b.Fatal(err, string(out))
		}
	}
}

func BenchmarkDDRead256MiB(b *testing.B) {
	src := bigSource(b)
	b.SetBytes(bigObject)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if out, err := exec.Command("dd", "if="+src, "of=/dev/null", "bs=1M").CombinedOutput(); err != nil {
			b.Fatal(err, string(out))
		}
	}
}

func BenchmarkPutSmall4KiB(b *testing.B) {
	bk, _ := benchServer(b)
	data := randBytes(4 << 10)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := bk.PutObject(fmt.Sprintf("small/%08d", i), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

func BenchmarkGetSmall4KiB(b *testing.B) {
	bk, _ := benchServer(b)
	data := randBytes(4 << 10)
	const keys = 1000
	for i := range keys {
		if err := bk.PutObject(fmt.Sprintf("small/%08d", i), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rc, err := bk.GetObject(fmt.Sprintf("small/%08d", i%keys))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, rc)
		rc.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
}
