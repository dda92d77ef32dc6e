package fcemu

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// spawner starts child processes from one OS thread that never exits. Children get
// Pdeathsig=SIGKILL, which Linux delivers when the *thread* that forked them ends; forking
// from a thread that lives as long as the process makes that mean "when the local cloud
// dies", so no function process outlives a crashed or killed test.
type spawner struct {
	reqs chan spawnReq
	once sync.Once
	done chan struct{}
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread must outlive every child
		for {
			select {
			case r := <-s.reqs:
				r.err <- r.cmd.Start()
			case <-s.done:
				return
			}
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// Own process group: a kill takes the function's children (ffmpeg) with it.
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	r := spawnReq{cmd: cmd, err: make(chan error, 1)}
	select {
	case s.reqs <- r:
		return <-r.err
	case <-s.done:
		return fmt.Errorf("fcemu: closed")
	}
}

func (s *spawner) close() { s.once.Do(func() { close(s.done) }) }

// killGroup kills the process group of cmd.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Process.Kill()
}

// prefixOutput echoes function output, one whole line at a time, with a name prefix.
type prefixOutput struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *prefixOutput) line(prefix, line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, "%s | %s\n", prefix, line)
}

// lineWriter splits a stream into lines for a callback. One per stream: exec copies stdout
// and stderr on separate goroutines.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

const maxLine = 64 << 10

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.buf = append(lw.buf, p...)
	for {
		i := bytes.IndexByte(lw.buf, '\n')
		if i < 0 {
			break
		}
		lw.emit(strings.TrimRight(string(lw.buf[:i]), "\r"))
		lw.buf = lw.buf[i+1:]
	}
	if len(lw.buf) > maxLine {
		lw.emit(string(lw.buf))
		lw.buf = lw.buf[:0]
	}
	return len(p), nil
}

func (lw *lineWriter) flush() {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if len(lw.buf) > 0 {
		lw.emit(string(lw.buf))
		lw.buf = nil
	}
}

// waitDelay bounds how long Wait keeps reading output after the process exited, in case a
// grandchild still holds the pipe.
const waitDelay = 2 * time.Second
