package oss

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	sdk "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"vodfc.dev/vodfc/runtime"
)

// Presigned is a request a client can make without credentials.
type Presigned struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"` // headers the client must send as given
	Expires time.Time         `json:"expires_at"`
}

// PresignGet returns a URL to read key until ttl passes.
func (s *Store) PresignGet(key string, ttl time.Duration) (Presigned, error) {
	_, pub, err := s.clients()
	if err != nil {
		return Presigned{}, err
	}
	u, err := pub.SignURL(key, sdk.HTTPGet, expirySeconds(ttl))
	if err != nil {
		return Presigned{}, wrapErr("SignURL", key, err)
	}
	return Presigned{Method: "GET", URL: u, Expires: runtime.Now().Add(ttl)}, nil
}

// PresignPut returns a URL to upload key once, with exactly this content type, until ttl
// passes. The content type and x-oss-forbid-overwrite are part of the signature, so the URL
// cannot store anything else under the key, nor replace what it stored: once an upload has
// landed (and its event started the work on it), a second PUT gets 409 FileAlreadyExists.
func (s *Store) PresignPut(key, contentType string, ttl time.Duration) (Presigned, error) {
	_, pub, err := s.clients()
	if err != nil {
		return Presigned{}, err
	}
	u, err := pub.SignURL(key, sdk.HTTPPut, expirySeconds(ttl), sdk.ContentType(contentType), sdk.ForbidOverWrite(true))
	if err != nil {
		return Presigned{}, wrapErr("SignURL", key, err)
	}
	return Presigned{Method: "PUT", URL: u, Expires: runtime.Now().Add(ttl),
		Headers: map[string]string{"Content-Type": contentType, "x-oss-forbid-overwrite": "true"}}, nil
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	Number int    `json:"number"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size,omitempty"`
}

// StartMultipart begins a multipart upload of key and returns its id.
func (s *Store) StartMultipart(ctx context.Context, key, contentType string) (string, error) {
	b, _, err := s.clients()
	if err != nil {
		return "", err
	}
	imur, err := b.InitiateMultipartUpload(key, sdk.ContentType(contentType), ctxOpt(ctx))
	if err != nil {
		return "", wrapErr("InitiateMultipartUpload", key, err)
	}
	return imur.UploadID, nil
}

// PresignPart returns a URL that uploads part number n of an upload until ttl passes.
func (s *Store) PresignPart(key, uploadID string, n int, ttl time.Duration) (Presigned, error) {
	_, pub, err := s.clients()
	if err != nil {
		return Presigned{}, err
	}
	u, err := pub.SignURL(key, sdk.HTTPPut, expirySeconds(ttl),
		sdk.AddParam("partNumber", strconv.Itoa(n)), sdk.AddParam("uploadId", uploadID))
	if err != nil {
		return Presigned{}, wrapErr("SignURL", key, err)
	}
	return Presigned{Method: "PUT", URL: u, Expires: runtime.Now().Add(ttl)}, nil
}

// ListParts returns the parts uploaded so far, in part order.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]Part, error) {
	b, _, err := s.clients()
	if err != nil {
		return nil, err
	}
	imur := sdk.InitiateMultipartUploadResult{Bucket: s.cfg.Bucket, Key: key, UploadID: uploadID}
	var parts []Part
	marker := ""
	for {
		opts := []sdk.Option{sdk.MaxParts(1000), ctxOpt(ctx)}
		if marker != "" {
			opts = append(opts, sdk.PartNumberMarker(atoi(marker)))
		}
		res, err := b.ListUploadedParts(imur, opts...)
		if err != nil {
			return nil, wrapErr("ListParts", key, err)
		}
		for _, p := range res.UploadedParts {
			parts = append(parts, Part{Number: p.PartNumber, ETag: strings.Trim(p.ETag, `"`), Size: int64(p.Size)})
		}
		if !res.IsTruncated || res.NextPartNumberMarker == "" {
			break
		}
		marker = res.NextPartNumberMarker
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

// CompleteMultipart assembles the parts into the object and returns its ETag.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (string, error) {
	b, _, err := s.clients()
	if err != nil {
		return "", err
	}
	imur := sdk.InitiateMultipartUploadResult{Bucket: s.cfg.Bucket, Key: key, UploadID: uploadID}
	up := make([]sdk.UploadPart, len(parts))
	for i, p := range parts {
		up[i] = sdk.UploadPart{PartNumber: p.Number, ETag: `"` + strings.Trim(p.ETag, `"`) + `"`}
	}
	res, err := b.CompleteMultipartUpload(imur, up, ctxOpt(ctx))
	if err != nil {
		return "", wrapErr("CompleteMultipartUpload", key, err)
	}
	return strings.Trim(res.ETag, `"`), nil
}

// AbortMultipart cancels an upload and frees its parts; an unknown upload is not an error.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	b, _, err := s.clients()
	if err != nil {
		return err
	}
	imur := sdk.InitiateMultipartUploadResult{Bucket: s.cfg.Bucket, Key: key, UploadID: uploadID}
	err = wrapErr("AbortMultipartUpload", key, b.AbortMultipartUpload(imur, ctxOpt(ctx)))
	if IsNotFound(err) {
		return nil
	}
	return err
}

// Upload is a multipart upload in progress.
type Upload struct {
	Key, ID   string
	Initiated time.Time
}

// ListUploads calls fn for every unfinished multipart upload under prefix.
func (s *Store) ListUploads(ctx context.Context, prefix string, fn func(Upload) error) error {
	b, _, err := s.clients()
	if err != nil {
		return err
	}
	keyMarker, idMarker := "", ""
	for {
		opts := []sdk.Option{sdk.Prefix(prefix), sdk.MaxUploads(1000), ctxOpt(ctx)}
		if keyMarker != "" {
			opts = append(opts, sdk.KeyMarker(keyMarker), sdk.UploadIDMarker(idMarker))
		}
		res, err := b.ListMultipartUploads(opts...)
		if err != nil {
			return wrapErr("ListMultipartUploads", prefix, err)
		}
		for _, u := range res.Uploads {
			if err := fn(Upload{Key: u.Key, ID: u.UploadID, Initiated: u.Initiated}); err != nil {
				return err
			}
		}
		if !res.IsTruncated {
			return nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func asService(err error, se *sdk.ServiceError) bool { return errors.As(err, se) }
