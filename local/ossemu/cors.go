package ossemu

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// CORSRule is one rule of a bucket's CORS configuration (PutBucketCors). Origins and headers
// may hold one '*' wildcard each; methods are GET, PUT, DELETE, POST and HEAD.
type CORSRule struct {
	AllowedOrigin []string `xml:"AllowedOrigin" json:"allowedOrigin"`
	AllowedMethod []string `xml:"AllowedMethod" json:"allowedMethod"`
	AllowedHeader []string `xml:"AllowedHeader" json:"allowedHeader,omitempty"`
	ExposeHeader  []string `xml:"ExposeHeader" json:"exposeHeader,omitempty"`
	MaxAgeSeconds int      `xml:"MaxAgeSeconds,omitempty" json:"maxAgeSeconds,omitempty"`
}

func (r CORSRule) validate() error {
	if len(r.AllowedOrigin) == 0 || len(r.AllowedMethod) == 0 {
		return errors.New("a rule needs at least one AllowedOrigin and one AllowedMethod")
	}
	for _, m := range r.AllowedMethod {
		if !slices.Contains([]string{"GET", "PUT", "DELETE", "POST", "HEAD"}, m) {
			return fmt.Errorf("AllowedMethod %q is not GET, PUT, DELETE, POST or HEAD", m)
		}
	}
	for _, p := range append(append([]string(nil), r.AllowedOrigin...), r.AllowedHeader...) {
		if strings.Count(p, "*") > 1 {
			return fmt.Errorf("%q has more than one '*'", p)
		}
	}
	for _, h := range r.ExposeHeader {
		if strings.Contains(h, "*") {
			return fmt.Errorf("ExposeHeader %q may not contain '*'", h)
		}
	}
	if r.MaxAgeSeconds < 0 {
		return errors.New("MaxAgeSeconds is negative")
	}
	return nil
}

// wildcardMatch matches s against a pattern with at most one '*'.
func wildcardMatch(pattern, s string) bool {
	before, after, found := strings.Cut(pattern, "*")
	if !found {
		return pattern == s
	}
	return len(s) >= len(before)+len(after) && strings.HasPrefix(s, before) && strings.HasSuffix(s, after)
}

// match reports whether r allows origin, method and every requested header; it returns the
// origin pattern that matched.
func (r CORSRule) match(origin, method string, headers []string) (string, bool) {
	pattern := ""
	for _, p := range r.AllowedOrigin {
		if wildcardMatch(p, origin) {
			pattern = p
			break
		}
	}
	if pattern == "" || !slices.Contains(r.AllowedMethod, method) {
		return "", false
	}
	for _, h := range headers {
		ok := false
		for _, p := range r.AllowedHeader {
			if wildcardMatch(strings.ToLower(p), strings.ToLower(h)) {
				ok = true
				break
			}
		}
		if !ok {
			return "", false
		}
	}
	return pattern, true
}

func (s *Server) corsRules(name string) ([]CORSRule, bool, bool) {
	b := s.bucket(name)
	if b == nil {
		return nil, false, false
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.cfg.CORS, b.cfg.ResponseVary, true
}

func setCORSHeaders(h http.Header, rule CORSRule, pattern, origin string) {
	if pattern == "*" {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(rule.AllowedMethod, ", "))
	if len(rule.ExposeHeader) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(rule.ExposeHeader, ", "))
	}
	if rule.MaxAgeSeconds > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(rule.MaxAgeSeconds))
	}
}

// preflight answers a browser's OPTIONS request from the bucket's CORS rules.
func (s *Server) preflight(c *call) {
	if c.bucket == "" {
		c.fail(errCORSForbidden)
		return
	}
	rules, vary, ok := s.corsRules(c.bucket)
	if !ok {
		c.fail(errNoSuchBucket.with("BucketName", c.bucket))
		return
	}
	origin := c.r.Header.Get("Origin")
	method := c.r.Header.Get("Access-Control-Request-Method")
	if origin == "" || method == "" {
		c.fail(errCORSForbidden.withMessage("Insufficient information. Origin and Access-Control-Request-Method are required."))
		return
	}
	var headers []string
	for _, h := range strings.Split(c.r.Header.Get("Access-Control-Request-Headers"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			headers = append(headers, h)
		}
	}
	h := c.w.Header()
	if vary {
		h.Add("Vary", "Origin")
	}
	for _, rule := range rules {
		if pattern, ok := rule.match(origin, method, headers); ok {
			setCORSHeaders(h, rule, pattern, origin)
			if len(headers) > 0 {
				h.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
			}
			h.Set("Content-Length", "0")
			c.w.WriteHeader(http.StatusOK)
			return
		}
	}
	c.fail(errCORSForbidden)
}

// applyCORS adds the CORS answer headers to a cross-origin request a rule allows.
func (s *Server) applyCORS(c *call) {
	origin := c.r.Header.Get("Origin")
	if origin == "" || c.bucket == "" {
		return
	}
	rules, vary, ok := s.corsRules(c.bucket)
	if !ok {
		return
	}
	if vary {
		c.w.Header().Add("Vary", "Origin")
	}
	for _, rule := range rules {
		if pattern, ok := rule.match(origin, c.r.Method, nil); ok {
			setCORSHeaders(c.w.Header(), rule, pattern, origin)
			return
		}
	}
}

type corsConfigXML struct {
	XMLName      xml.Name   `xml:"CORSConfiguration"`
	CORSRule     []CORSRule `xml:"CORSRule"`
	ResponseVary *bool      `xml:"ResponseVary,omitempty"`
}

// putBucketCORS is PutBucketCors.
func (s *Server) putBucketCORS(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	body, e := readSmallBody(c, 64<<10)
	if e != nil {
		c.fail(e)
		return
	}
	var cfgXML corsConfigXML
	if err := xml.Unmarshal(body, &cfgXML); err != nil {
		c.fail(errMalformedXML)
		return
	}
	if len(cfgXML.CORSRule) > 10 {
		c.fail(errInvalidArgument.withMessage("A bucket takes at most 10 CORS rules."))
		return
	}
	for _, r := range cfgXML.CORSRule {
		if err := r.validate(); err != nil {
			c.fail(errInvalidArgument.withMessage("CORS rule: %v.", err))
			return
		}
	}
	b.mu.Lock()
	cfg := b.cfg
	cfg.CORS, cfg.CORSSet = cfgXML.CORSRule, true
	cfg.ResponseVary = cfgXML.ResponseVary != nil && *cfgXML.ResponseVary
	err := s.saveBucketConfig(b, cfg)
	b.mu.Unlock()
	if err != nil {
		c.fail(s.internal("save bucket", err))
		return
	}
	c.w.WriteHeader(http.StatusOK)
}

// getBucketCORS is GetBucketCors.
func (s *Server) getBucketCORS(c *call) {
	_, cfg, ok := s.bucketConfig(c)
	if !ok {
		return
	}
	if !cfg.CORSSet {
		c.fail(errNoSuchCORS.with("BucketName", c.bucket))
		return
	}
	vary := cfg.ResponseVary
	writeXML(c, http.StatusOK, corsConfigXML{CORSRule: cfg.CORS, ResponseVary: &vary})
}

// deleteBucketCORS is DeleteBucketCors.
func (s *Server) deleteBucketCORS(c *call) {
	b := s.needBucket(c)
	if b == nil {
		return
	}
	b.mu.Lock()
	cfg := b.cfg
	cfg.CORS, cfg.CORSSet, cfg.ResponseVary = nil, false, false
	err := s.saveBucketConfig(b, cfg)
	b.mu.Unlock()
	if err != nil {
		c.fail(s.internal("save bucket", err))
		return
	}
	c.status = http.StatusNoContent
	c.w.WriteHeader(http.StatusNoContent)
}
