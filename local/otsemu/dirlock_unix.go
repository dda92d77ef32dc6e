//go:build unix

package otsemu

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on the data directory, so two emulators never write the
// same log. The kernel drops it when the process dies, even by kill -9.
func (s *Server) lockDir() error {
	f, err := os.OpenFile(filepath.Join(s.opts.DataDir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("otsemu: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("otsemu: data directory %s is in use by another emulator: %w", s.opts.DataDir, err)
	}
	s.lock = f
	return nil
}

func (s *Server) unlockDir() {
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
}
