package main

import (
	"syscall"
	"testing"
	"unsafe"
)

// watchOpens starts counting opens of path with inotify; the returned function reports how
// many happened so far. It proves a file was never even opened by any process, the function's
// ffprobe and ffmpeg children included.
func watchOpens(t *testing.T, path string) func() int {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if _, err := syscall.InotifyAddWatch(fd, path, syscall.IN_OPEN|syscall.IN_ACCESS); err != nil {
		t.Fatalf("inotify watch: %v", err)
	}
	count := 0
	return func() int {
		buf := make([]byte, 4096)
		for {
			n, err := syscall.Read(fd, buf)
			if err != nil || n <= 0 {
				return count
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				if ev.Mask&(syscall.IN_OPEN|syscall.IN_ACCESS) != 0 {
					count++
				}
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}
