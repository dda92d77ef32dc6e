package ffmpeg

import (
	"os/exec"
	"syscall"
)

// setProcAttr asks the kernel to kill the child when this process dies, so a crashed or
// frozen-and-reaped function instance leaves no ffmpeg burning its CPU. The signal follows the
// OS thread that started the child; Go only retires threads of goroutines that exit while
// locked to them, which this package never does.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
