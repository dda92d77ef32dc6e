package ossemu

import (
	"bytes"
	"crypto/md5"
	"encoding"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"hash/crc64"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	maxObjectSize = 5 << 30 // PutObject, PostObject, AppendObject, UploadPart, CopyObject
	maxUserMeta   = 8 << 10
	xmlTimeFormat = "2006-01-02T15:04:05.000Z"
)

// storedHeaders are the standard headers an object keeps and answers with.
var storedHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

// videoTypes add the media types Go's table may lack, for objects put without Content-Type.
var videoTypes = map[string]string{
	".m3u8": "application/x-mpegURL", ".ts": "video/MP2T", ".mp4": "video/mp4", ".m4s": "video/iso.segment",
	".m4a": "audio/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
	".mkv": "video/x-matroska", ".flv": "video/x-flv", ".avi": "video/x-msvideo", ".vtt": "text/vtt",
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
	".json": "application/json", ".xml": "application/xml", ".txt": "text/plain",
}

// typeByKey is the Content-Type OSS gives an object uploaded without one.
func typeByKey(key string) string {
	ext := strings.ToLower(path.Ext(key))
	if t, ok := videoTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func checkObjectName(key string) *apiError {
	switch {
	case len(key) > 1023:
		return errInvalidObjectName.withMessage("The object name is longer than 1023 bytes.")
	case !utf8.ValidString(key):
		return errInvalidObjectName.withMessage("The object name is not valid UTF-8.")
	case strings.HasPrefix(key, "/") || strings.HasPrefix(key, `\`):
		return errInvalidObjectName.withMessage("The object name must not start with / or \\.")
	}
	return nil
}

// objectAttrs reads what an upload says about the object: type, stored headers, user metadata.
func objectAttrs(h http.Header, key string) (ctype string, stored, meta map[string]string, e *apiError) {
	ctype = h.Get("Content-Type")
	if ctype == "" {
		ctype = typeByKey(key)
	}
	for _, name := range storedHeaders {
		if v := h.Get(name); v != "" {
			if stored == nil {
				stored = map[string]string{}
			}
			stored[name] = v
		}
	}
	size := 0
	for k, v := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-meta-") {
			if meta == nil {
				meta = map[string]string{}
			}
			meta[lk] = v[0]
			size += len(lk) + len(v[0])
		}
	}
	if size > maxUserMeta {
		return "", nil, nil, errInvalidArgument.withMessage("The user metadata (x-oss-meta-*) exceeds 8 KB.")
	}
	return ctype, stored, meta, nil
}

// requestClass reads x-oss-storage-class, defaulting to the bucket's class.
func requestClass(h http.Header, b *bucket) (string, *apiError) {
	v := h.Get("x-oss-storage-class")
	if v == "" {
		b.mu.RLock()
		defer b.mu.RUnlock()
		return b.cfg.StorageClass, nil
	}
	c, ok := storageClasses[strings.ToLower(v)]
	if !ok {
		return "", errInvalidArgument.withMessage("Invalid storage class %q (Standard, IA, Archive, ColdArchive, DeepColdArchive).", v).with("ArgumentName", "x-oss-storage-class").with("ArgumentValue", v)
	}
	return c, nil
}

func requestObjectACL(h http.Header) (string, *apiError) {
	v := h.Get("x-oss-object-acl")
	switch v {
	case "":
		return "", nil
	case aclDefault, aclPrivate, aclPublicRead, aclPublicReadWrite:
		return v, nil
	}
	return "", errInvalidArgument.withMessage("Invalid object ACL %q.", v).with("ArgumentName", "x-oss-object-acl").with("ArgumentValue", v)
}

func forbidOverwrite(h http.Header) commitCheck {
	if !strings.EqualFold(h.Get("x-oss-forbid-overwrite"), "true") {
		return nil
	}
	return func(old *object) *apiError {
		if old != nil {
			return errFileAlreadyExists
		}
		return nil
	}
}

// checkContentMD5 compares the Content-MD5 header, if any, with the bytes received.
func checkContentMD5(h http.Header, sum []byte) *apiError {
	v := h.Get("Content-MD5")
	if v == "" {
		return nil
	}
	got, err := base64.StdEncoding.DecodeString(v)
	if err != nil || !bytes.Equal(got, sum) {
		return errInvalidDigest.with("ContentMD5", v)
	}
	return nil
}

func (s *Server) needBucket(c *call) *bucket {
	b := s.bucket(c.bucket)
	if b == nil {
		c.fail(errNoSuchBucket.with("BucketName", c.bucket))
	}
	return b
}

// receive streams the request body into a new data file of b, up to limit bytes, checking
// Content-MD5. On failure it has answered the client and removed the file.
func (s *Server) receive(c *call, b *bucket, body io.Reader, limit int64) *dataWriter {
	if c.r.ContentLength > limit {
		c.fail(errEntityTooLarge.with("MaxSizeAllowed", strconv.FormatInt(limit, 10)).with("ProposedSize", strconv.FormatInt(c.r.ContentLength, 10)))
		return nil
	}
	d, err := b.newData()
	if err != nil {
		c.fail(s.internal("create data file", err))
		return nil
	}
	if err := d.fill(body, limit, c.r.ContentLength); err != nil {
		d.discard()
		if errors.Is(err, errTooLarge) {
			c.fail(errEntityTooLarge.with("MaxSizeAllowed", strconv.FormatInt(limit, 10)))
		} else {
			c.fail(newError(400, "IncompleteBody", "0016-00000210", "The request body ended early or could not be read: "+err.Error()))
		}
		return nil
	}
	if e := checkContentMD5(c.r.Header, d.md5Sum()); e != nil {
		d.discard()
		c.fail(e)
		return nil
	}
	if err := d.finish(s.sync); err != nil {
		os.Remove(d.path)
		c.fail(s.internal("write data", err))
		return nil
	}
	return d
}

// putObject is PutObject: the body becomes the object, replacing any earlier one.
func (s *Server) putObject(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	class, e := requestClass(c.r.Header, b)
	if e != nil {
		c.fail(e)
		return
	}
	acl, e := requestObjectACL(c.r.Header)
	if e != nil {
		c.fail(e)
		return
	}
	ctype, stored, meta, e := objectAttrs(c.r.Header, c.key)
	if e != nil {
		c.fail(e)
		return
	}
	check := forbidOverwrite(c.r.Header)
	if check != nil && b.get(c.key) != nil {
		c.fail(errFileAlreadyExists)
		return
	}
	d := s.receive(c, b, c.r.Body, maxObjectSize)
	if d == nil {
		return
	}
	sum := d.md5Sum()
	o := &object{Key: c.key, Data: d.id, Size: d.n, ETag: etagOf(sum), CRC64: d.crc.Sum64(),
		ContentMD5: base64.StdEncoding.EncodeToString(sum), Type: typeNormal, Class: class, ACL: acl,
		Modified: s.now().UTC(), ContentType: ctype, Header: stored, Meta: meta}
	old, e := s.commit(b, o, check)
	if e != nil {
		os.Remove(d.path)
		c.fail(e)
		return
	}
	s.emit(c, "ObjectCreated:PutObject", o, old)
	h := c.w.Header()
	h.Set("ETag", o.ETag)
	h.Set("Content-MD5", o.ContentMD5)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC64, 10))
	c.w.WriteHeader(http.StatusOK)
}

// restoreHeader is x-oss-restore for o at now, or "" when no restore was asked for.
func restoreHeader(o *object, now time.Time) string {
	r := o.Restore
	if r == nil || !now.Before(r.Expires) {
		return ""
	}
	if now.Before(r.Ready) {
		return `ongoing-request="true"`
	}
	return `ongoing-request="false", expiry-date="` + r.Expires.UTC().Format(http.TimeFormat) + `"`
}

// readable reports whether o's bytes can be read now: not archived, or restored and unexpired.
func readable(o *object, now time.Time) bool {
	if !isArchived(o.Class) {
		return true
	}
	r := o.Restore
	return r != nil && !now.Before(r.Ready) && now.Before(r.Expires)
}

func setObjectHeaders(h http.Header, o *object, now time.Time) {
	h.Set("Content-Type", o.ContentType)
	h.Set("ETag", o.ETag)
	h.Set("Last-Modified", o.Modified.UTC().Format(http.TimeFormat))
	h.Set("x-oss-object-type", o.Type)
	h.Set("x-oss-storage-class", o.Class)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC64, 10))
	h.Set("Accept-Ranges", "bytes")
	if o.ContentMD5 != "" && o.Type == typeNormal {
		h.Set("Content-MD5", o.ContentMD5)
	}
	if o.Type == typeAppendable {
		h.Set("x-oss-next-append-position", strconv.FormatInt(o.Size, 10))
	}
	for k, v := range o.Header {
		h.Set(k, v)
	}
	for k, v := range o.Meta {
		h.Set(k, v)
	}
	if v := restoreHeader(o, now); v != "" {
		h.Set("x-oss-restore", v)
	}
}

func etagMatches(list, etag string) bool {
	bare := strings.Trim(etag, `"`)
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "*" || strings.EqualFold(strings.Trim(e, `"`), bare) {
			return true
		}
	}
	return false
}

// preconditions applies If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since
// (RFC 9110 order). It returns 0 to go on, 304 or 412.
func preconditions(h http.Header, o *object) int {
	mod := o.Modified.Truncate(time.Second)
	if v := h.Get("If-Match"); v != "" {
		if !etagMatches(v, o.ETag) {
			return http.StatusPreconditionFailed
		}
	} else if v := h.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && mod.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if v := h.Get("If-None-Match"); v != "" {
		if etagMatches(v, o.ETag) {
			return http.StatusNotModified
		}
	} else if v := h.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !mod.After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

// parseRange reads a single "bytes=a-b", "bytes=a-" or "bytes=-n" range. ok is false when the
// header is absent or malformed (OSS then serves the whole object); unsatisfiable is set when
// the range starts beyond the object.
func parseRange(v string, size int64) (start, length int64, ok, unsatisfiable bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, z, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false, false
	}
	a, z = strings.TrimSpace(a), strings.TrimSpace(z)
	if a == "" {
		n, err := strconv.ParseInt(z, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false, false
		}
		if n > size {
			n = size
		}
		if n == 0 {
			return 0, 0, false, true
		}
		return size - n, n, true, false
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, 0, false, false
	}
	last := size - 1
	if z != "" {
		if last, err = strconv.ParseInt(z, 10, 64); err != nil || last < first {
			return 0, 0, false, false
		}
	}
	if first >= size {
		return 0, 0, false, true
	}
	if last >= size {
		last = size - 1
	}
	return first, last - first + 1, true, false
}

var responseOverrides = map[string]string{
	"response-content-type": "Content-Type", "response-content-language": "Content-Language",
	"response-expires": "Expires", "response-cache-control": "Cache-Control",
	"response-content-disposition": "Content-Disposition", "response-content-encoding": "Content-Encoding",
}

// getObject is GetObject and HeadObject.
func (s *Server) getObject(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	o, f, e := s.openData(b, c.key)
	if e != nil {
		c.fail(e)
		return
	}
	defer f.Close()
	now := s.now()
	h := c.w.Header()
	setObjectHeaders(h, o, now)
	if c.r.Method == http.MethodGet && !readable(o, now) {
		c.fail(errInvalidObjectState.withMessage("The operation is not valid for the object's state: %s objects must be restored (RestoreObject) before they can be read.", o.Class))
		return
	}
	switch preconditions(c.r.Header, o) {
	case http.StatusNotModified:
		c.status = http.StatusNotModified
		for _, k := range []string{"Content-Type", "Content-Md5", "X-Oss-Hash-Crc64ecma"} {
			h.Del(k)
		}
		c.w.WriteHeader(http.StatusNotModified)
		return
	case http.StatusPreconditionFailed:
		c.fail(errPreconditionFailed)
		return
	}
	for p, name := range responseOverrides {
		if v := c.q.Get(p); v != "" {
			h.Set(name, v)
		}
	}
	start, length, status := int64(0), o.Size, http.StatusOK
	if rv := c.r.Header.Get("Range"); rv != "" && c.r.Method == http.MethodGet {
		first, n, ok, unsatisfiable := parseRange(rv, o.Size)
		standard := strings.EqualFold(c.r.Header.Get("x-oss-range-behavior"), "standard")
		switch {
		case ok:
			start, length, status = first, n, http.StatusPartialContent
			h.Set("Content-Range", "bytes "+strconv.FormatInt(first, 10)+"-"+strconv.FormatInt(first+n-1, 10)+"/"+strconv.FormatInt(o.Size, 10))
		case unsatisfiable && standard:
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(o.Size, 10))
			c.fail(errInvalidRange)
			return
		}
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	c.status = status
	c.w.WriteHeader(status)
	if c.r.Method == http.MethodHead || length == 0 {
		return
	}
	if start > 0 {
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			s.log.Error("ossemu: seek", "err", err)
			return
		}
	}
	// *os.File inside an io.LimitedReader lets net/http use sendfile(2).
	n, err := io.Copy(c.w, &io.LimitedReader{R: f, N: length})
	if err != nil {
		s.log.Debug("ossemu: GET body cut short", "key", c.key, "sent", n, "err", err)
	}
	b.mu.Lock()
	b.usage.retrieve(o.Class, n)
	b.mu.Unlock()
}

// getObjectMeta is GetObjectMeta: the basic facts without user metadata.
func (s *Server) getObjectMeta(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	o := b.get(c.key)
	if o == nil {
		c.fail(errNoSuchKey.with("Key", c.key))
		return
	}
	h := c.w.Header()
	h.Set("ETag", o.ETag)
	h.Set("Content-Length", strconv.FormatInt(o.Size, 10))
	h.Set("Last-Modified", o.Modified.UTC().Format(http.TimeFormat))
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC64, 10))
	c.w.WriteHeader(http.StatusOK)
}

// deleteObject is DeleteObject: 204 whether or not the key existed.
func (s *Server) deleteObject(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	old, e := s.remove(b, c.key)
	if e != nil {
		c.fail(e)
		return
	}
	if old != nil {
		s.emit(c, "ObjectRemoved:DeleteObject", old, nil)
	}
	c.status = http.StatusNoContent
	c.w.WriteHeader(http.StatusNoContent)
}

// readSmallBody reads a request body meant to be a small XML document.
func readSmallBody(c *call, limit int64) ([]byte, *apiError) {
	body, err := io.ReadAll(io.LimitReader(c.r.Body, limit+1))
	if err != nil {
		return nil, errMalformedXML.withMessage("The request body could not be read: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, errEntityTooLarge.withMessage("The XML document exceeds %d bytes.", limit)
	}
	if e := checkContentMD5(c.r.Header, md5sum(body)); e != nil {
		return nil, e
	}
	return body, nil
}

func md5sum(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}

// deleteMultipleObjects is DeleteMultipleObjects, quiet or verbose.
func (s *Server) deleteMultipleObjects(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	body, e := readSmallBody(c, 2<<20)
	if e != nil {
		c.fail(e)
		return
	}
	var req struct {
		Quiet  bool
		Object []struct{ Key string }
	}
	if err := xml.Unmarshal(body, &req); err != nil {
		c.fail(errMalformedXML)
		return
	}
	if len(req.Object) == 0 || len(req.Object) > 1000 {
		c.fail(errMalformedXML.withMessage("DeleteMultipleObjects takes 1 to 1000 keys, got %d.", len(req.Object)))
		return
	}
	urlEnc := c.q.Get("encoding-type") == "url"
	type deleted struct {
		Key string
	}
	res := struct {
		XMLName      xml.Name  `xml:"DeleteResult"`
		EncodingType string    `xml:",omitempty"`
		Deleted      []deleted `xml:"Deleted"`
	}{}
	if urlEnc {
		res.EncodingType = "url"
	}
	for _, ob := range req.Object {
		if e := checkObjectName(ob.Key); e != nil || ob.Key == "" {
			c.fail(errInvalidObjectName.with("Key", ob.Key))
			return
		}
	}
	for _, ob := range req.Object {
		old, e := s.remove(b, ob.Key)
		if e != nil {
			c.fail(e)
			return
		}
		if old != nil {
			s.emit(c, "ObjectRemoved:DeleteObjects", old, nil)
		}
		if !req.Quiet {
			k := ob.Key
			if urlEnc {
				k = url.QueryEscape(k)
			}
			res.Deleted = append(res.Deleted, deleted{k})
		}
	}
	writeXML(c, http.StatusOK, res)
}

// writeXML answers with an XML document.
func writeXML(c *call, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		c.fail(c.s.internal("marshal XML", err))
		return
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	c.status = status
	c.w.WriteHeader(status)
	io.WriteString(c.w, xml.Header)
	c.w.Write(body)
}

// copySource parses x-oss-copy-source: /bucket/url-encoded-key.
func copySource(v string) (bucket, key string, e *apiError) {
	v = strings.TrimPrefix(v, "/")
	if strings.Contains(v, "?versionId=") {
		return "", "", errNotImplemented.withMessage("Versioned copy sources are not supported by the local OSS emulator.")
	}
	bucket, enc, ok := strings.Cut(v, "/")
	if !ok || enc == "" {
		return "", "", errInvalidArgument.withMessage("x-oss-copy-source %q is not /bucket/key.", v).with("ArgumentName", "x-oss-copy-source")
	}
	key, err := url.QueryUnescape(enc)
	if err != nil {
		return "", "", errInvalidArgument.withMessage("x-oss-copy-source key is not URL-encoded correctly.").with("ArgumentName", "x-oss-copy-source")
	}
	if e := checkObjectName(key); e != nil {
		return "", "", e
	}
	return bucket, key, nil
}

// copyConditions applies x-oss-copy-source-if-* to the source.
func copyConditions(h http.Header, o *object) *apiError {
	mod := o.Modified.Truncate(time.Second)
	if v := h.Get("x-oss-copy-source-if-match"); v != "" && !etagMatches(v, o.ETag) {
		return errPreconditionFailed
	}
	if v := h.Get("x-oss-copy-source-if-none-match"); v != "" && etagMatches(v, o.ETag) {
		return errPreconditionFailed
	}
	if v := h.Get("x-oss-copy-source-if-unmodified-since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && mod.After(t) {
			return errPreconditionFailed
		}
	}
	if v := h.Get("x-oss-copy-source-if-modified-since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !mod.After(t) {
			return errPreconditionFailed
		}
	}
	return nil
}

// openSource finds and opens the copy source named by the request, checking that it may be
// read now.
func (s *Server) openSource(c *call) (*bucket, *object, *os.File, *apiError) {
	sb, sk, e := copySource(c.r.Header.Get("x-oss-copy-source"))
	if e != nil {
		return nil, nil, nil, e
	}
	src := s.bucket(sb)
	if src == nil {
		return nil, nil, nil, errNoSuchBucket.with("BucketName", sb)
	}
	so, f, e := s.openData(src, sk)
	if e != nil {
		return nil, nil, nil, e
	}
	if !readable(so, s.now()) {
		f.Close()
		return nil, nil, nil, errInvalidObjectState.withMessage("The source is a %s object that has not been restored.", so.Class)
	}
	if e := copyConditions(c.r.Header, so); e != nil {
		f.Close()
		return nil, nil, nil, e
	}
	return src, so, f, nil
}

// copyObject is CopyObject; a copy onto itself is how OSS changes an object's storage class
// or metadata.
func (s *Server) copyObject(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	src, so, f, e := s.openSource(c)
	if e != nil {
		c.fail(e)
		return
	}
	defer f.Close()
	if so.Size > maxObjectSize {
		c.fail(errEntityTooLarge.withMessage("CopyObject copies objects up to 5 GB; use UploadPartCopy for larger ones."))
		return
	}
	class, e := requestClass(c.r.Header, b)
	if e != nil {
		c.fail(e)
		return
	}
	acl, e := requestObjectACL(c.r.Header)
	if e != nil {
		c.fail(e)
		return
	}
	o := so.clone()
	o.Key, o.Class, o.ACL, o.Modified, o.Restore, o.MD5State = c.key, class, acl, s.now().UTC(), nil, nil
	if o.Type == typeAppendable {
		o.Type = typeNormal
	}
	switch d := strings.ToUpper(c.r.Header.Get("x-oss-metadata-directive")); d {
	case "", "COPY":
	case "REPLACE":
		ctype, stored, meta, e := objectAttrs(c.r.Header, c.key)
		if e != nil {
			c.fail(e)
			return
		}
		o.ContentType, o.Header, o.Meta = ctype, stored, meta
	default:
		c.fail(errInvalidArgument.withMessage("x-oss-metadata-directive must be COPY or REPLACE, not %q.", d).with("ArgumentName", "x-oss-metadata-directive"))
		return
	}
	check := forbidOverwrite(c.r.Header)
	if check != nil && b.get(c.key) != nil {
		c.fail(errFileAlreadyExists)
		return
	}
	id, err := s.cloneData(src, so, f, b)
	if err != nil {
		c.fail(s.internal("copy data", err))
		return
	}
	o.Data = id
	old, e := s.commit(b, o, check)
	if e != nil {
		os.Remove(b.dataPath(id))
		c.fail(e)
		return
	}
	s.emit(c, "ObjectCreated:CopyObject", o, old)
	c.w.Header().Set("ETag", o.ETag)
	c.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC64, 10))
	writeXML(c, http.StatusOK, struct {
		XMLName      xml.Name `xml:"CopyObjectResult"`
		LastModified string
		ETag         string
	}{LastModified: o.Modified.Format(xmlTimeFormat), ETag: o.ETag})
}

// cloneData gives dst a data file with the bytes of so: a hard link when the source's file
// is immutable (cheap even for huge objects), a copy otherwise.
func (s *Server) cloneData(src *bucket, so *object, f *os.File, dst *bucket) (string, error) {
	id := newID()
	path := dst.dataPath(id)
	if err := dst.ensureDir(pathDir(path)); err != nil {
		return "", err
	}
	if so.Type != typeAppendable {
		if err := os.Link(src.dataPath(so.Data), path); err == nil {
			return id, nil
		}
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	if _, err = io.Copy(out, io.NewSectionReader(f, 0, so.Size)); err == nil && s.sync {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", err
	}
	return id, nil
}

func firstError(es ...*apiError) *apiError {
	for _, e := range es {
		if e != nil {
			return e
		}
	}
	return nil
}

func pathDir(p string) string { return p[:strings.LastIndexByte(p, os.PathSeparator)] }

// appendObject is AppendObject: bytes added at position, which must equal the current length.
func (s *Server) appendObject(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	pos, err := strconv.ParseInt(c.q.Get("position"), 10, 64)
	if err != nil || pos < 0 {
		c.fail(errInvalidArgument.withMessage("position must be a non-negative integer.").with("ArgumentName", "position"))
		return
	}
	lock := &s.appendLocks[crc64.Checksum([]byte(c.bucket+"/"+c.key), crcTable)%uint64(len(s.appendLocks))]
	lock.Lock()
	defer lock.Unlock()

	cur := b.get(c.key)
	var o *object
	switch {
	case cur != nil && cur.Type != typeAppendable:
		c.fail(errObjectNotAppendable)
		return
	case cur == nil && pos != 0, cur != nil && cur.Size != pos:
		next := int64(0)
		if cur != nil {
			next = cur.Size
		}
		c.w.Header().Set("x-oss-next-append-position", strconv.FormatInt(next, 10))
		c.fail(errPositionNotEqual)
		return
	case cur == nil:
		class, e := requestClass(c.r.Header, b)
		if e == nil && isArchived(class) {
			e = errInvalidArgument.withMessage("Appendable objects cannot be %s.", class)
		}
		acl, e2 := requestObjectACL(c.r.Header)
		ctype, stored, meta, e3 := objectAttrs(c.r.Header, c.key)
		if e = firstError(e, e2, e3); e != nil {
			c.fail(e)
			return
		}
		o = &object{Key: c.key, Data: newID(), Type: typeAppendable, Class: class, ACL: acl,
			ContentType: ctype, Header: stored, Meta: meta}
	default:
		o = cur.clone()
	}
	if c.r.ContentLength > maxObjectSize-pos {
		c.fail(errEntityTooLarge)
		return
	}
	path := b.dataPath(o.Data)
	if err := b.ensureDir(pathDir(path)); err != nil {
		c.fail(s.internal("mkdir", err))
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		c.fail(s.internal("open data", err))
		return
	}
	h := md5.New()
	if len(o.MD5State) > 0 {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(o.MD5State); err != nil {
			f.Close()
			c.fail(s.internal("restore MD5 state", err))
			return
		}
	}
	d := &dataWriter{id: o.Data, path: path, f: f, md5: h, crc: crc64.New(crcTable)}
	part := md5.New()
	rollback := func() {
		f.Truncate(pos)
		f.Close()
		if cur == nil {
			os.Remove(path)
		}
	}
	if _, err := f.Seek(pos, io.SeekStart); err != nil {
		rollback()
		c.fail(s.internal("seek", err))
		return
	}
	if err := d.fill(io.TeeReader(c.r.Body, part), maxObjectSize-pos, c.r.ContentLength); err != nil {
		rollback()
		if errors.Is(err, errTooLarge) {
			c.fail(errEntityTooLarge)
		} else {
			c.fail(newError(400, "IncompleteBody", "0016-00000210", "The request body ended early: "+err.Error()))
		}
		return
	}
	if e := checkContentMD5(c.r.Header, part.Sum(nil)); e != nil {
		rollback()
		c.fail(e)
		return
	}
	// Drop bytes an earlier failed append may have left beyond the new end.
	if err := f.Truncate(pos + d.n); err != nil {
		rollback()
		c.fail(s.internal("truncate", err))
		return
	}
	if err := d.finish(s.sync); err != nil {
		c.fail(s.internal("write data", err))
		return
	}
	o.CRC64 = crc64Combine(o.CRC64, d.crc.Sum64(), d.n)
	o.Size = pos + d.n
	o.Modified = s.now().UTC()
	o.ETag = etagOf(h.Sum(nil))
	if st, err := h.(encoding.BinaryMarshaler).MarshalBinary(); err == nil {
		o.MD5State = st
	}
	expectData, expectSize := o.Data, pos
	old, e := s.commit(b, o, func(old *object) *apiError {
		if (cur == nil) != (old == nil) || (old != nil && (old.Data != expectData || old.Size != expectSize)) {
			return errPositionNotEqual.withMessage("The object changed while appending.")
		}
		return nil
	})
	if e != nil {
		if cur == nil {
			os.Remove(path)
		}
		c.fail(e)
		return
	}
	s.emit(c, "ObjectCreated:AppendObject", o, old)
	hd := c.w.Header()
	hd.Set("ETag", o.ETag)
	hd.Set("x-oss-next-append-position", strconv.FormatInt(o.Size, 10))
	hd.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC64, 10))
	c.w.WriteHeader(http.StatusOK)
}

// putObjectACL is PutObjectACL.
func (s *Server) putObjectACL(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	acl, e := requestObjectACL(c.r.Header)
	if e == nil && acl == "" {
		e = errInvalidArgument.withMessage("x-oss-object-acl is required.")
	}
	if e != nil {
		c.fail(e)
		return
	}
	cur := b.get(c.key)
	if cur == nil {
		c.fail(errNoSuchKey.with("Key", c.key))
		return
	}
	o := cur.clone()
	o.ACL = acl
	if _, e := s.commit(b, o, sameData(cur)); e != nil {
		c.fail(e)
		return
	}
	c.w.WriteHeader(http.StatusOK)
}

// sameData guards a metadata-only change against a concurrent overwrite or delete.
func sameData(cur *object) commitCheck {
	return func(old *object) *apiError {
		if old == nil {
			return errNoSuchKey.with("Key", cur.Key)
		}
		if old.Data != cur.Data || old.Size != cur.Size {
			return newError(409, "ConcurrentUpdate", "0016-00000409", "The object changed during the request; retry it.")
		}
		return nil
	}
}

type ownerXML struct {
	ID          string
	DisplayName string
}

func (s *Server) owner() ownerXML { return ownerXML{s.opts.AccountID, s.opts.AccountID} }

// getObjectACL is GetObjectACL.
func (s *Server) getObjectACL(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	o := b.get(c.key)
	if o == nil {
		c.fail(errNoSuchKey.with("Key", c.key))
		return
	}
	acl := o.ACL
	if acl == "" {
		acl = aclDefault
	}
	writeXML(c, http.StatusOK, struct {
		XMLName xml.Name `xml:"AccessControlPolicy"`
		Owner   ownerXML
		Grant   string `xml:"AccessControlList>Grant"`
	}{Owner: s.owner(), Grant: acl})
}
