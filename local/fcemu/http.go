package fcemu

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// serveHTTP runs one HTTP trigger request on an instance.
func (p *pool) serveHTTP(w http.ResponseWriter, r *http.Request, rec *record) {
	w.Header().Set("x-fc-request-id", rec.id())
	inst, ferr := p.acquire(r.Context(), rec)
	if ferr != nil {
		status := writeError(w, ferr)
		rec.finish(status, ferr)
		return
	}
	var status int
	if p.fn.Spec.IsCustom() {
		status, ferr = p.proxy(w, r, inst, rec)
	} else {
		status, ferr = p.httpEvent(w, r, inst, rec)
	}
	p.release(inst, rec)
	rec.finish(status, ferr)
}

// writeError answers a request whose invocation failed and returns the status written.
func writeError(w http.ResponseWriter, e *Error) int {
	status := http.StatusBadGateway
	switch e.Type {
	case ErrorTimeout:
		status = http.StatusGatewayTimeout
	case ErrorStart, ErrorInitializer:
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("x-fc-error-type", e.Type)
	writeProblem(w, status, e.Type, e.Message)
	return status
}

// writeProblem writes an RFC 9457 problem+json body.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail, "code": code,
	})
}

// httpTriggerEvent is events.HTTPTriggerEvent of fc-runtime-go-sdk, written out so every
// field is always present, as FC sends it.
type httpTriggerEvent struct {
	Version         string            `json:"version"`
	RawPath         string            `json:"rawPath"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Headers         map[string]string `json:"headers"`
	QueryParameters map[string]string `json:"queryParameters"`
	RequestContext  httpTriggerCtx    `json:"requestContext"`
}

type httpTriggerCtx struct {
	AccountID    string `json:"accountId"`
	DomainName   string `json:"domainName"`
	DomainPrefix string `json:"domainPrefix"`
	HTTP         struct {
		Method    string `json:"method"`
		Path      string `json:"path"`
		Protocol  string `json:"protocol"`
		SourceIP  string `json:"sourceIp"`
		UserAgent string `json:"userAgent"`
	} `json:"http"`
	RequestID string `json:"requestId"`
	Time      string `json:"time"`
	TimeEpoch string `json:"timeEpoch"`
}

type httpTriggerResponse struct {
	StatusCode      *int              `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Body            string            `json:"body"`
}

// httpEvent serves an HTTP trigger request to a go1 function: FC3 turns it into an
// HTTPTriggerEvent and the function's HTTPTriggerResponse back into HTTP.
func (p *pool) httpEvent(w http.ResponseWriter, r *http.Request, inst *instance, rec *record) (int, *Error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge", fmt.Sprintf("request body exceeds %d bytes", tooBig.Limit))
			return http.StatusRequestEntityTooLarge, &Error{Type: "PayloadTooLarge", Message: "request body too large"}
		}
		writeProblem(w, http.StatusBadRequest, "BadRequest", "reading the request body: "+err.Error())
		return http.StatusBadRequest, &Error{Type: "BadRequest", Message: err.Error()}
	}
	c := p.newCall(rec, nil, 0)
	c.payload, err = HTTPEvent(r, body, rec.id(), p.e.opts.AccountID, p.e.clock.Now())
	if err != nil {
		return writeError(w, &Error{Type: ErrorUnhandled, Message: err.Error()}), &Error{Type: ErrorUnhandled, Message: err.Error()}
	}
	out, ferr := p.exec(inst, c)
	if ferr != nil {
		return writeError(w, ferr), ferr
	}
	return writeEventResponse(w, out), nil
}

// HTTPEvent is the HTTPTriggerEvent FC3 hands a go1 function for request r with the given
// body: headers and query values joined, a body that is not UTF-8 text base64-encoded, and
// x-fclocal-now among the headers.
func HTTPEvent(r *http.Request, body []byte, requestID, accountID string, now time.Time) ([]byte, error) {
	ev := httpTriggerEvent{
		Version:         "v1",
		RawPath:         r.URL.EscapedPath(),
		Headers:         map[string]string{},
		QueryParameters: map[string]string{},
	}
	for k, vs := range r.Header {
		ev.Headers[k] = strings.Join(vs, ", ")
	}
	if r.Host != "" {
		ev.Headers["Host"] = r.Host
	}
	ev.Headers["X-Fclocal-Now"] = now.UTC().Format(time.RFC3339Nano)
	for k, vs := range r.URL.Query() {
		ev.QueryParameters[k] = strings.Join(vs, ",")
	}
	if textual(r.Header.Get("Content-Type")) && utf8.Valid(body) {
		ev.Body = string(body)
	} else if len(body) > 0 {
		ev.Body = base64.StdEncoding.EncodeToString(body)
		ev.IsBase64Encoded = true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	rc := &ev.RequestContext
	rc.AccountID = accountID
	rc.DomainName = host
	rc.DomainPrefix, _, _ = strings.Cut(host, ".")
	rc.HTTP.Method = r.Method
	rc.HTTP.Path = r.URL.Path
	rc.HTTP.Protocol = r.Proto
	rc.HTTP.SourceIP, _, _ = net.SplitHostPort(r.RemoteAddr)
	rc.HTTP.UserAgent = r.UserAgent()
	rc.RequestID = requestID
	rc.Time = now.Format("02/Jan/2006:15:04:05 -0700")
	rc.TimeEpoch = strconv.FormatInt(now.UnixMilli(), 10)
	return json.Marshal(ev)
}

// textual reports whether a body of this content type travels as text rather than base64.
func textual(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", mt == "application/xml", mt == "application/javascript",
		mt == "application/x-www-form-urlencoded", mt == "application/graphql",
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	return false
}

// writeEventResponse turns a go1 function's result into HTTP. A result that is not an
// HTTPTriggerResponse (no statusCode) is sent as the body with 200, as FC does.
func writeEventResponse(w http.ResponseWriter, out []byte) int {
	var resp httpTriggerResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == nil {
		if json.Valid(out) {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(http.StatusOK)
		w.Write(out)
		return http.StatusOK
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeProblem(w, http.StatusBadGateway, "BadFunctionResponse", "isBase64Encoded is true but the body is not base64: "+err.Error())
			return http.StatusBadGateway
		}
		body = b
	}
	keys := make([]string, 0, len(resp.Headers))
	for k := range resp.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.Header().Set(k, resp.Headers[k])
	}
	status := *resp.StatusCode
	if status < 100 || status > 999 {
		writeProblem(w, http.StatusBadGateway, "BadFunctionResponse", fmt.Sprintf("statusCode %d is not an HTTP status", status))
		return http.StatusBadGateway
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
	return status
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func dropHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, k := range strings.Split(f, ",") {
			h.Del(strings.TrimSpace(k))
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

// proxy serves an HTTP trigger request to a custom runtime function: FC forwards it as it is,
// with the x-fc-* headers added.
func (p *pool) proxy(w http.ResponseWriter, r *http.Request, inst *instance, rec *record) (int, *Error) {
	d := inst.drv.(*customDriver)
	c := p.newCall(rec, nil, 0)
	ctx, cancel := context.WithTimeout(r.Context(), c.timeout)
	defer cancel()
	out, err := http.NewRequestWithContext(ctx, r.Method, d.base+r.URL.RequestURI(), r.Body)
	if err != nil {
		e := &Error{Type: ErrorUnhandled, Message: err.Error()}
		return writeError(w, e), e
	}
	out.Header = r.Header.Clone()
	dropHop(out.Header)
	// FC's own headers replace whatever the client sent under the same names (in any case),
	// so a client can neither pose as the platform nor move a function's local clock.
	for k, v := range p.headers(c) {
		out.Header.Del(k)
		out.Header[k] = v
	}
	out.Header.Set("x-fc-control-path", "/http-invoke")
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
			ip = prior + ", " + ip
		}
		out.Header.Set("X-Forwarded-For", ip)
	}
	out.Host = r.Host
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	resp, err := d.client.Do(out)
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeProblem(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge", fmt.Sprintf("request body exceeds %d bytes", tooBig.Limit))
			return http.StatusRequestEntityTooLarge, &Error{Type: "PayloadTooLarge", Message: "request body too large"}
		case r.Context().Err() != nil:
			return 499, &Error{Type: "ClientClosedRequest", Message: "the client went away"}
		case ctx.Err() != nil:
			e := timeoutError(c.timeout)
			p.kill(inst, e.Message)
			return writeError(w, e), e
		}
		e := d.transportError(ctx, c, err)
		return writeError(w, e), e
	}
	defer resp.Body.Close()
	dropHop(resp.Header)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.Header().Set("x-fc-request-id", rec.id())
	w.WriteHeader(resp.StatusCode)
	var dst io.Writer = w
	if resp.ContentLength < 0 {
		dst = flushWriter{w: w, rc: http.NewResponseController(w)}
	}
	if _, err := io.Copy(dst, resp.Body); err != nil && ctx.Err() == context.DeadlineExceeded && r.Context().Err() == nil {
		e := timeoutError(c.timeout)
		p.kill(inst, e.Message)
		return resp.StatusCode, e
	}
	return resp.StatusCode, nil
}

// flushWriter flushes after every write, so streamed responses (SSE, progress) reach the
// client as the function writes them.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		f.rc.Flush()
	}
	return n, err
}
