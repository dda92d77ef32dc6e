//go:build !linux

package ffmpeg

import "os/exec"

// setProcAttr has nothing to add where the parent-death signal does not exist; the context
// still kills the child.
func setProcAttr(cmd *exec.Cmd) {}
