package otsemu

// Abandon stops the server the way a crash would, as far as the data directory can tell: no
// snapshot is written and nothing more is logged. Files are closed (and the directory lock
// released) so the same test process can open the directory again.
func (s *Server) Abandon() {
	if s.closed.Swap(true) {
		return
	}
	close(s.stop)
	s.wg.Wait()
	if s.wal != nil {
		s.writeMu.Lock()
		s.wal.Close()
		s.writeMu.Unlock()
	}
	s.unlockDir()
}
