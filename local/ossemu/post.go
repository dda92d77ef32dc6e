package ossemu

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

const (
	maxFormField  = 64 << 10
	maxFormFields = 1 << 20
)

// postForm is a PostObject form up to its file field.
type postForm struct {
	fields   map[string]string // by lower-case name
	file     *multipart.Part
	filename string
}

func (f *postForm) get(name string) string { return f.fields[strings.ToLower(name)] }

// readPostForm reads the form fields that precede the file (which OSS requires to be last).
func readPostForm(r *http.Request) (*postForm, *apiError) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return nil, errMalformedPOST.withMessage("The Content-Type of a PostObject request must be multipart/form-data with a boundary.")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	f := &postForm{fields: map[string]string{}}
	total := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, errInvalidArgument.withMessage("The form has no file field (it must be the last field).").with("ArgumentName", "file")
		}
		if err != nil {
			return nil, errMalformedPOST
		}
		name := p.FormName()
		if strings.EqualFold(name, "file") {
			f.file, f.filename = p, p.FileName()
			return f, nil
		}
		v, err := io.ReadAll(io.LimitReader(p, maxFormField+1))
		if err != nil {
			return nil, errMalformedPOST
		}
		if len(v) > maxFormField {
			return nil, errInvalidArgument.withMessage("Form field %q exceeds %d bytes.", name, maxFormField)
		}
		if total += len(v); total > maxFormFields {
			return nil, errInvalidArgument.withMessage("The form fields exceed %d bytes.", maxFormFields)
		}
		f.fields[strings.ToLower(name)] = string(v)
	}
}

// postPolicy is a decoded PostObject policy.
type postPolicy struct {
	Expiration string `json:"expiration"`
	Conditions []any  `json:"conditions"`
}

// checkPostSignature verifies the form's V1 or V4 signature over the policy.
func (s *Server) checkPostSignature(f *postForm, policy string) *apiError {
	if f.get("x-oss-signature-version") == v4Algorithm {
		cr, ok := parseV4Credential(f.get("x-oss-credential"))
		sig := f.get("x-oss-signature")
		if !ok {
			return errInvalidArgument.withMessage("x-oss-credential must be <AccessKeyId>/<YYYYMMDD>/<region>/oss/aliyun_v4_request.")
		}
		if sig == "" {
			return errAccessDenied.withMessage("The x-oss-signature form field is missing.")
		}
		if e := s.checkV4Credential(cr); e != nil {
			return e
		}
		if _, err := time.Parse(v4TimeFormat, f.get("x-oss-date")); err != nil {
			return errInvalidArgument.withMessage("x-oss-date must be in the form 20060102T150405Z.")
		}
		m := hmac.New(sha256.New, s.v4Key(cr.day, cr.region, cr.product))
		m.Write([]byte(policy))
		if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(sig)) {
			return s.mismatch(sig, policy, cr.ak)
		}
		return nil
	}
	ak, sig := f.get("OSSAccessKeyId"), f.get("Signature")
	if ak == "" || sig == "" {
		return errAccessDenied.withMessage("A signed form needs OSSAccessKeyId, policy and Signature (or the V4 fields).")
	}
	if e := s.checkAccessKey(ak); e != nil {
		return e
	}
	m := hmac.New(sha1.New, []byte(s.opts.AccessKeySecret))
	m.Write([]byte(policy))
	if !hmac.Equal([]byte(base64.StdEncoding.EncodeToString(m.Sum(nil))), []byte(sig)) {
		return s.mismatch(sig, policy, ak)
	}
	return nil
}

// lengthRange is a policy's content-length-range; max < 0 means none.
type lengthRange struct{ min, max int64 }

func policyNumber(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		return int64(n), n == float64(int64(n))
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

func conditionText(cond any) string {
	b, _ := json.Marshal(cond)
	return string(b)
}

// checkPolicy decodes the policy, checks expiry and every condition but the file size, which
// it returns for the upload to enforce.
func (s *Server) checkPolicy(f *postForm, policy, bucket, key string, v4 bool) (lengthRange, *apiError) {
	lr := lengthRange{0, -1}
	raw, err := base64.StdEncoding.DecodeString(policy)
	if err != nil {
		return lr, errInvalidArgument.withMessage("The policy is not base64.").with("ArgumentName", "policy")
	}
	var p postPolicy
	if err := json.Unmarshal(raw, &p); err != nil {
		return lr, errInvalidArgument.withMessage("The policy is not valid JSON: %v.", err).with("ArgumentName", "policy")
	}
	exp, err := time.Parse(time.RFC3339, p.Expiration)
	if err != nil {
		return lr, errInvalidArgument.withMessage("The policy's expiration %q is not an ISO 8601 time.", p.Expiration).with("ArgumentName", "policy")
	}
	if s.wall().After(exp) {
		return lr, errPolicy.withMessage("Invalid according to Policy: Policy expired.")
	}
	value := func(field string) string {
		field = strings.ToLower(strings.TrimPrefix(field, "$"))
		switch field {
		case "bucket":
			return bucket
		case "key":
			return key
		}
		return f.fields[field]
	}
	failed := func(cond any) *apiError {
		return errPolicy.withMessage("Invalid according to Policy: Policy Condition failed: %s", conditionText(cond))
	}
	covered := map[string]bool{}
	for _, cond := range p.Conditions {
		switch c := cond.(type) {
		case map[string]any:
			for k, v := range c {
				want, _ := v.(string)
				covered[strings.ToLower(k)] = true
				if value(k) != want {
					return lr, failed(cond)
				}
			}
		case []any:
			if len(c) != 3 {
				return lr, errInvalidArgument.withMessage("Policy condition %s does not have three elements.", conditionText(cond))
			}
			op, _ := c[0].(string)
			if strings.EqualFold(op, "content-length-range") {
				min, ok1 := policyNumber(c[1])
				max, ok2 := policyNumber(c[2])
				if !ok1 || !ok2 || min < 0 || max < min {
					return lr, errInvalidArgument.withMessage("Policy condition %s is not a valid content-length-range.", conditionText(cond))
				}
				lr = lengthRange{min, max}
				continue
			}
			field, _ := c[1].(string)
			if !strings.HasPrefix(field, "$") {
				return lr, errInvalidArgument.withMessage("Policy condition %s must name a form field as $field.", conditionText(cond))
			}
			covered[strings.ToLower(strings.TrimPrefix(field, "$"))] = true
			got := value(field)
			switch strings.ToLower(op) {
			case "eq":
				if want, _ := c[2].(string); got != want {
					return lr, failed(cond)
				}
			case "starts-with":
				if want, _ := c[2].(string); !strings.HasPrefix(got, want) {
					return lr, failed(cond)
				}
			case "in", "not-in":
				list, _ := c[2].([]any)
				in := false
				for _, v := range list {
					if s, _ := v.(string); s == got {
						in = true
					}
				}
				if in != (strings.ToLower(op) == "in") {
					return lr, failed(cond)
				}
			default:
				return lr, errInvalidArgument.withMessage("Policy condition %s has an unknown operator.", conditionText(cond))
			}
		default:
			return lr, errInvalidArgument.withMessage("Policy condition %s is neither an object nor an array.", conditionText(cond))
		}
	}
	if v4 {
		// A V4 policy must pin the signing fields, so a signature cannot be replayed with others.
		for _, k := range []string{"x-oss-signature-version", "x-oss-credential", "x-oss-date"} {
			if !covered[k] {
				return lr, errPolicy.withMessage("Invalid according to Policy: a V4 policy must contain a condition on %s.", k)
			}
		}
	}
	return lr, nil
}

// postObject is PostObject: a browser form upload, authorised by a signed policy (or by a
// public-read-write bucket).
func (s *Server) postObject(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	f, e := readPostForm(c.r)
	if e != nil {
		c.fail(e)
		return
	}
	key := f.get("key")
	if key == "" {
		c.fail(errInvalidArgument.withMessage("The key form field is required.").with("ArgumentName", "key"))
		return
	}
	if strings.Contains(key, "${filename}") {
		key = strings.ReplaceAll(key, "${filename}", path.Base(strings.ReplaceAll(f.filename, `\`, "/")))
	}
	if e := checkObjectName(key); e != nil {
		c.fail(e.with("Key", key))
		return
	}
	c.key = key
	lr := lengthRange{0, -1}
	if policy := f.get("policy"); policy != "" && !s.opts.SkipAuth {
		if e := s.checkPostSignature(f, policy); e != nil {
			c.fail(e)
			return
		}
		if lr, e = s.checkPolicy(f, policy, c.bucket, key, f.get("x-oss-signature-version") == v4Algorithm); e != nil {
			c.fail(e)
			return
		}
	} else if !s.opts.SkipAuth {
		if f.get("Signature") != "" || f.get("x-oss-signature") != "" {
			c.fail(errInvalidArgument.withMessage("A signed form needs a policy field.").with("ArgumentName", "policy"))
			return
		}
		b.mu.RLock()
		public := b.cfg.ACL == aclPublicReadWrite
		b.mu.RUnlock()
		if !public {
			c.fail(errAccessDenied.withMessage("Anonymous PostObject needs a public-read-write bucket; sign the form with a policy."))
			return
		}
	}
	h := http.Header{}
	for k, v := range f.fields {
		if strings.HasPrefix(k, "x-oss-meta-") || k == "x-oss-storage-class" || k == "x-oss-object-acl" ||
			k == "x-oss-forbid-overwrite" || k == "content-type" || k == "content-md5" {
			h.Set(k, v)
		}
		for _, name := range storedHeaders {
			if strings.EqualFold(k, name) {
				h.Set(name, v)
			}
		}
	}
	class, e1 := requestClass(h, b)
	acl, e2 := requestObjectACL(h)
	ctype, stored, meta, e3 := objectAttrs(h, key)
	if e := firstError(e1, e2, e3); e != nil {
		c.fail(e)
		return
	}
	check := forbidOverwrite(h)
	if check != nil && b.get(key) != nil {
		c.fail(errFileAlreadyExists)
		return
	}
	limit := int64(maxObjectSize)
	if lr.max >= 0 && lr.max < limit {
		limit = lr.max
	}
	d, err := b.newData()
	if err != nil {
		c.fail(s.internal("create data file", err))
		return
	}
	if err := d.fill(f.file, limit, c.r.ContentLength); err != nil {
		d.discard()
		if errors.Is(err, errTooLarge) {
			c.fail(errEntityTooLarge.withMessage("Your proposed upload exceeds the maximum allowed size (%d bytes).", limit).with("MaxSizeAllowed", strconv.FormatInt(limit, 10)))
		} else {
			c.fail(errMalformedPOST)
		}
		return
	}
	if d.n < lr.min {
		d.discard()
		c.fail(errEntityTooSmall.withMessage("Your proposed upload is smaller than the minimum allowed size (%d bytes).", lr.min).with("MinSizeAllowed", strconv.FormatInt(lr.min, 10)))
		return
	}
	sum := d.md5Sum()
	if e := checkContentMD5(h, sum); e != nil {
		d.discard()
		c.fail(e)
		return
	}
	if err := d.finish(s.sync); err != nil {
		os.Remove(d.path)
		c.fail(s.internal("write data", err))
		return
	}
	o := &object{Key: key, Data: d.id, Size: d.n, ETag: etagOf(sum), CRC64: d.crc.Sum64(),
		ContentMD5: base64.StdEncoding.EncodeToString(sum), Type: typeNormal, Class: class, ACL: acl,
		Modified: s.now().UTC(), ContentType: ctype, Header: stored, Meta: meta}
	old, e := s.commit(b, o, check)
	if e != nil {
		os.Remove(d.path)
		c.fail(e)
		return
	}
	s.emit(c, "ObjectCreated:PostObject", o, old)
	location := "http://" + c.r.Host + "/" + c.bucket + "/" + uriEncode(key)
	rh := c.w.Header()
	rh.Set("ETag", o.ETag)
	rh.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC64, 10))
	rh.Set("Location", location)
	if redirect := f.get("success_action_redirect"); redirect != "" {
		if u, err := url.Parse(redirect); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			q := u.Query()
			q.Set("bucket", c.bucket)
			q.Set("key", key)
			q.Set("etag", o.ETag)
			u.RawQuery = q.Encode()
			rh.Set("Location", u.String())
			c.status = http.StatusSeeOther
			c.w.WriteHeader(http.StatusSeeOther)
			return
		}
	}
	switch f.get("success_action_status") {
	case "200":
		c.w.WriteHeader(http.StatusOK)
	case "201":
		writeXML(c, http.StatusCreated, struct {
			XMLName  xml.Name `xml:"PostResponse"`
			Bucket   string
			Location string
			Key      string
			ETag     string
		}{Bucket: c.bucket, Location: location, Key: key, ETag: o.ETag})
	default:
		c.status = http.StatusNoContent
		c.w.WriteHeader(http.StatusNoContent)
	}
}
