package ossemu

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	maxParts    = 10000
	minPartSize = 100 << 10 // every part but the last
)

// upload is one multipart upload; upload.json persists the exported fields.
type upload struct {
	ID          string            `json:"id"`
	Key         string            `json:"key"`
	Initiated   time.Time         `json:"initiated"`
	Class       string            `json:"class"`
	ACL         string            `json:"acl,omitempty"`
	ContentType string            `json:"contentType"`
	Header      map[string]string `json:"header,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`

	dir   string
	mu    sync.Mutex
	parts map[int]*part
	done  bool // being completed or aborted: no more parts
}

// part is one uploaded part; <n>.json persists it.
type part struct {
	Number   int       `json:"number"`
	Data     string    `json:"data"`
	Size     int64     `json:"size"`
	ETag     string    `json:"etag"`
	CRC64    uint64    `json:"crc64"`
	Modified time.Time `json:"modified"`
}

func (u *upload) partPath(n int) string     { return filepath.Join(u.dir, strconv.Itoa(n)+".json") }
func (u *upload) dataPath(id string) string { return filepath.Join(u.dir, id+".part") }

// findUpload returns the upload id of key, or answers NoSuchUpload.
func (s *Server) findUpload(c *call, b *bucket) *upload {
	id := c.q.Get("uploadId")
	b.mu.RLock()
	u := b.uploads[id]
	b.mu.RUnlock()
	if u == nil || u.Key != c.key {
		c.fail(errNoSuchUpload.with("UploadId", id))
		return nil
	}
	return u
}

func encodeIf(enc bool, s string) string {
	if enc {
		return url.QueryEscape(s)
	}
	return s
}

// initiateMultipart is InitiateMultipartUpload.
func (s *Server) initiateMultipart(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	class, e := requestClass(c.r.Header, b)
	acl, e2 := requestObjectACL(c.r.Header)
	ctype, stored, meta, e3 := objectAttrs(c.r.Header, c.key)
	if e = firstError(e, e2, e3); e != nil {
		c.fail(e)
		return
	}
	if check := forbidOverwrite(c.r.Header); check != nil && b.get(c.key) != nil {
		c.fail(errFileAlreadyExists)
		return
	}
	id := strings.ToUpper(newID())
	u := &upload{ID: id, Key: c.key, Initiated: s.now().UTC(), Class: class, ACL: acl, ContentType: ctype,
		Header: stored, Meta: meta, dir: filepath.Join(b.dir, "uploads", id), parts: map[int]*part{}}
	if err := os.MkdirAll(u.dir, 0o755); err != nil {
		c.fail(s.internal("mkdir upload", err))
		return
	}
	if err := s.writeJSON(filepath.Join(u.dir, "upload.json"), u); err != nil {
		os.RemoveAll(u.dir)
		c.fail(s.internal("write upload", err))
		return
	}
	b.mu.Lock()
	b.uploads[id] = u
	b.mu.Unlock()
	s.emit(c, "ObjectCreated:InitiateMultipartUpload", &object{Key: c.key, ContentType: ctype}, nil)
	enc := c.q.Get("encoding-type") == "url"
	res := struct {
		XMLName      xml.Name `xml:"InitiateMultipartUploadResult"`
		Bucket       string
		Key          string
		UploadId     string
		EncodingType string `xml:",omitempty"`
	}{Bucket: c.bucket, Key: encodeIf(enc, c.key), UploadId: id}
	if enc {
		res.EncodingType = "url"
	}
	writeXML(c, http.StatusOK, res)
}

func partNumber(c *call) (int, *apiError) {
	n, err := strconv.Atoi(c.q.Get("partNumber"))
	if err != nil || n < 1 || n > maxParts {
		return 0, errInvalidArgument.withMessage("Part number must be an integer between 1 and 10000, inclusive.").with("ArgumentName", "partNumber").with("ArgumentValue", c.q.Get("partNumber"))
	}
	return n, nil
}

// commitPart records p as part p.Number of u, replacing an earlier upload of that number.
func (s *Server) commitPart(u *upload, p *part) *apiError {
	path := u.partPath(p.Number)
	tmp, err := s.prepareJSON(path, p)
	if err != nil {
		return s.internal("write part", err)
	}
	u.mu.Lock()
	if u.done {
		u.mu.Unlock()
		os.Remove(tmp)
		return errNoSuchUpload.with("UploadId", u.ID)
	}
	if err := os.Rename(tmp, path); err != nil {
		u.mu.Unlock()
		os.Remove(tmp)
		return s.internal("commit part", err)
	}
	old := u.parts[p.Number]
	u.parts[p.Number] = p
	u.mu.Unlock()
	if err := s.syncDir(u.dir); err != nil {
		s.log.Warn("ossemu: fsync directory", "err", err)
	}
	if old != nil && old.Data != p.Data {
		os.Remove(u.dataPath(old.Data))
	}
	return nil
}

// uploadPart is UploadPart.
func (s *Server) uploadPart(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	u := s.findUpload(c, b)
	if u == nil {
		return
	}
	n, e := partNumber(c)
	if e != nil {
		c.fail(e)
		return
	}
	if c.r.ContentLength > maxObjectSize {
		c.fail(errEntityTooLarge)
		return
	}
	id := newID()
	d, err := createData(id, u.dataPath(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) { // aborted meanwhile
			c.fail(errNoSuchUpload.with("UploadId", u.ID))
			return
		}
		c.fail(s.internal("create part", err))
		return
	}
	if err := d.fill(c.r.Body, maxObjectSize, c.r.ContentLength); err != nil {
		d.discard()
		if errors.Is(err, errTooLarge) {
			c.fail(errEntityTooLarge)
		} else {
			c.fail(newError(400, "IncompleteBody", "0016-00000210", "The request body ended early: "+err.Error()))
		}
		return
	}
	sum := d.md5Sum()
	if e := checkContentMD5(c.r.Header, sum); e != nil {
		d.discard()
		c.fail(e)
		return
	}
	if err := d.finish(s.sync); err != nil {
		os.Remove(d.path)
		c.fail(s.internal("write part", err))
		return
	}
	p := &part{Number: n, Data: id, Size: d.n, ETag: etagOf(sum), CRC64: d.crc.Sum64(), Modified: s.now().UTC()}
	if e := s.commitPart(u, p); e != nil {
		os.Remove(d.path)
		c.fail(e)
		return
	}
	s.emit(c, "ObjectCreated:UploadPart", &object{Key: c.key, Size: p.Size, ETag: p.ETag, ContentType: u.ContentType}, nil)
	h := c.w.Header()
	h.Set("ETag", p.ETag)
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum))
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(p.CRC64, 10))
	c.w.WriteHeader(http.StatusOK)
}

// uploadPartCopy is UploadPartCopy: a part made from a range of an existing object.
func (s *Server) uploadPartCopy(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	u := s.findUpload(c, b)
	if u == nil {
		return
	}
	n, e := partNumber(c)
	if e != nil {
		c.fail(e)
		return
	}
	_, so, f, e := s.openSource(c)
	if e != nil {
		c.fail(e)
		return
	}
	defer f.Close()
	start, length := int64(0), so.Size
	if rv := c.r.Header.Get("x-oss-copy-source-range"); rv != "" {
		first, n, ok, _ := parseRange(rv, so.Size)
		if !ok {
			c.fail(errInvalidArgument.withMessage("x-oss-copy-source-range %q is not a satisfiable bytes=first-last range.", rv).with("ArgumentName", "x-oss-copy-source-range"))
			return
		}
		start, length = first, n
	}
	if length > maxObjectSize {
		c.fail(errEntityTooLarge)
		return
	}
	id := newID()
	d, err := createData(id, u.dataPath(id))
	if err != nil {
		c.fail(errNoSuchUpload.with("UploadId", u.ID))
		return
	}
	if err := d.fill(io.NewSectionReader(f, start, length), maxObjectSize, length); err != nil {
		d.discard()
		c.fail(s.internal("copy part", err))
		return
	}
	if err := d.finish(s.sync); err != nil {
		os.Remove(d.path)
		c.fail(s.internal("write part", err))
		return
	}
	p := &part{Number: n, Data: id, Size: d.n, ETag: etagOf(d.md5Sum()), CRC64: d.crc.Sum64(), Modified: s.now().UTC()}
	if e := s.commitPart(u, p); e != nil {
		os.Remove(d.path)
		c.fail(e)
		return
	}
	s.emit(c, "ObjectCreated:UploadPartCopy", &object{Key: c.key, Size: p.Size, ETag: p.ETag, ContentType: u.ContentType}, nil)
	c.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(p.CRC64, 10))
	writeXML(c, http.StatusOK, struct {
		XMLName      xml.Name `xml:"CopyPartResult"`
		LastModified string
		ETag         string
	}{LastModified: p.Modified.Format(xmlTimeFormat), ETag: p.ETag})
}

// completeMultipart is CompleteMultipartUpload: the listed parts, in order, become the object.
func (s *Server) completeMultipart(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	u := s.findUpload(c, b)
	if u == nil {
		return
	}
	body, e := readSmallBody(c, 4<<20)
	if e != nil {
		c.fail(e)
		return
	}
	type partRef struct {
		PartNumber int
		ETag       string
	}
	var req struct {
		Part []partRef
	}
	completeAll := strings.EqualFold(c.r.Header.Get("x-oss-complete-all"), "yes")
	if completeAll {
		if len(strings.TrimSpace(string(body))) > 0 {
			c.fail(errInvalidArgument.withMessage("x-oss-complete-all: yes takes no part list."))
			return
		}
	} else if err := xml.Unmarshal(body, &req); err != nil || len(req.Part) == 0 {
		c.fail(errMalformedXML)
		return
	}
	check := forbidOverwrite(c.r.Header)
	if check != nil && b.get(c.key) != nil {
		c.fail(errFileAlreadyExists)
		return
	}

	u.mu.Lock()
	if u.done {
		u.mu.Unlock()
		c.fail(errNoSuchUpload.with("UploadId", u.ID))
		return
	}
	if completeAll {
		for n, p := range u.parts {
			req.Part = append(req.Part, partRef{n, p.ETag})
		}
		sort.Slice(req.Part, func(i, j int) bool { return req.Part[i].PartNumber < req.Part[j].PartNumber })
		if len(req.Part) == 0 {
			u.mu.Unlock()
			c.fail(errInvalidPart.withMessage("The upload has no parts."))
			return
		}
	}
	parts := make([]*part, 0, len(req.Part))
	for i, ref := range req.Part {
		if i > 0 && ref.PartNumber <= req.Part[i-1].PartNumber {
			u.mu.Unlock()
			c.fail(errInvalidPartOrder)
			return
		}
		p := u.parts[ref.PartNumber]
		if p == nil || !strings.EqualFold(strings.Trim(ref.ETag, `"`), strings.Trim(p.ETag, `"`)) {
			u.mu.Unlock()
			c.fail(errInvalidPart.with("PartNumber", strconv.Itoa(ref.PartNumber)).with("ETag", ref.ETag))
			return
		}
		parts = append(parts, p)
	}
	for i, p := range parts[:len(parts)-1] {
		if p.Size < minPartSize {
			u.mu.Unlock()
			c.fail(errEntityTooSmall.with("PartNumber", strconv.Itoa(req.Part[i].PartNumber)).with("ProposedSize", strconv.FormatInt(p.Size, 10)).with("MinSizeAllowed", strconv.Itoa(minPartSize)))
			return
		}
	}
	u.done = true
	u.mu.Unlock()
	reopen := func() {
		u.mu.Lock()
		u.done = false
		u.mu.Unlock()
	}

	o, err := s.assemble(b, u, parts)
	if err != nil {
		reopen()
		c.fail(s.internal("assemble parts", err))
		return
	}
	old, e := s.commit(b, o, check)
	if e != nil {
		os.Remove(b.dataPath(o.Data))
		reopen()
		c.fail(e)
		return
	}
	s.dropUpload(b, u)
	s.emit(c, "ObjectCreated:CompleteMultipartUpload", o, old)
	enc := c.q.Get("encoding-type") == "url"
	res := struct {
		XMLName      xml.Name `xml:"CompleteMultipartUploadResult"`
		EncodingType string   `xml:",omitempty"`
		Location     string
		Bucket       string
		Key          string
		ETag         string
	}{Location: "http://" + c.r.Host + "/" + c.bucket + "/" + uriEncode(c.key), Bucket: c.bucket, Key: encodeIf(enc, c.key), ETag: o.ETag}
	if enc {
		res.EncodingType = "url"
	}
	c.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC64, 10))
	writeXML(c, http.StatusOK, res)
}

// assemble concatenates the parts into a new data file of b. File-to-file io.Copy lets the
// kernel copy (copy_file_range), and the CRC and ETag come from the parts' own, so the bytes
// are never read into the process.
func (s *Server) assemble(b *bucket, u *upload, parts []*part) (*object, error) {
	d, err := b.newData()
	if err != nil {
		return nil, err
	}
	var crc uint64
	var size int64
	sums := make([]byte, 0, md5.Size*len(parts))
	for _, p := range parts {
		f, err := os.Open(u.dataPath(p.Data))
		if err != nil {
			d.discard()
			return nil, err
		}
		n, err := io.Copy(d.f, f)
		f.Close()
		if err == nil && n != p.Size {
			err = fmt.Errorf("part %d has %d bytes on disk, %d recorded", p.Number, n, p.Size)
		}
		if err != nil {
			d.discard()
			return nil, err
		}
		crc = crc64Combine(crc, p.CRC64, p.Size)
		size += p.Size
		sum, err := hex.DecodeString(strings.Trim(p.ETag, `"`))
		if err != nil {
			d.discard()
			return nil, err
		}
		sums = append(sums, sum...)
	}
	if err := d.finish(s.sync); err != nil {
		os.Remove(d.path)
		return nil, err
	}
	all := md5.Sum(sums)
	return &object{Key: u.Key, Data: d.id, Size: size,
		ETag:  fmt.Sprintf(`"%s-%d"`, strings.ToUpper(hex.EncodeToString(all[:])), len(parts)),
		CRC64: crc, Type: typeMultipart, Class: u.Class, ACL: u.ACL, Modified: s.now().UTC(),
		ContentType: u.ContentType, Header: u.Header, Meta: u.Meta}, nil
}

// dropUpload forgets u and removes its directory (renamed away first, so a crash cannot leave
// half an upload that Open would load).
func (s *Server) dropUpload(b *bucket, u *upload) {
	b.mu.Lock()
	delete(b.uploads, u.ID)
	b.mu.Unlock()
	trash := filepath.Join(s.tmpDir(), "upload-"+u.ID)
	if err := os.Rename(u.dir, trash); err != nil {
		s.log.Warn("ossemu: remove upload", "upload", u.ID, "err", err)
		return
	}
	go os.RemoveAll(trash)
}

// abortMultipart is AbortMultipartUpload: exactly 204.
func (s *Server) abortMultipart(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	u := s.findUpload(c, b)
	if u == nil {
		return
	}
	u.mu.Lock()
	if u.done {
		u.mu.Unlock()
		c.fail(errNoSuchUpload.with("UploadId", u.ID))
		return
	}
	u.done = true
	u.mu.Unlock()
	s.dropUpload(b, u)
	s.emit(c, "ObjectRemoved:AbortMultipartUpload", &object{Key: c.key, ContentType: u.ContentType}, nil)
	c.status = http.StatusNoContent
	c.w.WriteHeader(http.StatusNoContent)
}

func intParam(c *call, name string, def, max int) (int, *apiError) {
	v := c.q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, errInvalidArgument.withMessage("%s must be an integer between 1 and %d.", name, max).with("ArgumentName", name).with("ArgumentValue", v)
	}
	return n, nil
}

// listParts is ListParts.
func (s *Server) listParts(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	u := s.findUpload(c, b)
	if u == nil {
		return
	}
	max, e := intParam(c, "max-parts", 1000, 1000)
	if e != nil {
		c.fail(e)
		return
	}
	marker := 0
	if v := c.q.Get("part-number-marker"); v != "" {
		var err error
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			c.fail(errInvalidArgument.withMessage("part-number-marker must be a non-negative integer.").with("ArgumentName", "part-number-marker"))
			return
		}
	}
	type partXML struct {
		PartNumber    int
		LastModified  string
		ETag          string
		HashCrc64ecma uint64
		Size          int64
	}
	enc := c.q.Get("encoding-type") == "url"
	res := struct {
		XMLName              xml.Name `xml:"ListPartsResult"`
		EncodingType         string   `xml:",omitempty"`
		Bucket               string
		Key                  string
		UploadId             string
		StorageClass         string
		PartNumberMarker     int
		NextPartNumberMarker int
		MaxParts             int
		IsTruncated          bool
		Part                 []partXML
	}{Bucket: c.bucket, Key: encodeIf(enc, u.Key), UploadId: u.ID, StorageClass: u.Class, PartNumberMarker: marker, MaxParts: max}
	if enc {
		res.EncodingType = "url"
	}
	u.mu.Lock()
	nums := make([]int, 0, len(u.parts))
	for n := range u.parts {
		if n > marker {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	for _, n := range nums {
		if len(res.Part) == max {
			res.IsTruncated = true
			break
		}
		p := u.parts[n]
		res.Part = append(res.Part, partXML{n, p.Modified.Format(xmlTimeFormat), p.ETag, p.CRC64, p.Size})
		res.NextPartNumberMarker = n
	}
	u.mu.Unlock()
	writeXML(c, http.StatusOK, res)
}

// listMultipartUploads is ListMultipartUploads.
func (s *Server) listMultipartUploads(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	max, e := intParam(c, "max-uploads", 1000, 1000)
	if e != nil {
		c.fail(e)
		return
	}
	prefix, delim := c.q.Get("prefix"), c.q.Get("delimiter")
	keyMarker, idMarker := c.q.Get("key-marker"), c.q.Get("upload-id-marker")
	b.mu.RLock()
	list := make([]*upload, 0, len(b.uploads))
	for _, u := range b.uploads {
		if !strings.HasPrefix(u.Key, prefix) {
			continue
		}
		if keyMarker != "" && (u.Key < keyMarker || (u.Key == keyMarker && (idMarker == "" || u.ID <= idMarker))) {
			continue
		}
		list = append(list, u)
	}
	b.mu.RUnlock()
	sort.Slice(list, func(i, j int) bool {
		if list[i].Key != list[j].Key {
			return list[i].Key < list[j].Key
		}
		if !list[i].Initiated.Equal(list[j].Initiated) {
			return list[i].Initiated.Before(list[j].Initiated)
		}
		return list[i].ID < list[j].ID
	})
	enc := c.q.Get("encoding-type") == "url"
	type uploadXML struct {
		Key          string
		UploadId     string
		StorageClass string
		Initiated    string
	}
	type prefixXML struct{ Prefix string }
	res := struct {
		XMLName            xml.Name `xml:"ListMultipartUploadsResult"`
		EncodingType       string   `xml:",omitempty"`
		Bucket             string
		KeyMarker          string
		UploadIdMarker     string
		NextKeyMarker      string
		NextUploadIdMarker string
		Delimiter          string
		Prefix             string
		MaxUploads         int
		IsTruncated        bool
		Upload             []uploadXML
		CommonPrefixes     []prefixXML
	}{Bucket: c.bucket, KeyMarker: encodeIf(enc, keyMarker), UploadIdMarker: idMarker, Delimiter: encodeIf(enc, delim),
		Prefix: encodeIf(enc, prefix), MaxUploads: max}
	if enc {
		res.EncodingType = "url"
	}
	seen := map[string]bool{}
	count := 0
	for _, u := range list {
		if delim != "" {
			if i := strings.Index(u.Key[len(prefix):], delim); i >= 0 {
				cp := u.Key[:len(prefix)+i+len(delim)]
				if seen[cp] || (keyMarker != "" && cp <= keyMarker) {
					continue
				}
				if count == max {
					res.IsTruncated = true
					break
				}
				seen[cp] = true
				res.CommonPrefixes = append(res.CommonPrefixes, prefixXML{encodeIf(enc, cp)})
				res.NextKeyMarker, res.NextUploadIdMarker = encodeIf(enc, cp), ""
				count++
				continue
			}
		}
		if count == max {
			res.IsTruncated = true
			break
		}
		res.Upload = append(res.Upload, uploadXML{encodeIf(enc, u.Key), u.ID, u.Class, u.Initiated.Format(xmlTimeFormat)})
		res.NextKeyMarker, res.NextUploadIdMarker = encodeIf(enc, u.Key), u.ID
		count++
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIdMarker = "", ""
	}
	writeXML(c, http.StatusOK, res)
}

// loadUploads reads b's multipart uploads at Open.
func (s *Server) loadUploads(b *bucket) error {
	dir := filepath.Join(b.dir, "uploads")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		udir := filepath.Join(dir, e.Name())
		raw, err := os.ReadFile(filepath.Join(udir, "upload.json"))
		if errors.Is(err, fs.ErrNotExist) {
			os.RemoveAll(udir) // never committed
			continue
		}
		if err != nil {
			return err
		}
		u := &upload{dir: udir, parts: map[int]*part{}}
		if err := json.Unmarshal(raw, u); err != nil {
			return fmt.Errorf("upload %s: %w", e.Name(), err)
		}
		files, err := os.ReadDir(udir)
		if err != nil {
			return err
		}
		used := map[string]bool{}
		for _, f := range files {
			name := f.Name()
			if strings.Contains(name, ".tmp-") {
				os.Remove(filepath.Join(udir, name))
				continue
			}
			if name == "upload.json" || !strings.HasSuffix(name, ".json") {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(udir, name))
			if err != nil {
				return err
			}
			p := new(part)
			if err := json.Unmarshal(raw, p); err != nil {
				return fmt.Errorf("upload %s part %s: %w", u.ID, name, err)
			}
			u.parts[p.Number] = p
			used[p.Data+".part"] = true
		}
		for _, f := range files {
			if strings.HasSuffix(f.Name(), ".part") && !used[f.Name()] {
				os.Remove(filepath.Join(udir, f.Name()))
			}
		}
		b.uploads[u.ID] = u
	}
	return nil
}
