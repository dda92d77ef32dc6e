//go:build linux

package ossemu_test

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Cold reads: the page cache is dropped for the file before each read (posix_fadvise
// DONTNEED, no root needed), so the emulator and dd both read from the disk.

func evict(b *testing.B, path string) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const fadvDontNeed = 4
	if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); errno != 0 {
		b.Fatal(errno)
	}
}

func BenchmarkGet256MiBCold(b *testing.B) {
	bk, dir := benchServer(b)
	if err := bk.PutObjectFromFile("big", bigSource(b)); err != nil {
		b.Fatal(err)
	}
	var data string
	filepath.WalkDir(filepath.Join(dir, "buckets", "bench", "data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data = p
		}
		return nil
	})
	b.SetBytes(bigObject)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evict(b, data)
		b.StartTimer()
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

func BenchmarkDDRead256MiBCold(b *testing.B) {
	src := bigSource(b)
	b.SetBytes(bigObject)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evict(b, src)
		b.StartTimer()
		if out, err := exec.Command("dd", "if="+src, "of=/dev/null", "bs=1M").CombinedOutput(); err != nil {
			b.Fatal(err, string(out))
		}
	}
}
