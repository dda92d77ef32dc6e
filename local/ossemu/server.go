// Package ossemu is the local cloud's Object Storage Service: a wire-compatible OSS emulator
// that the real aliyun-oss-go-sdk, browsers (presigned URLs, PostObject forms, CORS) and ffmpeg
// (ranged GETs on presigned URLs) talk to. It owns buckets and objects stored as files under a
// data directory (written atomically, streamed both ways, surviving restarts), V1/V2/V4
// signature checks, storage classes with Archive restore on an injectable clock, multipart
// uploads, and the OSS triggers of s.yaml: every matching ObjectCreated/ObjectRemoved operation
// is handed to fcemu as an async invocation carrying the event JSON OSS would send.
//
// It serves one endpoint for all buckets, path-style (http://127.0.0.1:9100/bucket/key, what the
// SDK uses for an IP endpoint) or virtual-hosted (http://bucket.localhost:9100/key, or any host
// name whose first label is a bucket, which is what the SDK builds for a host-name endpoint).
package ossemu

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure an emulator. AccessKeyID, AccessKeySecret and DataDir are required.
type Options struct {
	AccessKeyID, AccessKeySecret string // the one account's credentials; every signature is checked against them
	DataDir                      string // objects and metadata live here

	Region    string   // for event ARNs, V4 signing scope and x-oss-… answers; default "cn-hangzhou"
	AccountID string   // for bucket ARNs and owners in events and listings; default "1234567890123456"
	Buckets   []string // created (Standard, private) at Open if missing

	// Now is the simulation clock: LastModified, restore progress and expiry, minimum storage
	// durations and usage follow it, so tests and tiering simulations can jump days ahead.
	// nil = time.Now.
	Now func() time.Time
	// WallClock is what request signatures (Date skew, presigned Expires, policy expiration)
	// are checked against. It stays apart from Now because signers — the SDK inside functions,
	// browsers — sign with the real clock even while the simulation clock runs days ahead.
	// nil = time.Now.
	WallClock func() time.Time

	// RestoreDelay is how long an Archive restore takes; ColdArchive and DeepColdArchive take
	// multiples of it by tier (see restoreDuration). Default 1 minute.
	RestoreDelay time.Duration

	// SkipAuth accepts every request as the account owner without checking signatures. It is an
	// escape hatch for debugging with plain curl, never the default.
	SkipAuth bool
	// NoSync skips fsync on writes. A process crash still loses nothing (the kernel has the
	// data), a power cut may. For throwaway test directories.
	NoSync bool

	// CORS rules given to the buckets Open creates or finds without a CORS configuration, so a
	// web page on another origin can PUT/POST to presigned URLs out of the box.
	CORS []CORSRule

	Triggers []Trigger
	Invoker  Invoker // receives the events of Triggers; may also be set later with SetInvoker
	Logger   *slog.Logger
}

// Trigger is one OSS trigger of s.yaml.
type Trigger struct {
	Function, Name string   // function and trigger name from s.yaml
	Bucket         string   // from sourceArn acs:oss:{region}:{account}:{bucket}
	Events         []string // as written in s.yaml: "oss:ObjectCreated:PutObject", "oss:ObjectCreated:*", ...
	Prefix, Suffix string
}

// Invoker starts a function asynchronously, as FC does for OSS triggers. local/fcemu implements it.
type Invoker interface {
	InvokeAsync(ctx context.Context, function, trigger string, payload []byte) error
}

// Server is a running emulator. It is an http.Handler; Close releases it.
type Server struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	wall   func() time.Time
	root   string
	sync   bool
	closed atomic.Bool

	mu      sync.RWMutex
	buckets map[string]*bucket

	reqSeq  atomic.Uint64
	reqSalt uint64

	appendLocks [64]sync.Mutex // serialise AppendObject per key

	events *dispatcher

	inproc struct {
		once   sync.Once
		ln     *memListener
		srv    *http.Server
		client *http.Client
	}
}

const (
	defaultRegion    = "cn-hangzhou"
	defaultAccountID = "1234567890123456"
)

// Open starts an emulator on opts.DataDir, loading what an earlier run stored there.
func Open(opts Options) (*Server, error) {
	if opts.AccessKeyID == "" || opts.AccessKeySecret == "" {
		return nil, errors.New("ossemu: AccessKeyID and AccessKeySecret are required")
	}
	if opts.DataDir == "" {
		return nil, errors.New("ossemu: DataDir is required")
	}
	if opts.Region == "" {
		opts.Region = defaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = defaultAccountID
	}
	if opts.RestoreDelay <= 0 {
		opts.RestoreDelay = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	for _, t := range opts.Triggers {
		if err := t.validate(); err != nil {
			return nil, err
		}
	}
	for _, rule := range opts.CORS {
		if err := rule.validate(); err != nil {
			return nil, fmt.Errorf("ossemu: CORS rule: %w", err)
		}
	}
	root, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		now:     opts.Now,
		wall:    opts.WallClock,
		root:    root,
		sync:    !opts.NoSync,
		buckets: map[string]*bucket{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.wall == nil {
		s.wall = time.Now
	}
	var salt [8]byte
	rand.Read(salt[:])
	s.reqSalt = binary.BigEndian.Uint64(salt[:])
	if err := s.load(); err != nil {
		return nil, err
	}
	for _, name := range opts.Buckets {
		if !validBucketName(name) {
			return nil, fmt.Errorf("ossemu: bucket name %q is not valid (3-63 lowercase letters, digits and hyphens)", name)
		}
		if s.bucket(name) != nil {
			continue
		}
		if _, err := s.createBucket(name, bucketConfig{StorageClass: classStandard, ACL: aclPrivate, CORS: opts.CORS}); err != nil {
			return nil, err
		}
	}
	if len(opts.CORS) > 0 {
		for _, b := range s.bucketList() {
			if err := s.defaultCORS(b, opts.CORS); err != nil {
				return nil, err
			}
		}
	}
	s.events, err = startDispatcher(s, filepath.Join(root, "events"), opts.Invoker)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// SetInvoker hands the events of the triggers to inv from now on; events that waited for an
// invoker (recorded on disk) are delivered first. It lets the local cloud start OSS before fcemu.
func (s *Server) SetInvoker(inv Invoker) { s.events.setInvoker(inv) }

// SetTriggers replaces the triggers events are matched against.
func (s *Server) SetTriggers(triggers []Trigger) error {
	for _, t := range triggers {
		if err := t.validate(); err != nil {
			return err
		}
	}
	s.events.setTriggers(triggers)
	return nil
}

// Close stops event delivery (undelivered events stay on disk for the next Open) and the
// in-process client's server. Requests after Close are refused.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	var errs []error
	if s.inproc.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, s.inproc.srv.Shutdown(ctx))
		cancel()
	}
	s.events.close()
	for _, b := range s.bucketList() {
		errs = append(errs, s.saveUsage(b))
	}
	return errors.Join(errs...)
}

// requestID makes OSS-style request ids: 24 upper-case hex digits, unique per server.
func (s *Server) requestID() string {
	n := s.reqSeq.Add(1)
	return fmt.Sprintf("%08X%016X", uint32(s.wall().Unix()), n^s.reqSalt)
}

// call is one request being served.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	id     string
	bucket string // "" for service-level requests
	key    string // "" for bucket-level requests
	q      url.Values
	owner  bool // authenticated as the account (or SkipAuth); false = anonymous
	status int
}

func (c *call) fail(e *apiError) {
	c.status = e.Status
	writeError(c.w, c.r, e, c.id)
}

// ServeHTTP answers one OSS REST request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{s: s, w: w, r: r, id: s.requestID(), status: http.StatusOK}
	h := w.Header()
	h.Set("x-oss-request-id", c.id)
	h.Set("Server", "AliyunOSS")
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("ossemu: panic", "panic", v, "method", r.Method, "url", r.URL.String(), "request_id", c.id)
			c.fail(errInternal)
		}
		s.log.Debug("oss request", "method", r.Method, "url", r.URL.String(), "status", c.status,
			"request_id", c.id, "signed", c.owner, "duration", time.Since(start))
	}()
	if s.closed.Load() {
		c.fail(errServiceClosed)
		return
	}
	var err error
	if c.q, err = url.ParseQuery(r.URL.RawQuery); err != nil {
		c.fail(errInvalidArgument.withMessage("The query string is not valid: %v", err))
		return
	}
	c.bucket, c.key = s.splitTarget(r)
	if c.bucket != "" && !validBucketName(c.bucket) {
		c.fail(errInvalidBucketName.with("BucketName", c.bucket))
		return
	}
	if r.Method == http.MethodOptions {
		s.preflight(c)
		return
	}
	s.applyCORS(c)
	if e := s.authenticate(c); e != nil {
		c.fail(e)
		return
	}
	s.route(c)
}

// splitTarget finds the bucket and key. Virtual-hosted style (bucket.host/key, the SDK's
// default for host names) is recognised when the host name's first label is a bucket, or the
// host is under .localhost (browsers resolve *.localhost to loopback); otherwise the first
// path segment is the bucket (path style, what the SDK uses for IP endpoints).
func (s *Server) splitTarget(r *http.Request) (bucket, key string) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if first, rest, ok := strings.Cut(host, "."); ok && net.ParseIP(host) == nil && rest != "" {
		if rest == "localhost" || (validBucketName(first) && s.bucket(first) != nil) {
			return first, p
		}
	}
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

func (c *call) has(param string) bool {
	_, ok := c.q[param]
	return ok
}

// route dispatches an authenticated request to its operation.
func (s *Server) route(c *call) {
	r := c.r
	if c.bucket == "" {
		if r.Method == http.MethodGet {
			s.listBuckets(c)
			return
		}
		c.fail(errMethodNotAllowed)
		return
	}
	if c.key == "" {
		s.routeBucket(c)
		return
	}
	if e := checkObjectName(c.key); e != nil {
		c.fail(e)
		return
	}
	switch r.Method {
	case http.MethodPut:
		switch {
		case c.has("uploadId") && r.Header.Get("x-oss-copy-source") != "":
			s.uploadPartCopy(c)
		case c.has("uploadId"):
			s.uploadPart(c)
		case c.has("acl"):
			s.putObjectACL(c)
		case c.has("tagging"), c.has("symlink"):
			c.fail(errNotImplemented)
		case r.Header.Get("x-oss-copy-source") != "":
			s.copyObject(c)
		default:
			s.putObject(c)
		}
	case http.MethodGet:
		switch {
		case c.has("uploadId"):
			s.listParts(c)
		case c.has("acl"):
			s.getObjectACL(c)
		case c.has("tagging"), c.has("symlink"):
			c.fail(errNotImplemented)
		default:
			s.getObject(c)
		}
	case http.MethodHead:
		if c.has("objectMeta") {
			s.getObjectMeta(c)
		} else {
			s.getObject(c)
		}
	case http.MethodPost:
		switch {
		case c.has("uploads"):
			s.initiateMultipart(c)
		case c.has("uploadId"):
			s.completeMultipart(c)
		case c.has("append"):
			s.appendObject(c)
		case c.has("restore"):
			s.restoreObject(c)
		default:
			c.fail(errMethodNotAllowed)
		}
	case http.MethodDelete:
		if c.has("uploadId") {
			s.abortMultipart(c)
		} else {
			s.deleteObject(c)
		}
	default:
		c.fail(errMethodNotAllowed)
	}
}

func (s *Server) routeBucket(c *call) {
	r := c.r
	switch r.Method {
	case http.MethodPut:
		switch {
		case c.has("acl"):
			s.putBucketACL(c)
		case c.has("cors"):
			s.putBucketCORS(c)
		case hasAnySubresource(c.q):
			c.fail(errNotImplemented)
		default:
			s.putBucket(c)
		}
	case http.MethodGet:
		switch {
		case c.has("bucketInfo"):
			s.getBucketInfo(c)
		case c.has("acl"):
			s.getBucketACL(c)
		case c.has("cors"):
			s.getBucketCORS(c)
		case c.has("location"):
			s.getBucketLocation(c)
		case c.has("stat"):
			s.getBucketStat(c)
		case c.has("uploads"):
			s.listMultipartUploads(c)
		case c.q.Get("list-type") == "2":
			s.listObjects(c, true)
		case hasAnyOtherSubresource(c.q):
			c.fail(errNotImplemented)
		default:
			s.listObjects(c, false)
		}
	case http.MethodHead:
		if b := s.bucket(c.bucket); b == nil {
			c.fail(errNoSuchBucket.with("BucketName", c.bucket))
		}
	case http.MethodPost:
		switch {
		case c.has("delete"):
			s.deleteMultipleObjects(c)
		case strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/form-data"):
			s.postObject(c)
		default:
			c.fail(errMethodNotAllowed)
		}
	case http.MethodDelete:
		switch {
		case c.has("cors"):
			s.deleteBucketCORS(c)
		case hasAnySubresource(c.q):
			c.fail(errNotImplemented)
		default:
			s.deleteBucket(c)
		}
	default:
		c.fail(errMethodNotAllowed)
	}
}

// hasAnySubresource reports a sub-resource parameter (presigned URLs add only others).
func hasAnySubresource(q url.Values) bool {
	for k := range q {
		if signedSubresource[k] && k != "security-token" {
			return true
		}
	}
	return false
}

// hasAnyOtherSubresource reports a bucket sub-resource this emulator does not implement
// (lifecycle, website, ...), so such a GET is not mistaken for a listing.
func hasAnyOtherSubresource(q url.Values) bool {
	listing := map[string]bool{"prefix": true, "delimiter": true, "marker": true, "max-keys": true,
		"encoding-type": true, "list-type": true, "continuation-token": true, "start-after": true, "fetch-owner": true}
	for k := range q {
		if !listing[k] && signedSubresource[k] {
			return true
		}
	}
	return false
}
