package ossemu

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"sort"
	"strings"
)

type contentXML struct {
	Key          string
	LastModified string
	ETag         string
	Type         string
	Size         int64
	StorageClass string
	Owner        *ownerXML `xml:",omitempty"`
	RestoreInfo  string    `xml:",omitempty"`
}

type commonPrefixXML struct {
	Prefix string
}

// prefixEnd is the smallest string greater than every string that starts with p, or "" if
// there is none (p is all 0xff bytes).
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// listObjects is ListObjects (v1: marker) and ListObjectsV2 (continuation-token, start-after).
func (s *Server) listObjects(c *call, v2 bool) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	max, e := intParam(c, "max-keys", 100, 1000)
	if e != nil {
		c.fail(e)
		return
	}
	encType := c.q.Get("encoding-type")
	if encType != "" && encType != "url" {
		c.fail(errInvalidArgument.withMessage("encoding-type must be url.").with("ArgumentName", "encoding-type"))
		return
	}
	enc := encType == "url"
	prefix, delim := c.q.Get("prefix"), c.q.Get("delimiter")
	var after, token string
	if v2 {
		after = c.q.Get("start-after")
		if token = c.q.Get("continuation-token"); token != "" {
			raw, err := base64.RawURLEncoding.DecodeString(token)
			if err != nil {
				c.fail(errInvalidArgument.withMessage("The continuation token is not valid.").with("ArgumentName", "continuation-token"))
				return
			}
			after = string(raw)
		}
	} else {
		after = c.q.Get("marker")
	}
	fetchOwner := !v2 || c.q.Get("fetch-owner") == "true"
	owner := s.owner()
	now := s.now()

	var contents []contentXML
	var prefixes []commonPrefixXML
	truncated, last := false, ""
	count := 0
	b.mu.RLock()
	keys := b.keys
	start := prefix
	if after >= start {
		start = after + "\x00"
	}
	i := sort.SearchStrings(keys, start)
	for i < len(keys) && strings.HasPrefix(keys[i], prefix) {
		k := keys[i]
		if delim != "" {
			if j := strings.Index(k[len(prefix):], delim); j >= 0 {
				cp := k[:len(prefix)+j+len(delim)]
				end := prefixEnd(cp)
				if cp <= after {
					// The page before ended inside or at this prefix.
					if end == "" {
						break
					}
					i = sort.SearchStrings(keys, end)
					continue
				}
				if count == max {
					truncated = true
					break
				}
				prefixes = append(prefixes, commonPrefixXML{encodeIf(enc, cp)})
				last = cp
				count++
				if end == "" {
					break
				}
				i = sort.SearchStrings(keys, end)
				continue
			}
		}
		if count == max {
			truncated = true
			break
		}
		o := b.objects[k]
		ct := contentXML{Key: encodeIf(enc, k), LastModified: o.Modified.Format(xmlTimeFormat), ETag: o.ETag,
			Type: o.Type, Size: o.Size, StorageClass: o.Class, RestoreInfo: restoreHeader(o, now)}
		if fetchOwner {
			ct.Owner = &owner
		}
		contents = append(contents, ct)
		last = k
		count++
		i++
	}
	b.mu.RUnlock()

	encodingType := ""
	if enc {
		encodingType = "url"
	}
	if v2 {
		res := struct {
			XMLName               xml.Name `xml:"ListBucketResult"`
			Name                  string
			Prefix                string
			ContinuationToken     string `xml:",omitempty"`
			StartAfter            string `xml:",omitempty"`
			MaxKeys               int
			Delimiter             string
			EncodingType          string `xml:",omitempty"`
			IsTruncated           bool
			NextContinuationToken string `xml:",omitempty"`
			KeyCount              int
			Contents              []contentXML
			CommonPrefixes        []commonPrefixXML
		}{Name: c.bucket, Prefix: encodeIf(enc, prefix), ContinuationToken: token, StartAfter: encodeIf(enc, c.q.Get("start-after")),
			MaxKeys: max, Delimiter: encodeIf(enc, delim), EncodingType: encodingType, IsTruncated: truncated,
			KeyCount: count, Contents: contents, CommonPrefixes: prefixes}
		if truncated {
			res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
		}
		writeXML(c, http.StatusOK, res)
		return
	}
	res := struct {
		XMLName        xml.Name `xml:"ListBucketResult"`
		Name           string
		Prefix         string
		Marker         string
		MaxKeys        int
		Delimiter      string
		EncodingType   string `xml:",omitempty"`
		IsTruncated    bool
		NextMarker     string `xml:",omitempty"`
		Contents       []contentXML
		CommonPrefixes []commonPrefixXML
	}{Name: c.bucket, Prefix: encodeIf(enc, prefix), Marker: encodeIf(enc, after), MaxKeys: max,
		Delimiter: encodeIf(enc, delim), EncodingType: encodingType, IsTruncated: truncated,
		Contents: contents, CommonPrefixes: prefixes}
	if truncated {
		res.NextMarker = encodeIf(enc, last)
	}
	writeXML(c, http.StatusOK, res)
}

// listBuckets is ListBuckets (GetService).
func (s *Server) listBuckets(c *call) {
	max, e := intParam(c, "max-keys", 100, 1000)
	if e != nil {
		c.fail(e)
		return
	}
	prefix, marker := c.q.Get("prefix"), c.q.Get("marker")
	type bucketXML struct {
		Name             string
		CreationDate     string
		Location         string
		ExtranetEndpoint string
		IntranetEndpoint string
		Region           string
		StorageClass     string
	}
	res := struct {
		XMLName     xml.Name `xml:"ListAllMyBucketsResult"`
		Prefix      string   `xml:",omitempty"`
		Marker      string   `xml:",omitempty"`
		MaxKeys     int      `xml:",omitempty"`
		IsTruncated bool
		NextMarker  string `xml:",omitempty"`
		Owner       ownerXML
		Buckets     []bucketXML `xml:"Buckets>Bucket"`
	}{Prefix: prefix, Marker: marker, Owner: s.owner()}
	if c.has("max-keys") {
		res.MaxKeys = max
	}
	for _, b := range s.bucketList() {
		if !strings.HasPrefix(b.name, prefix) || b.name <= marker {
			continue
		}
		if len(res.Buckets) == max {
			res.IsTruncated = true
			res.NextMarker = res.Buckets[len(res.Buckets)-1].Name
			break
		}
		b.mu.RLock()
		cfg := b.cfg
		b.mu.RUnlock()
		res.Buckets = append(res.Buckets, bucketXML{Name: b.name, CreationDate: cfg.Created.Format(xmlTimeFormat),
			Location: "oss-" + s.opts.Region, ExtranetEndpoint: c.r.Host, IntranetEndpoint: c.r.Host,
			Region: s.opts.Region, StorageClass: cfg.StorageClass})
	}
	writeXML(c, http.StatusOK, res)
}

// validBucketName applies OSS's naming rule: 3-63 lower-case letters, digits and hyphens,
// starting and ending with a letter or digit.
func validBucketName(n string) bool {
	if len(n) < 3 || len(n) > 63 || n[0] == '-' || n[len(n)-1] == '-' {
		return false
	}
	for i := 0; i < len(n); i++ {
		ch := n[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			return false
		}
	}
	return true
}
