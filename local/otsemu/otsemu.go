// Package otsemu is a wire-compatible emulator of Alibaba Cloud Tablestore (OTS): it serves the
// protobuf-over-HTTP API that the official SDKs speak, so product code talks to it with the
// real aliyun-tablestore-go-sdk (over loopback, or in-process through
// TableStoreConfig.Transport) and cannot tell it from the cloud for tables, rows, versions,
// TTL, conditions, filters, atomic increments, batches and range scans.
//
// It owns the emulated instance: table metadata and rows held in one ordered index per table,
// made durable by a group-committed write-ahead log with periodic snapshots under a data
// directory, request authentication (signature and body MD5), Tablestore's documented limits
// and error codes, and optional fault injection for testing retry paths.
package otsemu

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"vodfc.dev/local/otsemu/wal"
)

// Options configure a Server.
type Options struct {
	AccessKeyID, AccessKeySecret string // required: requests must be signed with this pair
	Instance                     string // instance name the SDK sends in x-ots-instancename; "" accepts any
	DataDir                      string // "" = memory only
	Now                          func() time.Time
	Logger                       *slog.Logger

	// NoSync acknowledges writes once they are written to the log file, without fsync: they
	// survive the emulator being killed but not the machine crashing. Default: fsync
	// (group-committed).
	NoSync bool
	// PurgeInterval is how often expired versions are purged in the background (wall time;
	// default one minute). Reads hide expired data at once whatever the interval.
	PurgeInterval time.Duration
	// SnapshotBytes is how much log accumulates before the state is snapshotted and the log
	// truncated, which bounds restart time (default 64 MiB).
	SnapshotBytes int64
}

// Faults makes a share of requests fail with retryable server errors, so the retry paths of
// product code (and of the SDK) can be tested. The zero value turns injection off. A failed
// request changes nothing.
//
// What the Go SDK (v4.1.3) does with them: OTSServerBusy, OTSRowOperationConflict,
// OTSNotEnoughCapacityUnit, OTSTableNotReady, OTSPartitionUnavailable, OTSStorageServerBusy
// and OTSQuotaExhausted ("Too frequent table operations.") are retried for every action;
// OTSTimeout, OTSInternalServerError and OTSServerUnavailable only for reads (GetRow,
// BatchGetRow, GetRange, DescribeTable, ListTable). The pause doubles from a few milliseconds
// up to 320 ms, for at most TableStoreConfig.RetryTimes attempts (default 10) within
// MaxRetryTime (default 5 s).
type Faults struct {
	Rate    float64  // 0..1: probability that a request fails
	Codes   []string // error codes to pick from uniformly; empty = OTSServerBusy
	Actions []string // only these API actions (e.g. "UpdateRow"); empty = every action
}

// Server is an emulated Tablestore instance. It is an http.Handler.
type Server struct {
	opts   Options
	now    func() time.Time
	log    *slog.Logger
	faults atomic.Pointer[Faults]

	reqPrefix uint32
	reqSeq    atomic.Uint64
	macs      sync.Pool // keyed HMAC-SHA1 hashes
	date      atomic.Pointer[cachedDate]

	// writeMu is held shared by every mutation from applying it in memory until its log
	// record is appended, and exclusively by a snapshot, which therefore sees exactly the
	// state after some log record.
	writeMu sync.RWMutex

	catalogMu sync.RWMutex
	tables    map[string]*table

	wal           *wal.Log
	snapshotMu    sync.Mutex // one snapshot at a time
	snapshotSeq   uint64     // log records <= this are in the current snapshot
	snapshotBytes int64      // wal.Written() when the last snapshot was taken

	lock   *os.File // flock on DataDir/LOCK
	stop   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool
}

// Open starts a server, replaying DataDir (snapshot, then log) when one is given.
func Open(opts Options) (*Server, error) {
	if opts.AccessKeyID == "" || opts.AccessKeySecret == "" {
		return nil, errors.New("otsemu: AccessKeyID and AccessKeySecret are required")
	}
	if opts.PurgeInterval <= 0 {
		opts.PurgeInterval = time.Minute
	}
	if opts.SnapshotBytes <= 0 {
		opts.SnapshotBytes = 64 << 20
	}
	s := &Server{
		opts:   opts,
		now:    opts.Now,
		log:    opts.Logger,
		tables: map[string]*table{},
		stop:   make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var seed [4]byte
	if _, err := io.ReadFull(rand.Reader, seed[:]); err != nil {
		return nil, fmt.Errorf("otsemu: %w", err)
	}
	s.reqPrefix = binary.BigEndian.Uint32(seed[:])
	if opts.DataDir != "" {
		if err := s.recover(); err != nil {
			return nil, err
		}
	}
	s.wg.Add(1)
	go s.background()
	return s, nil
}

// Close stops background work, snapshots the state (so the next start replays nothing) and
// closes the log. The server answers no request afterwards.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	s.wg.Wait()
	if s.wal == nil {
		return nil
	}
	err := s.snapshot()
	s.writeMu.Lock()
	if cerr := s.wal.Close(); err == nil {
		err = cerr
	}
	s.writeMu.Unlock()
	s.unlockDir()
	return err
}

// SetFaults replaces the fault-injection settings; it is safe while requests are served.
func (s *Server) SetFaults(f Faults) {
	if f.Rate <= 0 || math.IsNaN(f.Rate) {
		s.faults.Store(nil)
		return
	}
	f.Rate = min(f.Rate, 1)
	f.Codes = slices.Clone(f.Codes)
	f.Actions = slices.Clone(f.Actions)
	if len(f.Codes) == 0 {
		f.Codes = []string{CodeServerBusy}
	}
	s.faults.Store(&f)
}

// injectedFault decides whether this request fails on purpose.
func (s *Server) injectedFault(action string) *apiError {
	f := s.faults.Load()
	if f == nil {
		return nil
	}
	if len(f.Actions) > 0 && !slices.Contains(f.Actions, action) {
		return nil
	}
	if mrand.Float64() >= f.Rate {
		return nil
	}
	return newError(f.Codes[mrand.IntN(len(f.Codes))])
}

// requestID returns a new id in Tablestore's shape (8-4-4-4-12 hex digits).
func (s *Server) requestID() string {
	n := s.reqSeq.Add(1)
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", s.reqPrefix, uint16(n>>48), uint16(n>>32), uint16(n>>16)^0x4000, n&0xffffffffffff)
}

func (s *Server) nowMs() int64 { return s.now().UnixMilli() }

// background purges expired data and takes snapshots when the log has grown.
func (s *Server) background() {
	defer s.wg.Done()
	purge := time.NewTicker(s.opts.PurgeInterval)
	defer purge.Stop()
	check := time.NewTicker(time.Second)
	defer check.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-purge.C:
			s.PurgeExpired()
		case <-check.C:
			if s.wal != nil && s.wal.Written()-s.loadSnapshotBytes() >= s.opts.SnapshotBytes {
				if err := s.snapshot(); err != nil {
					s.log.Error("otsemu: snapshot failed", "err", err)
				}
			}
		}
	}
}

func (s *Server) loadSnapshotBytes() int64 {
	s.snapshotMu.Lock()
	defer s.snapshotMu.Unlock()
	return s.snapshotBytes
}
