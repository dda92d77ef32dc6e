package ossemu

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// HTTPClient returns a client whose requests reach this server in-process, without a socket:
// pass it to oss.New with oss.HTTPClient(...) and any endpoint host (http://oss.local is fine;
// the SDK wants an IP or oss.ForcePathStyle(true) for path-style URLs). Requests still travel
// as real HTTP/1.1 over an in-memory pipe, served by net/http, so the SDK sees exactly what a
// remote client would.
func (s *Server) HTTPClient() *http.Client {
	s.inproc.once.Do(func() {
		s.inproc.ln = newMemListener()
		s.inproc.srv = &http.Server{Handler: s, ReadHeaderTimeout: time.Minute}
		go s.inproc.srv.Serve(s.inproc.ln)
		s.inproc.client = &http.Client{Transport: &http.Transport{
			DialContext:         s.inproc.ln.dial,
			MaxIdleConnsPerHost: 64,
			DisableCompression:  true,
		}}
	})
	return s.inproc.client
}

// memListener is a net.Listener whose connections are in-memory pipes.
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

var errListenerClosed = errors.New("ossemu: in-process listener closed")

func (l *memListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, errListenerClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, errListenerClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

type memAddr struct{}

func (memAddr) Network() string { return "memory" }
func (memAddr) String() string  { return "ossemu.local" }
