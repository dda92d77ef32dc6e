// Package oss is the only code that speaks to Object Storage Service. It owns the media
// bucket's clients (one for the function's own calls, one whose endpoint goes into presigned
// URLs handed to browsers and players), credentials that rotate under them, and the operations
// the product needs: presigned and multipart uploads, reads to local files, storage classes and
// restores, listing and prefix deletion.
package oss

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	sdk "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"vodfc.dev/vodfc/runtime"
)

// Storage classes.
const (
	Standard    = "Standard"
	IA          = "IA"
	Archive     = "Archive"
	ColdArchive = "ColdArchive"
)

// Config says where the bucket is.
type Config struct {
	Endpoint       string // OSS_ENDPOINT: what this function talks to (the internal endpoint in the cloud)
	PublicEndpoint string // OSS_PUBLIC_ENDPOINT: what presigned URLs point at; defaults to Endpoint
	Bucket         string // MEDIA_BUCKET
	Region         string // OSS_REGION, e.g. cn-hangzhou; needed for V4 signatures
	// SignatureVersion is "v4" (default) or "v1" (OSS_SIGNATURE_VERSION).
	SignatureVersion string
	// Credentials returns the credentials to sign with; nil means runtime.LatestCredentials.
	Credentials func() (runtime.Credentials, bool)
	// HTTPClient replaces the transport; tests plug the in-process emulator in here.
	HTTPClient *http.Client
}

// ConfigFromEnv reads OSS_ENDPOINT, OSS_PUBLIC_ENDPOINT, MEDIA_BUCKET, OSS_REGION and
// OSS_SIGNATURE_VERSION.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Endpoint:         os.Getenv("OSS_ENDPOINT"),
		PublicEndpoint:   os.Getenv("OSS_PUBLIC_ENDPOINT"),
		Bucket:           os.Getenv("MEDIA_BUCKET"),
		Region:           os.Getenv("OSS_REGION"),
		SignatureVersion: os.Getenv("OSS_SIGNATURE_VERSION"),
	}
	if c.Endpoint == "" || c.Bucket == "" {
		return c, errors.New("OSS_ENDPOINT and MEDIA_BUCKET must be set")
	}
	return c, nil
}

// Store is the media bucket.
type Store struct {
	cfg   Config
	creds *credentialsProvider

	once                 sync.Once
	bucket, public       *sdk.Bucket
	bucketErr, publicErr error
}

// New returns a store; it does not dial.
func New(cfg Config) (*Store, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("oss: endpoint and bucket are required")
	}
	if cfg.PublicEndpoint == "" {
		cfg.PublicEndpoint = cfg.Endpoint
	}
	switch strings.ToLower(cfg.SignatureVersion) {
	case "", "v4":
		cfg.SignatureVersion = "v4"
		if cfg.Region == "" {
			cfg.Region = regionFromEndpoint(cfg.Endpoint)
		}
		if cfg.Region == "" {
			return nil, errors.New("oss: V4 signatures need OSS_REGION (e.g. cn-hangzhou)")
		}
	case "v1":
		cfg.SignatureVersion = "v1"
	default:
		return nil, fmt.Errorf("oss: OSS_SIGNATURE_VERSION=%q: want v4 or v1", cfg.SignatureVersion)
	}
	if cfg.Credentials == nil {
		cfg.Credentials = runtime.LatestCredentials
	}
	return &Store{cfg: cfg, creds: &credentialsProvider{get: cfg.Credentials}}, nil
}

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.cfg.Bucket }

// regionFromEndpoint reads "cn-hangzhou" out of "oss-cn-hangzhou(-internal).aliyuncs.com".
func regionFromEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	host := endpoint
	if err == nil && u.Host != "" {
		host = u.Host
	}
	first, _, _ := strings.Cut(host, ".")
	if !strings.HasPrefix(first, "oss-") {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(first, "oss-"), "-internal")
}

func (s *Store) clients() (*sdk.Bucket, *sdk.Bucket, error) {
	s.once.Do(func() {
		s.bucket, s.bucketErr = s.open(s.cfg.Endpoint)
		s.public, s.publicErr = s.open(s.cfg.PublicEndpoint)
	})
	if s.bucketErr != nil {
		return nil, nil, s.bucketErr
	}
	return s.bucket, s.public, s.publicErr
}

func (s *Store) open(endpoint string) (*sdk.Bucket, error) {
	opts := []sdk.ClientOption{sdk.SetCredentialsProvider(s.creds), sdk.Timeout(5, 120)}
	if s.cfg.SignatureVersion == "v4" {
		opts = append(opts, sdk.AuthVersion(sdk.AuthV4), sdk.Region(s.cfg.Region))
	}
	if s.cfg.HTTPClient != nil {
		opts = append(opts, sdk.HTTPClient(s.cfg.HTTPClient))
	}
	// The SDK picks path-style by itself for IP endpoints (the local emulator); real OSS
	// needs virtual-hosted style, its default.
	client, err := sdk.New(endpoint, "", "", opts...)
	if err != nil {
		return nil, fmt.Errorf("oss: client for %s: %w", endpoint, err)
	}
	return client.Bucket(s.cfg.Bucket)
}

// credentialsProvider hands the SDK the newest STS credentials on every request, so a long-lived
// FC instance keeps working when its role credentials rotate.
type credentialsProvider struct {
	get func() (runtime.Credentials, bool)
}

type credentials runtime.Credentials

func (c credentials) GetAccessKeyID() string     { return c.AccessKeyID }
func (c credentials) GetAccessKeySecret() string { return c.AccessKeySecret }
func (c credentials) GetSecurityToken() string   { return c.SecurityToken }

func (p *credentialsProvider) GetCredentials() sdk.Credentials {
	cr, _ := p.get()
	return credentials(cr)
}

// ErrNotFound is returned (wrapped) for a missing object or upload.
var ErrNotFound = errors.New("oss: not found")

// ErrArchived is returned (wrapped) when reading an Archive object that is not restored.
var ErrArchived = errors.New("oss: object is archived and not restored")

// Error is a service error.
type Error struct {
	Op, Key   string
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *Error) Error() string {
	return fmt.Sprintf("oss %s %q: %d %s %s (request %s)", e.Op, e.Key, e.Status, e.Code, e.Message, e.RequestID)
}

// Is matches ErrNotFound and ErrArchived.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == "NoSuchKey" || e.Code == "NoSuchUpload" || (e.Status == 404 && e.Code == "")
	case ErrArchived:
		return e.Code == "InvalidObjectState"
	}
	return false
}

func wrapErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var se sdk.ServiceError
	if errors.As(err, &se) {
		return &Error{Op: op, Key: key, Status: se.StatusCode, Code: se.Code, Message: se.Message, RequestID: se.RequestID}
	}
	return fmt.Errorf("oss %s %q: %w", op, key, err)
}

// IsNotFound reports whether err means the object or upload does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func ctxOpt(ctx context.Context) sdk.Option { return sdk.WithContext(ctx) }

// expirySeconds converts a TTL to the SDK's seconds, never 0 (which the SDK reads as "now").
func expirySeconds(ttl time.Duration) int64 {
	s := int64(ttl / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
