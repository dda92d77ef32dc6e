package oss

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	sdk "github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Object is what the bucket says about one object.
type Object struct {
	Key          string
	Size         int64
	ETag         string // without quotes
	ContentType  string
	Class        string
	LastModified time.Time
	Restore      Restore
	Meta         map[string]string // x-oss-meta-* without the prefix, lower case
}

// Restore is the restore state of an Archive or ColdArchive object.
type Restore struct {
	Requested bool      // a restore was asked for (ongoing or done)
	Ongoing   bool      // still being restored
	Expires   time.Time // when a finished restore ends
}

// Readable reports whether the object's bytes can be read now. OSS drops the restore header
// when a restored copy expires, so a finished restore in the header means readable; no clock
// is compared here (the caller's clock and the bucket's may differ, as in simulations).
func (o Object) Readable() bool {
	switch o.Class {
	case Archive, ColdArchive, "DeepColdArchive":
		return o.Restore.Requested && !o.Restore.Ongoing
	}
	return true
}

// Head returns an object's properties; a missing object is ErrNotFound.
func (s *Store) Head(ctx context.Context, key string) (Object, error) {
	b, _, err := s.clients()
	if err != nil {
		return Object{}, err
	}
	h, err := b.GetObjectDetailedMeta(key, ctxOpt(ctx))
	if err != nil {
		return Object{}, wrapErr("HeadObject", key, err)
	}
	return objectFromHeader(key, h), nil
}

func objectFromHeader(key string, h http.Header) Object {
	o := Object{Key: key, ETag: strings.Trim(h.Get("ETag"), `"`), ContentType: h.Get("Content-Type"),
		Class: h.Get("X-Oss-Storage-Class"), Meta: map[string]string{}}
	o.Size, _ = strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	o.LastModified, _ = http.ParseTime(h.Get("Last-Modified"))
	if o.Class == "" {
		o.Class = Standard
	}
	o.Restore = parseRestore(h.Get("X-Oss-Restore"))
	for k, v := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-meta-") && len(v) > 0 {
			o.Meta[strings.TrimPrefix(lk, "x-oss-meta-")] = v[0]
		}
	}
	return o
}

// parseRestore reads `ongoing-request="true"` or
// `ongoing-request="false", expiry-date="Sun, 16 Apr 2017 08:12:33 GMT"`.
func parseRestore(v string) Restore {
	if v == "" {
		return Restore{}
	}
	r := Restore{Requested: true, Ongoing: strings.Contains(v, `ongoing-request="true"`)}
	if i := strings.Index(v, `expiry-date="`); i >= 0 {
		rest := v[i+len(`expiry-date="`):]
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			r.Expires, _ = http.ParseTime(rest[:j])
		}
	}
	return r
}

// Exists reports whether key exists.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	_, err := s.Head(ctx, key)
	if IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// GetToFile downloads an object to path (streamed; the SDK checks the CRC64 on the way).
func (s *Store) GetToFile(ctx context.Context, key, path string) error {
	b, _, err := s.clients()
	if err != nil {
		return err
	}
	return wrapErr("GetObject", key, b.GetObjectToFile(key, path, ctxOpt(ctx)))
}

// Open streams an object; the caller closes the reader.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	b, _, err := s.clients()
	if err != nil {
		return nil, err
	}
	rc, err := b.GetObject(key, ctxOpt(ctx))
	return rc, wrapErr("GetObject", key, err)
}

// ReadAll reads a small object into memory.
func (s *Store) ReadAll(ctx context.Context, key string) ([]byte, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// PutOptions are the optional properties of a new object.
type PutOptions struct {
	ContentType  string
	CacheControl string
	Class        string            // storage class; "" = the bucket's default
	Meta         map[string]string // x-oss-meta-*
}

func (p PutOptions) sdk(ctx context.Context) []sdk.Option {
	opts := []sdk.Option{ctxOpt(ctx)}
	if p.ContentType != "" {
		opts = append(opts, sdk.ContentType(p.ContentType))
	}
	if p.CacheControl != "" {
		opts = append(opts, sdk.CacheControl(p.CacheControl))
	}
	if p.Class != "" {
		opts = append(opts, sdk.ObjectStorageClass(sdk.StorageClassType(p.Class)))
	}
	for k, v := range p.Meta {
		opts = append(opts, sdk.Meta(k, v))
	}
	return opts
}

// Put writes an object from a reader.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, o PutOptions) error {
	b, _, err := s.clients()
	if err != nil {
		return err
	}
	return wrapErr("PutObject", key, b.PutObject(key, r, o.sdk(ctx)...))
}

// PutFile uploads a local file.
func (s *Store) PutFile(ctx context.Context, key, path string, o PutOptions) error {
	b, _, err := s.clients()
	if err != nil {
		return err
	}
	return wrapErr("PutObject", key, b.PutObjectFromFile(key, path, o.sdk(ctx)...))
}

// Delete removes an object; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	b, _, err := s.clients()
	if err != nil {
		return err
	}
	err = wrapErr("DeleteObject", key, b.DeleteObject(key, ctxOpt(ctx)))
	if IsNotFound(err) {
		return nil
	}
	return err
}

// DeleteKeys removes the objects at keys (missing ones are no error), 1000 per request.
func (s *Store) DeleteKeys(ctx context.Context, keys []string) error {
	b, _, err := s.clients()
	if err != nil {
		return err
	}
	for start := 0; start < len(keys); start += 1000 {
		batch := keys[start:min(start+1000, len(keys))]
		if _, err := b.DeleteObjects(batch, sdk.DeleteObjectsQuiet(true), ctxOpt(ctx)); err != nil {
			return wrapErr("DeleteObjects", batch[0], err)
		}
	}
	return nil
}

// DeletePrefix removes every object under prefix and returns how many it removed.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if prefix == "" || !strings.HasSuffix(prefix, "/") {
		return 0, &Error{Op: "DeletePrefix", Key: prefix, Code: "InvalidArgument", Message: "prefix must end with /"}
	}
	b, _, err := s.clients()
	if err != nil {
		return 0, err
	}
	n := 0
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := b.DeleteObjects(batch, sdk.DeleteObjectsQuiet(true), ctxOpt(ctx))
		if err != nil {
			return wrapErr("DeleteObjects", prefix, err)
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	err = s.List(ctx, prefix, func(o Object) error {
		batch = append(batch, o.Key)
		if len(batch) == 1000 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, flush()
}

// List calls fn for every object under prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string, fn func(Object) error) error {
	return s.ListAfter(ctx, prefix, "", fn)
}

// ListAfter calls fn for every object under prefix whose key sorts after `after` ("" for all),
// in key order: sweeps resume from the last key they handled.
func (s *Store) ListAfter(ctx context.Context, prefix, after string, fn func(Object) error) error {
	b, _, err := s.clients()
	if err != nil {
		return err
	}
	token := ""
	for {
		opts := []sdk.Option{sdk.Prefix(prefix), sdk.MaxKeys(1000), ctxOpt(ctx)}
		if token != "" {
			opts = append(opts, sdk.ContinuationToken(token))
		} else if after != "" {
			opts = append(opts, sdk.StartAfter(after))
		}
		res, err := b.ListObjectsV2(opts...)
		if err != nil {
			return wrapErr("ListObjectsV2", prefix, err)
		}
		for _, p := range res.Objects {
			o := Object{Key: p.Key, Size: p.Size, ETag: strings.Trim(p.ETag, `"`), Class: p.StorageClass, LastModified: p.LastModified}
			if o.Class == "" {
				o.Class = Standard
			}
			if p.RestoreInfo != "" {
				o.Restore = parseRestore(p.RestoreInfo)
			}
			if err := fn(o); err != nil {
				return err
			}
		}
		if !res.IsTruncated {
			return nil
		}
		token = res.NextContinuationToken
	}
}

// SetClass changes an object's storage class by copying it onto itself, as OSS requires. The
// copy resets the object's Last-Modified, and with it the clock of minimum storage durations.
func (s *Store) SetClass(ctx context.Context, key, class string) error {
	b, _, err := s.clients()
	if err != nil {
		return err
	}
	_, err = b.CopyObject(key, key, sdk.ObjectStorageClass(sdk.StorageClassType(class)), sdk.MetadataDirective(sdk.MetaCopy), ctxOpt(ctx))
	return wrapErr("CopyObject", key, err)
}

// RestoreStarted is what StartRestore found.
type RestoreStarted int

const (
	RestoreRequested RestoreStarted = iota // a new restore began
	RestoreOngoing                         // one was already under way
	RestoreDone                            // the object is already readable
)

// StartRestore asks OSS to restore an Archive or ColdArchive object for days. OSS answers 202
// for a new restore and 200 for one already done, and the SDK hides the status, so the
// object's restore header is read first.
func (s *Store) StartRestore(ctx context.Context, key string, days int) (RestoreStarted, error) {
	b, _, err := s.clients()
	if err != nil {
		return 0, err
	}
	o, err := s.Head(ctx, key)
	if err != nil {
		return 0, err
	}
	switch {
	case o.Restore.Ongoing:
		return RestoreOngoing, nil
	case o.Restore.Requested:
		return RestoreDone, nil
	}
	if days < 1 {
		days = 1
	}
	err = b.RestoreObjectDetail(key, sdk.RestoreConfiguration{Days: int32(days)}, ctxOpt(ctx))
	if err == nil {
		return RestoreRequested, nil
	}
	var se sdk.ServiceError
	if asService(err, &se) && se.Code == "RestoreAlreadyInProgress" {
		return RestoreOngoing, nil // requested by someone else between our Head and this call
	}
	return 0, wrapErr("RestoreObject", key, err)
}
