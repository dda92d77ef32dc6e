package fcemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// customDriver drives a custom runtime instance: the function is an HTTP server on
// FC_SERVER_PORT; events arrive as POST /invoke, hooks as POST /initialize and GET /pre-stop,
// HTTP trigger requests as themselves (proxy.go).
type customDriver struct {
	in     *instance
	port   int
	base   string
	client *http.Client
}

func newCustomDriver(in *instance) (*customDriver, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: max(in.p.fn.Spec.Concurrency(), 2),
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // pass bodies through exactly as the function wrote them
	}
	return &customDriver{in: in, port: port, base: "http://127.0.0.1:" + strconv.Itoa(port),
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// freePort asks the kernel for a free loopback port. The function binds it a moment later;
// another process taking it in between only costs a failed start.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (d *customDriver) env() []string {
	p := strconv.Itoa(d.port)
	return []string{"FC_SERVER_PORT=" + p, "FC_CUSTOM_LISTEN_PORT=" + p}
}

// waitReady probes the port until the function listens, as FC does before the first request.
func (d *customDriver) waitReady(ctx context.Context) error {
	addr := "127.0.0.1:" + strconv.Itoa(d.port)
	delay := time.Millisecond
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-d.in.exit:
			return d.in.processExited()
		case <-ctx.Done():
			return fmt.Errorf("the function did not listen on FC_SERVER_PORT=%d within the start timeout", d.port)
		case <-time.After(delay):
		}
		delay = min(delay*2, 20*time.Millisecond)
	}
}

func (d *customDriver) invoke(ctx context.Context, c *call) ([]byte, *Error) {
	method, path := http.MethodPost, "/invoke"
	switch c.typ {
	case typeInitializer:
		path = "/initialize"
	case typePreStop:
		method, path = http.MethodGet, "/pre-stop"
	}
	var body io.Reader
	if method == http.MethodPost {
		body = bytes.NewReader(c.payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, body)
	if err != nil {
		return nil, &Error{Type: ErrorUnhandled, Message: err.Error()}
	}
	req.Header = d.in.p.headers(c)
	req.Header.Set("x-fc-control-path", path)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, d.transportError(ctx, c, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, MaxSyncPayload+1))
	if err != nil {
		return nil, d.transportError(ctx, c, err)
	}
	if len(out) > MaxSyncPayload {
		return nil, responseTooLarge()
	}
	if failed(resp) {
		return nil, parseFunctionError(out)
	}
	return out, nil
}

// failed reports whether a custom runtime answered an event invocation with a failure: FC
// reads x-fc-status (404 = failed) and, when it is absent, the status code.
func failed(resp *http.Response) bool {
	if s := resp.Header.Get("x-fc-status"); s != "" {
		return s != "200"
	}
	return resp.StatusCode >= 400
}

// transportError explains a request that got no answer: the timeout, a crash, or the function
// closing the connection.
func (d *customDriver) transportError(ctx context.Context, c *call, err error) *Error {
	if ctx.Err() != nil {
		return timeoutError(c.timeout)
	}
	// A crash shows up as a reset connection slightly before Wait reports the exit.
	select {
	case <-d.in.exit:
		return d.in.processExited()
	case <-time.After(time.Second):
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Type: ErrorUnhandled, Message: "request cancelled"}
	}
	return &Error{Type: ErrorUnhandled, Message: "the function's HTTP server failed the request: " + err.Error()}
}

func (d *customDriver) close() {
	d.client.CloseIdleConnections()
}
