package ossemu

import (
	"encoding/xml"
	"net/http"
	"strings"
)

func requestBucketACL(h http.Header) (string, *apiError) {
	switch v := h.Get("x-oss-acl"); v {
	case "":
		return aclPrivate, nil
	case aclPrivate, aclPublicRead, aclPublicReadWrite:
		return v, nil
	default:
		return "", errInvalidArgument.withMessage("Invalid bucket ACL %q (private, public-read, public-read-write).", v).with("ArgumentName", "x-oss-acl").with("ArgumentValue", v)
	}
}

// putBucket is PutBucket, with an optional storage class and ACL.
func (s *Server) putBucket(c *call) {
	acl, e := requestBucketACL(c.r.Header)
	if e != nil {
		c.fail(e)
		return
	}
	body, e := readSmallBody(c, 64<<10)
	if e != nil {
		c.fail(e)
		return
	}
	var req struct {
		StorageClass       string
		DataRedundancyType string
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := xml.Unmarshal(body, &req); err != nil {
			c.fail(errMalformedXML)
			return
		}
	}
	class := classStandard
	if req.StorageClass != "" {
		var ok bool
		if class, ok = storageClasses[strings.ToLower(req.StorageClass)]; !ok {
			c.fail(errInvalidArgument.withMessage("Invalid storage class %q.", req.StorageClass).with("ArgumentName", "StorageClass"))
			return
		}
	}
	redundancy := req.DataRedundancyType
	if redundancy == "" {
		redundancy = "LRS"
	}
	if _, err := s.createBucket(c.bucket, bucketConfig{StorageClass: class, ACL: acl, Redundancy: redundancy}); err != nil {
		if ae, ok := err.(*apiError); ok {
			c.fail(ae.with("BucketName", c.bucket))
		} else {
			c.fail(s.internal("create bucket", err))
		}
		return
	}
	c.w.Header().Set("Location", "/"+c.bucket)
	c.w.WriteHeader(http.StatusOK)
}

// deleteBucket is DeleteBucket: 204 for an empty bucket, BucketNotEmpty otherwise.
func (s *Server) deleteBucket(c *call) {
	if e := s.removeBucket(c.bucket); e != nil {
		c.fail(e)
		return
	}
	c.status = http.StatusNoContent
	c.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) bucketConfig(c *call) (*bucket, bucketConfig, bool) {
	b := s.needBucket(c)
	if b == nil {
		return nil, bucketConfig{}, false
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b, b.cfg, true
}

// getBucketInfo is GetBucketInfo.
func (s *Server) getBucketInfo(c *call) {
	_, cfg, ok := s.bucketConfig(c)
	if !ok {
		return
	}
	type info struct {
		Name                   string
		AccessMonitor          string
		Location               string
		CreationDate           string
		ExtranetEndpoint       string
		IntranetEndpoint       string
		Grant                  string `xml:"AccessControlList>Grant"`
		DataRedundancyType     string
		Owner                  ownerXML
		StorageClass           string
		Versioning             string `xml:",omitempty"`
		TransferAcceleration   string
		CrossRegionReplication string
	}
	writeXML(c, http.StatusOK, struct {
		XMLName xml.Name `xml:"BucketInfo"`
		Bucket  info
	}{Bucket: info{Name: c.bucket, AccessMonitor: "Disabled", Location: "oss-" + s.opts.Region,
		CreationDate: cfg.Created.Format(xmlTimeFormat), ExtranetEndpoint: c.r.Host, IntranetEndpoint: c.r.Host,
		Grant: cfg.ACL, DataRedundancyType: cfg.Redundancy, Owner: s.owner(), StorageClass: cfg.StorageClass,
		TransferAcceleration: "Disabled", CrossRegionReplication: "Disabled"}})
}

// getBucketLocation is GetBucketLocation.
func (s *Server) getBucketLocation(c *call) {
	if _, _, ok := s.bucketConfig(c); !ok {
		return
	}
	writeXML(c, http.StatusOK, struct {
		XMLName  xml.Name `xml:"LocationConstraint"`
		Location string   `xml:",chardata"`
	}{Location: "oss-" + s.opts.Region})
}

// putBucketACL is PutBucketACL.
func (s *Server) putBucketACL(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	if c.r.Header.Get("x-oss-acl") == "" {
		c.fail(errInvalidArgument.withMessage("x-oss-acl is required.").with("ArgumentName", "x-oss-acl"))
		return
	}
	acl, e := requestBucketACL(c.r.Header)
	if e != nil {
		c.fail(e)
		return
	}
	b.mu.Lock()
	cfg := b.cfg
	cfg.ACL = acl
	err := s.saveBucketConfig(b, cfg)
	b.mu.Unlock()
	if err != nil {
		c.fail(s.internal("save bucket", err))
		return
	}
	c.w.WriteHeader(http.StatusOK)
}

// getBucketACL is GetBucketACL.
func (s *Server) getBucketACL(c *call) {
	_, cfg, ok := s.bucketConfig(c)
	if !ok {
		return
	}
	writeXML(c, http.StatusOK, struct {
		XMLName xml.Name `xml:"AccessControlPolicy"`
		Owner   ownerXML
		Grant   string `xml:"AccessControlList>Grant"`
	}{Owner: s.owner(), Grant: cfg.ACL})
}

// getBucketStat is GetBucketStat: storage and object counts per class.
func (s *Server) getBucketStat(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	type stat struct {
		XMLName                     xml.Name `xml:"BucketStat"`
		Storage                     int64
		ObjectCount                 int64
		MultipartUploadCount        int64
		LiveChannelCount            int64
		LastModifiedTime            int64
		StandardStorage             int64
		StandardObjectCount         int64
		InfrequentAccessStorage     int64
		InfrequentAccessRealStorage int64
		InfrequentAccessObjectCount int64
		ArchiveStorage              int64
		ArchiveRealStorage          int64
		ArchiveObjectCount          int64
		ColdArchiveStorage          int64
		ColdArchiveRealStorage      int64
		ColdArchiveObjectCount      int64
	}
	var st stat
	b.mu.RLock()
	st.MultipartUploadCount = int64(len(b.uploads))
	for _, o := range b.objects {
		st.Storage += o.Size
		st.ObjectCount++
		if t := o.Modified.Unix(); t > st.LastModifiedTime {
			st.LastModifiedTime = t
		}
		billed := billedSize(o.Class, o.Size)
		switch o.Class {
		case classStandard:
			st.StandardStorage += o.Size
			st.StandardObjectCount++
		case classIA:
			st.InfrequentAccessStorage += billed
			st.InfrequentAccessRealStorage += o.Size
			st.InfrequentAccessObjectCount++
		case classArchive:
			st.ArchiveStorage += billed
			st.ArchiveRealStorage += o.Size
			st.ArchiveObjectCount++
		case classColdArchive, classDeepColdArch:
			st.ColdArchiveStorage += billed
			st.ColdArchiveRealStorage += o.Size
			st.ColdArchiveObjectCount++
		}
	}
	b.mu.RUnlock()
	writeXML(c, http.StatusOK, st)
}
