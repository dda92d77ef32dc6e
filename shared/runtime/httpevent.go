package runtime

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	fcevents "github.com/aliyun/fc-runtime-go-sdk/events"
	awsevents "github.com/aws/aws-lambda-go/events"
)

// httpEvent is an HTTP request delivered as an event, whatever the platform's shape: FC's
// HTTPTriggerEvent and AWS's API Gateway v2 / Function URL request differ only in names.
type httpEvent struct {
	method, rawPath, protocol, sourceIP, host string
	// rawQuery is the query as sent (AWS); when the platform only gives a map (FC), query is
	// used instead.
	rawQuery string
	query    map[string]string
	headers  map[string]string
	cookies  []string
	body     string
	base64   bool
}

// errNotHTTPEvent is returned for a payload that is not an HTTP trigger event.
var errNotHTTPEvent = errors.New("not an HTTP trigger event: requestContext.http.method and rawPath are required")

// request builds the *http.Request a net/http handler expects.
//
// Rules worth knowing:
//   - FC joins repeated headers and repeated query values with commas and gives no raw query,
//     so `?tag=a&tag=b` reaches the handler as one value "a,b" on go1 (but as two values in
//     the custom runtime). APIs therefore take lists as one comma-separated parameter.
//   - AWS sends cookies apart; they are joined back into one Cookie header.
//   - RemoteAddr is "sourceIp:0" so net.SplitHostPort works on it.
func (e *httpEvent) request(ctx context.Context) (*http.Request, error) {
	if e.method == "" || e.rawPath == "" {
		return nil, errNotHTTPEvent
	}
	var body []byte
	if e.base64 {
		b, err := base64.StdEncoding.DecodeString(e.body)
		if err != nil {
			return nil, fmt.Errorf("HTTP trigger event: body is not valid base64: %w", err)
		}
		body = b
	}
	rawQuery := e.rawQuery
	if rawQuery == "" && len(e.query) > 0 {
		rawQuery = encodeQuery(e.query)
	}
	requestURI := e.rawPath
	if rawQuery != "" {
		requestURI += "?" + rawQuery
	}
	u, err := url.ParseRequestURI(requestURI)
	if err != nil {
		return nil, fmt.Errorf("HTTP trigger event: bad path or query %q: %w", requestURI, err)
	}
	h := make(http.Header, len(e.headers)+1)
	for k, v := range e.headers {
		h[textproto.CanonicalMIMEHeaderKey(k)] = []string{v}
	}
	if len(e.cookies) > 0 {
		h["Cookie"] = []string{strings.Join(e.cookies, "; ")}
	}
	host := e.host
	if hv, ok := h["Host"]; ok {
		host = hv[0]
		delete(h, "Host") // net/http keeps Host in r.Host, never in r.Header
	}
	r := &http.Request{
		Method:     e.method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       host,
		RequestURI: requestURI,
	}
	if major, minor, ok := http.ParseHTTPVersion(e.protocol); ok {
		r.Proto, r.ProtoMajor, r.ProtoMinor = e.protocol, major, minor
	}
	if e.sourceIP != "" {
		r.RemoteAddr = net.JoinHostPort(e.sourceIP, "0")
	}
	var n int
	if body != nil {
		n = len(body)
		r.Body = readCloser{bytes.NewReader(body)}
	} else {
		n = len(e.body)
		r.Body = readCloser{strings.NewReader(e.body)}
	}
	if n == 0 {
		r.Body = http.NoBody
	}
	r.ContentLength = int64(n)
	return r.WithContext(ctx), nil
}

type readCloser struct{ io.Reader }

func (readCloser) Close() error { return nil }

// encodeQuery rebuilds a query string from FC's map, sorted so that the same request always
// yields the same URL.
func encodeQuery(q map[string]string) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(q[k]))
	}
	return b.String()
}

// bufferedResponse is the http.ResponseWriter of an event-shaped HTTP invocation: the whole
// response becomes one event result, so it is buffered.
type bufferedResponse struct {
	header http.Header
	status int
	head   bool
	body   bytes.Buffer
}

var responsePool = sync.Pool{New: func() any { return new(bufferedResponse) }}

func (w *bufferedResponse) Header() http.Header { return w.header }

func (w *bufferedResponse) WriteHeader(code int) {
	if w.status != 0 || (code >= 100 && code < 200 && code != http.StatusSwitchingProtocols) {
		return // informational responses cannot be carried by an event result
	}
	w.status = code
}

func (w *bufferedResponse) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.head {
		return len(p), nil
	}
	return w.body.Write(p)
}

func (w *bufferedResponse) WriteString(s string) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.head {
		return len(s), nil
	}
	return w.body.WriteString(s)
}

// Flush does nothing: an event result is sent whole. It exists so handlers that flush still run.
func (w *bufferedResponse) Flush() {}

// result is a finished HTTP response in the form both event platforms need.
type result struct {
	status  int
	headers map[string]string
	cookies []string // every Set-Cookie value, for platforms that carry them apart (AWS)
	body    string
	base64  bool
}

// serve runs h on the event and collects the response. A panic in h becomes a 500 problem,
// dropping whatever h had buffered.
func serve(ctx context.Context, h http.Handler, e *httpEvent) (res result, err error) {
	r, err := e.request(ctx)
	if err != nil {
		return result{}, err
	}
	w := responsePool.Get().(*bufferedResponse)
	w.header = make(http.Header)
	w.status = 0
	w.head = r.Method == http.MethodHead
	w.body.Reset()
	defer func() {
		if w.body.Cap() <= 1<<20 { // don't pin huge buffers in the pool
			w.header = nil
			responsePool.Put(w)
		}
	}()
	if perr := serveSafely(h, w, r); perr != nil {
		return problemResult(http.StatusInternalServerError, RequestID(ctx)), nil
	}
	return w.result(), nil
}

func serveSafely(h http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				// A deliberate abort, already logged by whoever aborted; a buffered response
				// can still be replaced by a whole 500 instead of a cut one.
				err = &panicError{value: v}
				return
			}
			err = recovered(r.Context(), "HTTP handler", v)
		}
	}()
	h.ServeHTTP(w, r)
	return nil
}

func (w *bufferedResponse) result() result {
	res := result{status: w.status, headers: make(map[string]string, len(w.header)+1)}
	if res.status == 0 {
		res.status = http.StatusOK
	}
	body := w.body.Bytes()
	if _, ok := w.header["Content-Type"]; !ok && len(body) > 0 {
		w.header["Content-Type"] = []string{http.DetectContentType(body)} // as net/http would
	}
	for k, vs := range w.header {
		switch {
		case len(vs) == 0:
		case k == "Set-Cookie":
			res.cookies = vs
			res.headers[k] = vs[0]
		case len(vs) == 1:
			res.headers[k] = vs[0]
		default:
			res.headers[k] = strings.Join(vs, ", ")
		}
	}
	// A string body must survive JSON intact, so anything not valid UTF-8 (images, gzip)
	// travels as base64.
	if utf8.Valid(body) {
		res.body = string(body)
	} else {
		res.body = base64.StdEncoding.EncodeToString(body)
		res.base64 = true
	}
	return res
}

// problemResult is the response when the handler could not produce one.
func problemResult(status int, requestID string) result {
	return result{
		status:  status,
		headers: map[string]string{"Content-Type": "application/problem+json"},
		body:    problemBody(status, requestID),
	}
}

// problemBody is an RFC 9457 body matching what shared/httpapi writes, for the failures the
// runtime answers itself (panics, a failed initializer).
func problemBody(status int, requestID string) string {
	code := "internal"
	detail := "internal error"
	if status == http.StatusServiceUnavailable {
		code, detail = "unavailable", "service temporarily unavailable"
	}
	return `{"type":"about:blank","title":` + strconv.Quote(http.StatusText(status)) +
		`,"status":` + strconv.Itoa(status) + `,"detail":"` + detail + `","code":"` + code +
		`","instance":` + strconv.Quote(requestID) + "}"
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// fromFCEvent reads FC's HTTPTriggerEvent.
func fromFCEvent(ev *fcevents.HTTPTriggerEvent) *httpEvent {
	e := &httpEvent{
		method:   deref(ev.TriggerContext.Http.Method),
		rawPath:  deref(ev.RawPath),
		protocol: deref(ev.TriggerContext.Http.Protocol),
		sourceIP: deref(ev.TriggerContext.Http.SourceIp),
		host:     deref(ev.TriggerContext.DomainName),
		body:     deref(ev.Body),
	}
	if e.rawPath == "" {
		e.rawPath = deref(ev.TriggerContext.Http.Path)
	}
	if ev.IsBase64Encoded != nil {
		e.base64 = *ev.IsBase64Encoded
	}
	if ev.Headers != nil {
		e.headers = *ev.Headers
	}
	if ev.QueryParameters != nil {
		e.query = *ev.QueryParameters
	}
	return e
}

// fcHTTPEvent is the JSON of FC's HTTPTriggerEvent with value fields.
type fcHTTPEvent struct {
	RawPath         string            `json:"rawPath"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Headers         map[string]string `json:"headers"`
	QueryParameters map[string]string `json:"queryParameters"`
	RequestContext  struct {
		DomainName string `json:"domainName"`
		HTTP       struct {
			Method   string `json:"method"`
			Path     string `json:"path"`
			Protocol string `json:"protocol"`
			SourceIP string `json:"sourceIp"`
		} `json:"http"`
	} `json:"requestContext"`
}

func (ev *fcHTTPEvent) httpEvent() *httpEvent {
	e := &httpEvent{
		method:   ev.RequestContext.HTTP.Method,
		rawPath:  ev.RawPath,
		protocol: ev.RequestContext.HTTP.Protocol,
		sourceIP: ev.RequestContext.HTTP.SourceIP,
		host:     ev.RequestContext.DomainName,
		query:    ev.QueryParameters,
		headers:  ev.Headers,
		body:     ev.Body,
		base64:   ev.IsBase64Encoded,
	}
	if e.rawPath == "" {
		e.rawPath = ev.RequestContext.HTTP.Path
	}
	return e
}

// ServeHTTPTrigger runs h on one FC HTTP trigger event (the go1 runtime's HTTP shape) and
// returns the response FC expects. The request context is ctx; callers put the invocation in
// it. FC's response carries one value per header, so repeated headers are comma-joined, and it
// cannot carry two Set-Cookie headers: the first is kept and the rest are dropped with a
// warning (HTTP functions run on the custom runtime, where all of them pass).
func ServeHTTPTrigger(ctx context.Context, h http.Handler, ev *fcevents.HTTPTriggerEvent) (*fcevents.HTTPTriggerResponse, error) {
	return serveFC(ctx, h, fromFCEvent(ev))
}

func serveFC(ctx context.Context, h http.Handler, e *httpEvent) (*fcevents.HTTPTriggerResponse, error) {
	res, err := serve(ctx, h, e)
	if err != nil {
		return nil, err
	}
	if len(res.cookies) > 1 {
		slog.WarnContext(ctx, "FC HTTP trigger responses carry one Set-Cookie; extra cookies dropped",
			"kept", cookieName(res.cookies[0]), "dropped", len(res.cookies)-1)
	}
	return &fcevents.HTTPTriggerResponse{
		StatusCode:      res.status,
		Headers:         res.headers,
		IsBase64Encoded: res.base64,
		Body:            res.body,
	}, nil
}

func cookieName(setCookie string) string {
	name, _, _ := strings.Cut(setCookie, "=")
	return name
}

// ServeLambdaHTTP runs h on one API Gateway HTTP API (payload 2.0) or Lambda Function URL
// request; the two share this shape. Set-Cookie values travel in the response's cookies list,
// so all of them reach the client.
func ServeLambdaHTTP(ctx context.Context, h http.Handler, ev *awsevents.APIGatewayV2HTTPRequest) (*awsevents.LambdaFunctionURLResponse, error) {
	e := &httpEvent{
		method:   ev.RequestContext.HTTP.Method,
		rawPath:  ev.RawPath,
		protocol: ev.RequestContext.HTTP.Protocol,
		sourceIP: ev.RequestContext.HTTP.SourceIP,
		host:     ev.RequestContext.DomainName,
		rawQuery: ev.RawQueryString,
		headers:  ev.Headers,
		cookies:  ev.Cookies,
		body:     ev.Body,
		base64:   ev.IsBase64Encoded,
	}
	if e.rawQuery == "" && len(ev.QueryStringParameters) > 0 {
		e.query = ev.QueryStringParameters
	}
	res, err := serve(ctx, h, e)
	if err != nil {
		return nil, err
	}
	if res.cookies != nil {
		delete(res.headers, "Set-Cookie")
	}
	return &awsevents.LambdaFunctionURLResponse{
		StatusCode:      res.status,
		Headers:         res.headers,
		Body:            res.body,
		IsBase64Encoded: res.base64,
		Cookies:         res.cookies,
	}, nil
}
