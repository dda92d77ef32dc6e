package fcemu

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// Invocation kinds.
const (
	KindSync  = "sync"  // InvokeFunction, fclocal invoke
	KindAsync = "async" // OSS and timer triggers, destinations
	KindHTTP  = "http"  // HTTP trigger
)

// Invocation statuses.
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusTimeout   = "timeout"
)

// maxLog bounds the output kept per invocation.
const maxLog = 64 << 10

// Invocation is one invocation as the console shows it.
type Invocation struct {
	RequestID  string    `json:"requestId"`
	Function   string    `json:"function"`
	Trigger    string    `json:"trigger,omitempty"`
	Kind       string    `json:"kind"`
	Status     string    `json:"status"`
	Start      time.Time `json:"start"`
	DurationMS float64   `json:"durationMs"`
	ColdStart  bool      `json:"coldStart"`
	// ColdStartMS is process start to ready (including the initializer) of the instance that
	// served a cold invocation.
	ColdStartMS float64 `json:"coldStartMs,omitempty"`
	Instance    string  `json:"instance,omitempty"`
	RetryCount  int     `json:"retryCount"`
	StatusCode  int     `json:"statusCode,omitempty"`
	ErrorType   string  `json:"errorType,omitempty"`
	Error       string  `json:"error,omitempty"`
	Log         string  `json:"log,omitempty"`
}

// record is a live Invocation; its fields change under history.mu.
type record struct {
	h       *history
	inv     Invocation
	started time.Time
	log     strings.Builder
	cut     bool
}

type history struct {
	mu   sync.Mutex
	ring []*record
	next int
	size int
}

func newHistory(n int) *history { return &history{ring: make([]*record, n)} }

func (h *history) begin(function, trigger, kind string, retry int) *record {
	return h.beginWithID(newRequestID(), function, trigger, kind, retry)
}

func (h *history) beginWithID(id, function, trigger, kind string, retry int) *record {
	r := &record{h: h, started: time.Now(), inv: Invocation{
		RequestID: id, Function: function, Trigger: trigger, Kind: kind,
		Status: StatusRunning, Start: time.Now().UTC(), RetryCount: retry,
	}}
	h.mu.Lock()
	h.ring[h.next] = r
	h.next = (h.next + 1) % len(h.ring)
	h.size = min(h.size+1, len(h.ring))
	h.mu.Unlock()
	return r
}

func (r *record) id() string { return r.inv.RequestID }

func (r *record) setInstance(id string, cold bool, coldFor time.Duration) {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	r.inv.Instance = id
	r.inv.ColdStart = cold
	if cold {
		r.inv.ColdStartMS = ms(coldFor)
	}
}

func (r *record) appendLog(line string) {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	if r.cut {
		return
	}
	if r.log.Len()+len(line)+1 > maxLog {
		r.log.WriteString("… (log truncated)\n")
		r.cut = true
		return
	}
	r.log.WriteString(line)
	r.log.WriteByte('\n')
}

// finish records the outcome; err nil means success.
func (r *record) finish(statusCode int, err *Error) {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	r.inv.DurationMS = ms(time.Since(r.started))
	r.inv.StatusCode = statusCode
	switch {
	case err == nil:
		r.inv.Status = StatusSucceeded
	case err.Type == ErrorTimeout:
		r.inv.Status = StatusTimeout
	default:
		r.inv.Status = StatusFailed
	}
	if err != nil {
		r.inv.ErrorType = err.Type
		r.inv.Error = err.Message
	}
}

func (r *record) snapshot() Invocation {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	inv := r.inv
	inv.Log = r.log.String()
	return inv
}

func (h *history) list(function string, limit int) []Invocation {
	h.mu.Lock()
	defer h.mu.Unlock()
	if limit <= 0 || limit > h.size {
		limit = h.size
	}
	out := make([]Invocation, 0, limit)
	for i := 1; i <= h.size && len(out) < limit; i++ {
		r := h.ring[(h.next-i+len(h.ring))%len(h.ring)]
		if function != "" && r.inv.Function != function {
			continue
		}
		inv := r.inv
		inv.Log = r.log.String()
		if inv.Status == StatusRunning {
			inv.DurationMS = ms(time.Since(r.started))
		}
		out = append(out, inv)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// newRequestID makes an id shaped like FC's request ids (a UUID).
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
