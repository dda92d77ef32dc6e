// Package tablestore is the only code that speaks to Tablestore. It owns the connection (with
// credentials that rotate under it), the definitions of every table of the product (schema.go),
// and a small, typed layer over the SDK's row API: keys, rows, conditions that fail closed,
// atomic counters, batches split to the service's limits and range paging.
//
// The SDK (aliyun-tablestore-go-sdk v4.1.3) has no context support; calls check the context
// before they start and are bounded by the client's request timeout and retry budget.
package tablestore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"time"

	ts "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"

	"vodfc.dev/vodfc/runtime"
)

// Config says where Tablestore is and how to authenticate.
type Config struct {
	Endpoint string // OTS_ENDPOINT, e.g. https://vodfc.cn-hangzhou.ots.aliyuncs.com
	Instance string // OTS_INSTANCE
	// Credentials returns the credentials to sign with; nil means the newest STS credentials
	// the FC runtime has handed this instance (runtime.LatestCredentials).
	Credentials func() (runtime.Credentials, bool)
	// Transport replaces the HTTP transport; tests plug the in-process emulator in here.
	Transport http.RoundTripper
	// RetryTimes and MaxRetryTime bound the SDK's own retries of busy/conflict errors.
	RetryTimes     uint
	MaxRetryTime   time.Duration
	RequestTimeout time.Duration
}

// ConfigFromEnv reads OTS_ENDPOINT and OTS_INSTANCE.
func ConfigFromEnv() (Config, error) {
	c := Config{Endpoint: os.Getenv("OTS_ENDPOINT"), Instance: os.Getenv("OTS_INSTANCE")}
	if c.Endpoint == "" || c.Instance == "" {
		return c, errors.New("OTS_ENDPOINT and OTS_INSTANCE must be set (Tablestore endpoint and instance name)")
	}
	return c, nil
}

// Client talks to one Tablestore instance.
type Client struct {
	cfg       Config
	sdkConfig *ts.TableStoreConfig

	// writeConfig is sdkConfig without the SDK's own retries (see client).
	writeConfig *ts.TableStoreConfig

	mu     sync.Mutex
	creds  runtime.Credentials
	reads  *ts.TableStoreClient
	writes *ts.TableStoreClient
}

// New returns a client. It does not dial; the first request does.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" || cfg.Instance == "" {
		return nil, errors.New("tablestore: endpoint and instance are required")
	}
	if cfg.Credentials == nil {
		cfg.Credentials = runtime.LatestCredentials
	}
	sc := ts.NewDefaultTableStoreConfig()
	sc.RetryTimes = 6
	sc.MaxRetryTime = 3 * time.Second
	sc.HTTPTimeout.ConnectionTimeout = 3 * time.Second
	sc.HTTPTimeout.RequestTimeout = 10 * time.Second
	sc.MaxIdleConnections = 64
	if cfg.RetryTimes > 0 {
		sc.RetryTimes = cfg.RetryTimes
	}
	if cfg.MaxRetryTime > 0 {
		sc.MaxRetryTime = cfg.MaxRetryTime
	}
	if cfg.RequestTimeout > 0 {
		sc.HTTPTimeout.RequestTimeout = cfg.RequestTimeout
	}
	if cfg.Transport == nil {
		// One transport shared by every SDK client this Client creates on credential rotation,
		// so rotation does not drop the connection pool.
		cfg.Transport = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: sc.MaxIdleConnections,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	sc.Transport = cfg.Transport
	wc := *sc
	wc.RetryTimes = 0
	return &Client{cfg: cfg, sdkConfig: sc, writeConfig: &wc}, nil
}

// client returns an SDK client for reads, signing with the newest credentials, and writer
// the one for writes. STS credentials rotate while an FC instance lives; the SDK fixes them at
// construction, so a change makes new ones.
//
// Writes never use the SDK's retries: it resends any request whose response was lost to a
// reset connection or an EOF, and a replayed increment counts twice while a replayed
// conditional put that had applied reports a failed condition, as if someone else had won.
// Writes are retried by retryWrite instead, only on errors that say nothing was applied.
func (c *Client) client(ctx context.Context) (*ts.TableStoreClient, error) {
	r, _, err := c.clients(ctx)
	return r, err
}

func (c *Client) writer(ctx context.Context) (*ts.TableStoreClient, error) {
	_, w, err := c.clients(ctx)
	return w, err
}

func (c *Client) clients(ctx context.Context) (reader, writer *ts.TableStoreClient, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	creds, ok := c.cfg.Credentials()
	if !ok || creds.AccessKeyID == "" {
		return nil, nil, errors.New("tablestore: no credentials (FC role credentials or ALIBABA_CLOUD_ACCESS_KEY_ID)")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reads == nil || creds != c.creds {
		c.reads = ts.NewClientWithConfig(c.cfg.Endpoint, c.cfg.Instance, creds.AccessKeyID, creds.AccessKeySecret, creds.SecurityToken, c.sdkConfig)
		c.writes = ts.NewClientWithConfig(c.cfg.Endpoint, c.cfg.Instance, creds.AccessKeyID, creds.AccessKeySecret, creds.SecurityToken, c.writeConfig)
		c.creds = creds
	}
	return c.reads, c.writes, nil
}

// retryWrite runs write, retrying while the service says it applied nothing (throttling, a
// row conflict, a moving partition), with jittered back-off within the retry budget. Any other
// failure — a lost response, a timeout — is returned: the write may or may not have happened,
// and only the caller knows how to find out.
func (c *Client) retryWrite(ctx context.Context, write func(cl *ts.TableStoreClient) error) error {
	deadline := time.Now().Add(c.sdkConfig.MaxRetryTime)
	pause := 8 * time.Millisecond
	for attempt := uint(0); ; attempt++ {
		cl, err := c.writer(ctx)
		if err != nil {
			return err
		}
		err = write(cl)
		if err == nil || !NotApplied(err) || attempt >= c.sdkConfig.RetryTimes || time.Now().After(deadline) {
			return err
		}
		if err := sleep(ctx, pause+time.Duration(rand.Int64N(int64(pause)))); err != nil {
			return err
		}
		pause = min(pause*2, 320*time.Millisecond)
	}
}

// ErrConditionFailed is returned (wrapped) when a write's row or column condition did not hold.
var ErrConditionFailed = errors.New("tablestore: condition check failed")

// ErrNoTable is returned (wrapped) when the table does not exist: the tables were not created.
var ErrNoTable = errors.New("tablestore: table does not exist")

// Error is a service error after the SDK's retries.
type Error struct {
	Code, Message, RequestID string
	Status                   int
	Op, Table                string
}

func (e *Error) Error() string {
	return fmt.Sprintf("tablestore %s %s: %s %s (request %s)", e.Op, e.Table, e.Code, e.Message, e.RequestID)
}

// Is lets errors.Is match the sentinel errors above.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrConditionFailed:
		return e.Code == "OTSConditionCheckFail"
	case ErrNoTable:
		return e.Code == "OTSObjectNotExist" && e.Table != ""
	}
	return false
}

// Busy reports an error a later retry may cure (throttling, conflicts, timeouts). For writes,
// only NotApplied errors are safe to retry blindly.
func (e *Error) Busy() bool {
	return e.notApplied() || e.Code == "OTSTimeout" || e.Code == "OTSServerUnavailable" || e.Code == "OTSInternalServerError"
}

// notApplied reports a refusal that happened before the service changed anything.
func (e *Error) notApplied() bool {
	switch e.Code {
	case "OTSServerBusy", "OTSRowOperationConflict", "OTSNotEnoughCapacityUnit", "OTSTableNotReady",
		"OTSPartitionUnavailable", "OTSQuotaExhausted":
		return true
	}
	return false
}

// IsConditionFailed reports whether err is a failed condition.
func IsConditionFailed(err error) bool { return errors.Is(err, ErrConditionFailed) }

// NotApplied reports whether err certainly left the data unchanged, so the same write may be
// sent again.
func NotApplied(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.notApplied()
}

// IsBusy reports whether err is a Tablestore error that a retry may cure.
func IsBusy(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Busy()
}

func wrapErr(op, table string, err error) error {
	if err == nil {
		return nil
	}
	var oe *ts.OtsError
	if errors.As(err, &oe) {
		return &Error{Code: oe.Code, Message: oe.Message, RequestID: oe.RequestId, Status: oe.HttpStatusCode, Op: op, Table: table}
	}
	return fmt.Errorf("tablestore %s %s: %w", op, table, err)
}
