package otsemu

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	pb "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore/otsprotocol"
	"github.com/golang/protobuf/proto"
)

const (
	apiVersion = "2015-12-31"
	// maxBody bounds a request body: the 4 MB data limit of writes plus protocol overhead.
	maxBody = 5 << 20
	// maxDateSkew is how far x-ots-date may be from the server's wall clock.
	maxDateSkew = 15 * time.Minute
)

// requiredHeaders must be present on every request.
var requiredHeaders = []string{"x-ots-date", "x-ots-apiversion", "x-ots-accesskeyid", "x-ots-contentmd5", "x-ots-instancename", "x-ots-signature"}

// ServeHTTP answers one Tablestore API call: POST /{Action} with a protobuf body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := s.requestID()
	action := strings.TrimPrefix(r.URL.Path, "/")
	var (
		out    []byte
		apiErr *apiError
		signed bool
	)
	func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("otsemu: panic serving request", "action", action, "panic", p, "stack", string(debug.Stack()))
				out, apiErr = nil, newError(CodeInternalServerError)
			}
		}()
		out, signed, apiErr = s.serve(r, action)
	}()
	// Headers are stored under their canonical keys directly: this runs for every request.
	h := w.Header()
	h["X-Ots-Requestid"] = []string{reqID}
	h["X-Ots-Date"] = []string{s.httpDate()}
	h["X-Ots-Contenttype"] = []string{"protocol buffer"}
	h["Content-Type"] = []string{"application/x-protobuf"}
	status := http.StatusOK
	if apiErr != nil {
		status = apiErr.status
		out, _ = proto.Marshal(&pb.Error{Code: proto.String(apiErr.code), Message: proto.String(apiErr.message)})
	}
	sum := md5.Sum(out)
	h["X-Ots-Contentmd5"] = []string{base64.StdEncoding.EncodeToString(sum[:])}
	if signed {
		// Responses are signed like requests (the Java and Python SDKs verify it), with the
		// secret of the key that signed the request.
		h["Authorization"] = []string{"OTS " + s.opts.AccessKeyID + ":" + s.responseSignature(h, action)}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	w.WriteHeader(status)
	w.Write(out)
	if apiErr != nil {
		s.log.Debug("otsemu request failed", "action", action, "status", status, "code", apiErr.code, "message", apiErr.message, "request_id", reqID, "duration", time.Since(start))
	} else {
		s.log.Debug("otsemu request", "action", action, "request_id", reqID, "duration", time.Since(start))
	}
}

// serve authenticates and dispatches; signed reports whether the caller proved it holds the
// secret, in which case the response is signed too.
func (s *Server) serve(r *http.Request, action string) ([]byte, bool, *apiError) {
	if s.closed.Load() {
		return nil, false, errorf(CodeServerUnavailable, "The server is shutting down.")
	}
	if r.Method != http.MethodPost {
		return nil, false, newError(CodeMethodNotAllowed)
	}
	if r.ContentLength > maxBody {
		return nil, false, newError(CodeRequestBodyTooLarge)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, false, errorf(CodeParameterInvalid, "Failed to read the request body: %v.", err)
	}
	if len(body) > maxBody {
		return nil, false, newError(CodeRequestBodyTooLarge)
	}
	if e := s.authenticate(r, action, body); e != nil {
		return nil, false, e
	}
	h, ok := handlers[action]
	if !ok {
		return nil, true, invalid("Unsupported operation: %s.", action)
	}
	if e := s.injectedFault(action); e != nil {
		return nil, true, e
	}
	resp, e := h(s, body)
	if e != nil {
		return nil, true, e
	}
	out, err := proto.Marshal(resp)
	if err != nil {
		// A response missing a required field is a bug in the emulator, not in the caller.
		s.log.Error("otsemu: marshalling response", "action", action, "err", err)
		return nil, true, newError(CodeInternalServerError)
	}
	return out, true, nil
}

// authenticate checks the headers the SDKs send, the body MD5 and the HMAC-SHA1 signature.
func (s *Server) authenticate(r *http.Request, action string, body []byte) *apiError {
	for _, name := range requiredHeaders {
		if r.Header.Get(name) == "" {
			return invalid("Missing header: %s.", name)
		}
	}
	date := r.Header.Get("x-ots-date")
	// The Go SDK writes a fixed ".123" fraction; only the seconds are meaningful.
	t, err := time.Parse("2006-01-02T15:04:05", strings.TrimSuffix(strings.SplitN(date, ".", 2)[0], "Z"))
	if err != nil {
		return invalid("Invalid date format: %s.", date)
	}
	if v := r.Header.Get("x-ots-apiversion"); v != apiVersion {
		return invalid("Unsupported API version: %s.", v)
	}
	if r.Header.Get("x-ots-accesskeyid") != s.opts.AccessKeyID {
		return errorf(CodeAuthFailed, "The AccessKeyID does not exist.")
	}
	if s.opts.Instance != "" && r.Header.Get("x-ots-instancename") != s.opts.Instance {
		return errorf(CodeAuthFailed, "The instance is not found.")
	}
	sum := md5.Sum(body)
	if r.Header.Get("x-ots-contentmd5") != base64.StdEncoding.EncodeToString(sum[:]) {
		return errorf(CodeAuthFailed, "Mismatch between MD5 value of request body and x-ots-contentmd5 in header.")
	}
	want := s.requestSignature(r.Header, action)
	if !hmac.Equal([]byte(want), []byte(r.Header.Get("x-ots-signature"))) {
		return errorf(CodeAuthFailed, "Signature mismatch.")
	}
	// The date is the caller's wall clock, so it is checked against ours, not against the
	// emulated clock (which simulations move by days).
	if d := time.Since(t); d > maxDateSkew || d < -maxDateSkew {
		return errorf(CodeAuthFailed, "Mismatch between system time and x-ots-date: %s.", date)
	}
	return nil
}

// otsHeaderLines returns "name:value\n" for every x-ots-* header except the signature, sorted.
func otsHeaderLines(h http.Header) string {
	var buf [12]string
	lines := buf[:0]
	n := 0
	for k, vs := range h {
		if len(k) < 6 || !strings.EqualFold(k[:6], "x-ots-") || len(vs) == 0 {
			continue
		}
		lk := strings.ToLower(k)
		if lk == "x-ots-signature" {
			continue
		}
		line := lk + ":" + strings.TrimSpace(vs[0]) + "\n"
		n += len(line)
		lines = append(lines, line)
	}
	slices.Sort(lines)
	var b strings.Builder
	b.Grow(n)
	for _, l := range lines {
		b.WriteString(l)
	}
	return b.String()
}

func (s *Server) hmac(text string) string {
	m, _ := s.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha1.New, []byte(s.opts.AccessKeySecret))
	}
	m.Reset()
	io.WriteString(m, text)
	var sum [sha1.Size]byte
	out := base64.StdEncoding.EncodeToString(m.Sum(sum[:0]))
	s.macs.Put(m)
	return out
}

// httpDate formats the wall clock for x-ots-date, once per second.
func (s *Server) httpDate() string {
	now := time.Now().Unix()
	if d := s.date.Load(); d != nil && d.unix == now {
		return d.text
	}
	d := &cachedDate{unix: now, text: time.Unix(now, 0).UTC().Format("2006-01-02T15:04:05.000Z")}
	s.date.Store(d)
	return d.text
}

type cachedDate struct {
	unix int64
	text string
}

// requestSignature: "/Action\nPOST\n\n" followed by the canonical x-ots headers.
func (s *Server) requestSignature(h http.Header, action string) string {
	return s.hmac("/" + action + "\nPOST\n\n" + otsHeaderLines(h))
}

// responseSignature: the canonical x-ots headers followed by "/Action".
func (s *Server) responseSignature(h http.Header, action string) string {
	return s.hmac(otsHeaderLines(h) + "/" + action)
}

// handlers maps each API action to its implementation.
var handlers = map[string]func(s *Server, body []byte) (proto.Message, *apiError){
	"CreateTable":   withRequest(func(s *Server, r *pb.CreateTableRequest) (proto.Message, *apiError) { return s.createTable(r) }),
	"ListTable":     func(s *Server, _ []byte) (proto.Message, *apiError) { return s.listTable() },
	"DescribeTable": withRequest(func(s *Server, r *pb.DescribeTableRequest) (proto.Message, *apiError) { return s.describeTable(r) }),
	"UpdateTable":   withRequest(func(s *Server, r *pb.UpdateTableRequest) (proto.Message, *apiError) { return s.updateTable(r) }),
	"DeleteTable":   withRequest(func(s *Server, r *pb.DeleteTableRequest) (proto.Message, *apiError) { return s.deleteTable(r) }),
	"PutRow":        withRequest(func(s *Server, r *pb.PutRowRequest) (proto.Message, *apiError) { return s.putRow(r) }),
	"GetRow":        withRequest(func(s *Server, r *pb.GetRowRequest) (proto.Message, *apiError) { return s.getRow(r) }),
	"UpdateRow":     withRequest(func(s *Server, r *pb.UpdateRowRequest) (proto.Message, *apiError) { return s.updateRow(r) }),
	"DeleteRow":     withRequest(func(s *Server, r *pb.DeleteRowRequest) (proto.Message, *apiError) { return s.deleteRow(r) }),
	"BatchGetRow":   withRequest(func(s *Server, r *pb.BatchGetRowRequest) (proto.Message, *apiError) { return s.batchGetRow(r) }),
	"BatchWriteRow": withRequest(func(s *Server, r *pb.BatchWriteRowRequest) (proto.Message, *apiError) { return s.batchWriteRow(r) }),
	"GetRange":      withRequest(func(s *Server, r *pb.GetRangeRequest) (proto.Message, *apiError) { return s.getRange(r) }),
}

// withRequest decodes the body into a fresh request message (which must hold every proto2
// required field) before calling fn.
func withRequest[R any, P interface {
	*R
	proto.Message
}](fn func(*Server, P) (proto.Message, *apiError)) func(*Server, []byte) (proto.Message, *apiError) {
	return func(s *Server, body []byte) (proto.Message, *apiError) {
		req := P(new(R))
		if err := proto.Unmarshal(body, req); err != nil {
			return nil, invalid("Invalid request body: %v.", err)
		}
		return fn(s, req)
	}
}

// Transport returns an http.RoundTripper that hands requests straight to the server, for
// TableStoreConfig.Transport: the SDK runs unmodified, without sockets.
func (s *Server) Transport() http.RoundTripper { return transport{s} }

type transport struct{ s *Server }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	if req.URL == nil {
		return nil, errors.New("otsemu: request without URL")
	}
	rec := &recorder{header: http.Header{}}
	r2 := req.Clone(req.Context())
	if req.Body == nil {
		r2.Body = http.NoBody
	}
	t.s.ServeHTTP(rec, r2)
	if req.Body != nil {
		req.Body.Close()
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}, nil
}

// recorder is the in-memory ResponseWriter behind Transport.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
