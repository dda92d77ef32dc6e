//go:build !unix

package otsemu

// Without flock the data directory is not protected against a second emulator.
func (s *Server) lockDir() error { return nil }
func (s *Server) unlockDir()     {}
