package ossemu

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// signedSubresource lists the query parameters that take part in a V1 signature's canonical
// resource (the SDK's signKeyList); every other parameter is left out of V1 signatures.
var signedSubresource = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`acl uploads location cors logging website referer lifecycle
		delete append tagging objectMeta uploadId partNumber security-token position img style
		styleName replication replicationProgress replicationLocation cname bucketInfo comp qos
		live status vod startTime endTime symlink x-oss-process response-content-type
		x-oss-traffic-limit response-content-language response-expires response-cache-control
		response-content-disposition response-content-encoding udf udfName udfImage udfId
		udfImageDesc udfApplication udfApplicationLog restore callback callback-var qosInfo
		policy stat encryption versions versioning versionId requestPayment x-oss-request-payer
		sequential inventory inventoryId continuation-token asyncFetch worm wormId wormExtend
		withHashContext x-oss-enable-md5 x-oss-enable-sha1 x-oss-enable-sha256 x-oss-hash-ctx
		x-oss-md5-ctx transferAcceleration regionList cloudboxes x-oss-ac-source-ip
		x-oss-ac-subnet-mask x-oss-ac-vpc-id x-oss-ac-forward-allow metaQuery resourceGroup rtc
		x-oss-async-process responseHeader`) {
		m[k] = true
	}
	return m
}()

const (
	v4Algorithm     = "OSS4-HMAC-SHA256"
	v4TimeFormat    = "20060102T150405Z"
	maxClockSkew    = 15 * time.Minute
	maxPresignV4Age = 7 * 24 * time.Hour
	unsignedPayload = "UNSIGNED-PAYLOAD"
)

// authenticate checks the request's signature, if any, and then whether its signer (or an
// anonymous caller) may do what it asks. PostObject carries its signature in the form and is
// checked there.
func (s *Server) authenticate(c *call) *apiError {
	if s.opts.SkipAuth {
		c.owner = true
		return nil
	}
	if c.r.Method == http.MethodPost && c.key == "" && !c.has("delete") &&
		strings.HasPrefix(strings.ToLower(c.r.Header.Get("Content-Type")), "multipart/form-data") {
		return nil
	}
	var e *apiError
	signed := true
	switch auth := c.r.Header.Get("Authorization"); {
	case strings.HasPrefix(auth, "OSS4-HMAC-SHA256 "):
		e = s.checkV4Header(c, strings.TrimPrefix(auth, "OSS4-HMAC-SHA256 "))
	case strings.HasPrefix(auth, "OSS2 "):
		e = s.checkV2(c, strings.TrimPrefix(auth, "OSS2 "), false)
	case strings.HasPrefix(auth, "OSS "):
		e = s.checkV1Header(c, strings.TrimPrefix(auth, "OSS "))
	case auth != "":
		e = errBadAuthorization.withMessage("Authorization header %q is not an OSS signature (OSS, OSS2 or OSS4-HMAC-SHA256).", firstWord(auth))
	case c.q.Get("x-oss-signature-version") == v4Algorithm:
		e = s.checkV4Query(c)
	case c.q.Get("x-oss-signature-version") == "OSS2":
		e = s.checkV2(c, "", true)
	case c.has("Signature") || c.has("OSSAccessKeyId"):
		e = s.checkV1Query(c)
	default:
		signed = false
	}
	if e != nil {
		return e
	}
	if signed {
		c.owner = true
		return nil
	}
	return s.authorizeAnonymous(c)
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

// authorizeAnonymous applies the bucket and object ACLs to an unsigned request.
func (s *Server) authorizeAnonymous(c *call) *apiError {
	if c.bucket == "" {
		return errAccessDeniedBucket.withMessage("AccessDenied: anonymous access to the service is not allowed.")
	}
	b := s.bucket(c.bucket)
	if b == nil {
		return errNoSuchBucket.with("BucketName", c.bucket)
	}
	b.mu.RLock()
	bucketACL := b.cfg.ACL
	objectACL := aclDefault
	if o := b.objects[c.key]; o != nil && o.ACL != "" {
		objectACL = o.ACL
	}
	b.mu.RUnlock()
	readable := bucketACL == aclPublicRead || bucketACL == aclPublicReadWrite
	writable := bucketACL == aclPublicReadWrite
	switch objectACL {
	case aclPrivate:
		readable, writable = false, false
	case aclPublicRead:
		readable = true
	case aclPublicReadWrite:
		readable, writable = true, true
	}
	m := c.r.Method
	onlyResponseParams := true
	for k := range c.q {
		if !strings.HasPrefix(k, "response-") && k != "objectMeta" {
			onlyResponseParams = false
		}
	}
	switch {
	case c.key == "" && m == http.MethodGet && !hasAnyOtherSubresource(c.q) && !c.has("acl") && !c.has("uploads"):
		if bucketACL == aclPublicRead || bucketACL == aclPublicReadWrite {
			return nil
		}
	case c.key != "" && (m == http.MethodGet || m == http.MethodHead) && onlyResponseParams:
		if readable {
			return nil
		}
	case c.key != "" && (m == http.MethodPut || m == http.MethodPost || m == http.MethodDelete) && !c.has("acl") && !c.has("restore"):
		if writable {
			return nil
		}
	}
	if c.key == "" {
		return errAccessDeniedBucket
	}
	return errAccessDenied
}

func (s *Server) checkAccessKey(ak string) *apiError {
	if ak != s.opts.AccessKeyID {
		return errInvalidAccessKeyID.with("OSSAccessKeyId", ak)
	}
	return nil
}

// checkSkew rejects header-signed requests whose time is more than 15 minutes off, as OSS does.
func (s *Server) checkSkew(t time.Time) *apiError {
	d := s.wall().Sub(t)
	if d > maxClockSkew || d < -maxClockSkew {
		return errSkewed.with("RequestTime", t.UTC().Format(http.TimeFormat)).with("ServerTime", s.wall().UTC().Format(http.TimeFormat))
	}
	return nil
}

func (s *Server) mismatch(provided, stringToSign string, ak string) *apiError {
	return errSignature.with("StringToSign", stringToSign).with("SignatureProvided", provided).with("OSSAccessKeyId", ak)
}

// --- V1: HMAC-SHA1 over method, MD5, type, date, x-oss-* headers and resource ---

func (s *Server) checkV1Header(c *call, cred string) *apiError {
	ak, sig, ok := strings.Cut(cred, ":")
	if !ok {
		return errBadAuthorization
	}
	if e := s.checkAccessKey(ak); e != nil {
		return e
	}
	date := c.r.Header.Get("Date")
	t, err := http.ParseTime(date)
	if err != nil {
		if t, err = time.Parse(v4TimeFormat, c.r.Header.Get("x-oss-date")); err != nil {
			return errAccessDenied.withMessage("OSS authentication requires a valid Date.")
		}
	}
	if e := s.checkSkew(t); e != nil {
		return e
	}
	return s.verifyV1(c, date, sig, ak)
}

func (s *Server) checkV1Query(c *call) *apiError {
	ak, sig, exp := c.q.Get("OSSAccessKeyId"), c.q.Get("Signature"), c.q.Get("Expires")
	if ak == "" || sig == "" || exp == "" {
		return errAccessDenied.withMessage("A presigned URL needs OSSAccessKeyId, Expires and Signature.")
	}
	if e := s.checkAccessKey(ak); e != nil {
		return e
	}
	expires, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return errAccessDenied.withMessage("Expires %q is not a number of seconds since the epoch.", exp)
	}
	if s.wall().Unix() > expires {
		return errRequestExpired.with("Expires", time.Unix(expires, 0).UTC().Format(time.RFC3339)).with("ServerTime", s.wall().UTC().Format(time.RFC3339))
	}
	return s.verifyV1(c, exp, sig, ak)
}

func (s *Server) verifyV1(c *call, date, sig, ak string) *apiError {
	r := c.r
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + date + "\n")
	b.WriteString(canonicalOSSHeaders(r.Header, nil, false))
	b.WriteString(v1Resource(c.bucket, c.key, c.q))
	sts := b.String()
	want := base64.StdEncoding.EncodeToString(hmacSum(sha1.New, []byte(s.opts.AccessKeySecret), sts))
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return s.mismatch(sig, sts, ak)
	}
	return nil
}

// canonicalOSSHeaders renders "name:value\n" for every x-oss-* header plus the extra ones
// (V2/V4 additional headers), sorted by name. V4 also covers Content-Type and Content-MD5 and
// trims values.
func canonicalOSSHeaders(h http.Header, extra map[string]bool, v4 bool) string {
	m := map[string]string{}
	for k, v := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-") || extra[lk] || (v4 && (lk == "content-type" || lk == "content-md5")) {
			val := v[0]
			if v4 {
				val = strings.Trim(val, " ")
			}
			m[lk] = val
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + ":" + m[k] + "\n")
	}
	return b.String()
}

// v1Resource is the V1 canonical resource: /bucket/key plus the signed sub-resources, sorted
// by name, with their raw values.
func v1Resource(bucket, key string, q url.Values) string {
	res := "/"
	if bucket != "" {
		res = "/" + bucket + "/" + key
	}
	var names []string
	for k := range q {
		if signedSubresource[k] {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return res
	}
	sort.Strings(names)
	for i, k := range names {
		if v := q.Get(k); v != "" {
			names[i] = k + "=" + v
		}
	}
	return res + "?" + strings.Join(names, "&")
}

// --- V2: HMAC-SHA256, every parameter signed, resource URL-encoded ---

func (s *Server) checkV2(c *call, fields string, query bool) *apiError {
	var ak, sig, additional, date string
	if query {
		ak, sig, additional = c.q.Get("x-oss-access-key-id"), c.q.Get("x-oss-signature"), c.q.Get("x-oss-additional-headers")
		date = c.q.Get("x-oss-expires")
		expires, err := strconv.ParseInt(date, 10, 64)
		if err != nil {
			return errAccessDenied.withMessage("x-oss-expires %q is not a number of seconds since the epoch.", date)
		}
		if s.wall().Unix() > expires {
			return errRequestExpired
		}
	} else {
		for _, f := range strings.Split(fields, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(f), ":")
			switch name {
			case "AccessKeyId":
				ak = val
			case "AdditionalHeaders":
				additional = val
			case "Signature":
				sig = val
			}
		}
		date = c.r.Header.Get("Date")
		t, err := http.ParseTime(date)
		if err != nil {
			return errAccessDenied.withMessage("OSS authentication requires a valid Date.")
		}
		if e := s.checkSkew(t); e != nil {
			return e
		}
	}
	if ak == "" || sig == "" {
		return errBadAuthorization
	}
	if e := s.checkAccessKey(ak); e != nil {
		return e
	}
	extra := map[string]bool{}
	var extraList []string
	for _, h := range strings.Split(additional, ";") {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			extra[h] = true
			extraList = append(extraList, h)
		}
	}
	sort.Strings(extraList)
	r := c.r
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + date + "\n")
	b.WriteString(canonicalOSSHeaders(r.Header, extra, false))
	b.WriteString(strings.Join(extraList, ";") + "\n")
	var res string
	if c.bucket == "" {
		res = url.QueryEscape("/")
	} else {
		res = url.QueryEscape("/"+c.bucket+"/") + uriEncode(c.key)
	}
	if sub := canonicalQuery(c.q, "x-oss-signature"); sub != "" {
		res += "?" + sub
	}
	b.WriteString(res)
	sts := b.String()
	want := base64.StdEncoding.EncodeToString(hmacSum(sha256.New, []byte(s.opts.AccessKeySecret), sts))
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return s.mismatch(sig, sts, ak)
	}
	return nil
}

// uriEncode is RFC 3986 percent-encoding (space as %20), as the SDKs apply it to keys and
// parameters.
func uriEncode(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// canonicalQuery renders every parameter but skip as encoded "k=v" (or "k" when empty),
// sorted by encoded name: the V2/V4 sub-resource.
func canonicalQuery(q url.Values, skip string) string {
	type kv struct{ k, v string }
	var list []kv
	for k, vs := range q {
		if k == skip {
			continue
		}
		list = append(list, kv{uriEncode(k), uriEncode(vs[0])})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].k < list[j].k })
	parts := make([]string, len(list))
	for i, p := range list {
		parts[i] = p.k
		if p.v != "" {
			parts[i] += "=" + p.v
		}
	}
	return strings.Join(parts, "&")
}

// --- V4: HMAC-SHA256 with a derived key over a canonical request ---

type v4Credential struct {
	ak, day, region, product string
}

func parseV4Credential(s string) (v4Credential, bool) {
	p := strings.Split(s, "/")
	if len(p) != 5 || p[4] != "aliyun_v4_request" || len(p[1]) != 8 {
		return v4Credential{}, false
	}
	return v4Credential{ak: p[0], day: p[1], region: p[2], product: p[3]}, true
}

func (s *Server) checkV4Credential(cr v4Credential) *apiError {
	if e := s.checkAccessKey(cr.ak); e != nil {
		return e
	}
	if cr.region != s.opts.Region {
		return errInvalidArgument.withMessage("The V4 signing region %q does not match this endpoint's region %q (set oss.Region(%q) in the SDK).", cr.region, s.opts.Region, s.opts.Region)
	}
	if cr.product != "oss" {
		return errInvalidArgument.withMessage("The V4 signing product %q is not \"oss\".", cr.product)
	}
	return nil
}

func (s *Server) checkV4Header(c *call, fields string) *apiError {
	var credential, additional, sig string
	for _, f := range strings.Split(fields, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch name {
		case "Credential":
			credential = val
		case "AdditionalHeaders":
			additional = val
		case "Signature":
			sig = val
		}
	}
	cr, ok := parseV4Credential(credential)
	if !ok || sig == "" {
		return errBadAuthorization.withMessage("The V4 Authorization header needs Credential=AK/YYYYMMDD/region/oss/aliyun_v4_request and Signature=.")
	}
	if e := s.checkV4Credential(cr); e != nil {
		return e
	}
	// The SDK signs with x-oss-date when present and with the Date header (RFC 1123) otherwise.
	signDate := c.r.Header.Get("x-oss-date")
	var t time.Time
	var err error
	if signDate != "" {
		t, err = time.Parse(v4TimeFormat, signDate)
	} else {
		signDate = c.r.Header.Get("Date")
		t, err = http.ParseTime(signDate)
	}
	if err != nil {
		return errAccessDenied.withMessage("OSS V4 authentication requires a valid x-oss-date or Date.")
	}
	if e := s.checkSkew(t); e != nil {
		return e
	}
	payload := c.r.Header.Get("x-oss-content-sha256")
	if payload == "" {
		return errInvalidArgument.withMessage("x-oss-content-sha256 is required with a V4 signature.")
	}
	return s.verifyV4(c, cr, signDate, additional, payload, sig, "")
}

func (s *Server) checkV4Query(c *call) *apiError {
	cr, ok := parseV4Credential(c.q.Get("x-oss-credential"))
	sig := c.q.Get("x-oss-signature")
	if !ok || sig == "" {
		return errAccessDenied.withMessage("A V4 presigned URL needs x-oss-credential and x-oss-signature.")
	}
	if e := s.checkV4Credential(cr); e != nil {
		return e
	}
	signDate := c.q.Get("x-oss-date")
	t, err := time.Parse(v4TimeFormat, signDate)
	if err != nil {
		return errAccessDenied.withMessage("x-oss-date %q is not in the form 20060102T150405Z.", signDate)
	}
	secs, err := strconv.ParseInt(c.q.Get("x-oss-expires"), 10, 64)
	if err != nil || secs <= 0 || time.Duration(secs)*time.Second > maxPresignV4Age {
		return errInvalidArgument.withMessage("x-oss-expires must be a number of seconds between 1 and 604800.")
	}
	if s.wall().After(t.Add(time.Duration(secs) * time.Second)) {
		return errRequestExpired.with("Expires", t.Add(time.Duration(secs)*time.Second).UTC().Format(time.RFC3339)).with("ServerTime", s.wall().UTC().Format(time.RFC3339))
	}
	if t.Sub(s.wall()) > maxClockSkew {
		return errSkewed
	}
	payload := c.r.Header.Get("x-oss-content-sha256")
	if payload == "" {
		payload = unsignedPayload
	}
	return s.verifyV4(c, cr, signDate, c.q.Get("x-oss-additional-headers"), payload, sig, "x-oss-signature")
}

func (s *Server) verifyV4(c *call, cr v4Credential, signDate, additional, payload, sig, skipParam string) *apiError {
	extra := map[string]bool{}
	var extraList []string
	for _, h := range strings.Split(additional, ";") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || h == "content-type" || h == "content-md5" {
			continue
		}
		if c.r.Header.Get(h) == "" && !(h == "host" && c.r.Host != "") {
			continue
		}
		extra[h] = true
		extraList = append(extraList, h)
	}
	sort.Strings(extraList)
	header := c.r.Header
	if extra["host"] && header.Get("Host") == "" {
		// Go moves Host out of the header map.
		header = header.Clone()
		header.Set("Host", c.r.Host)
	}
	uri := "/"
	if c.bucket != "" {
		uri = "/" + c.bucket + "/" + strings.ReplaceAll(uriEncode(c.key), "%2F", "/")
	}
	canonical := c.r.Method + "\n" + uri + "\n" + canonicalQuery(c.q, skipParam) + "\n" +
		canonicalOSSHeaders(header, extra, true) + "\n" + strings.Join(extraList, ";") + "\n" + payload
	scope := cr.day + "/" + cr.region + "/" + cr.product + "/aliyun_v4_request"
	digest := sha256.Sum256([]byte(canonical))
	sts := v4Algorithm + "\n" + signDate + "\n" + scope + "\n" + hex.EncodeToString(digest[:])
	want := hex.EncodeToString(hmacSum(sha256.New, s.v4Key(cr.day, cr.region, cr.product), sts))
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return s.mismatch(sig, sts, cr.ak).with("CanonicalRequest", canonical)
	}
	return nil
}

// v4Key derives the V4 signing key for a day, region and product.
func (s *Server) v4Key(day, region, product string) []byte {
	k := hmacSum(sha256.New, []byte("aliyun_v4"+s.opts.AccessKeySecret), day)
	k = hmacSum(sha256.New, k, region)
	k = hmacSum(sha256.New, k, product)
	return hmacSum(sha256.New, k, "aliyun_v4_request")
}

func hmacSum(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
