package ossemu

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// validate checks a trigger as s.yaml would have to state it.
func (t Trigger) validate() error {
	if t.Function == "" || t.Name == "" {
		return fmt.Errorf("ossemu: trigger %q of function %q needs both names", t.Name, t.Function)
	}
	if !validBucketName(t.Bucket) {
		return fmt.Errorf("ossemu: trigger %s/%s: bucket %q is not valid", t.Function, t.Name, t.Bucket)
	}
	if len(t.Events) == 0 {
		return fmt.Errorf("ossemu: trigger %s/%s has no events", t.Function, t.Name)
	}
	for _, e := range t.Events {
		if !strings.HasPrefix(e, "oss:") {
			return fmt.Errorf("ossemu: trigger %s/%s: event %q must start with oss:", t.Function, t.Name, e)
		}
		if _, err := path.Match(e, ""); err != nil {
			return fmt.Errorf("ossemu: trigger %s/%s: event %q: %w", t.Function, t.Name, e, err)
		}
	}
	return nil
}

// matches reports whether the operation event (no "oss:" prefix, as in the payload) on key
// in bucket fires t.
func (t Trigger) matches(bucket, event, key string) bool {
	if t.Bucket != bucket || !strings.HasPrefix(key, t.Prefix) || !strings.HasSuffix(key, t.Suffix) {
		return false
	}
	for _, e := range t.Events {
		if ok, _ := path.Match(e, "oss:"+event); ok {
			return true
		}
	}
	return false
}

// The OSS event document (events.OssEvent), field for field and in OSS's order.
type ossEvent struct {
	Events []ossEventRecord `json:"events"`
}

type ossEventRecord struct {
	EventName    string `json:"eventName"`
	EventSource  string `json:"eventSource"`
	EventTime    string `json:"eventTime"`
	EventVersion string `json:"eventVersion"`
	OSS          struct {
		Bucket struct {
			Arn           string `json:"arn"`
			Name          string `json:"name"`
			OwnerIdentity string `json:"ownerIdentity"`
			VirtualBucket string `json:"virtualBucket"`
		} `json:"bucket"`
		Object struct {
			DeltaSize  int64  `json:"deltaSize"`
			ETag       string `json:"eTag"`
			Key        string `json:"key"`
			ObjectMeta struct {
				MimeType string `json:"mimeType"`
			} `json:"objectMeta"`
			Size int64 `json:"size"`
		} `json:"object"`
		OSSSchemaVersion string `json:"ossSchemaVersion"`
		RuleID           string `json:"ruleId"`
	} `json:"oss"`
	Region            string `json:"region"`
	RequestParameters struct {
		SourceIPAddress string `json:"sourceIPAddress"`
	} `json:"requestParameters"`
	ResponseElements struct {
		RequestID string `json:"requestId"`
	} `json:"responseElements"`
	UserIdentity struct {
		PrincipalID string `json:"principalId"`
	} `json:"userIdentity"`
}

// emit hands the event of an operation to every trigger it matches. o is the object created
// (or, for removals, the one removed); old is what a creation replaced.
func (s *Server) emit(c *call, event string, o, old *object) {
	triggers := s.events.match(c.bucket, event, o.Key)
	if len(triggers) == 0 {
		return
	}
	var rec ossEventRecord
	rec.EventName = event
	rec.EventSource = "acs:oss"
	rec.EventTime = s.now().UTC().Format(xmlTimeFormat)
	rec.EventVersion = "1.0"
	rec.OSS.Bucket.Arn = "acs:oss:" + s.opts.Region + ":" + s.opts.AccountID + ":" + c.bucket
	rec.OSS.Bucket.Name = c.bucket
	rec.OSS.Bucket.OwnerIdentity = s.opts.AccountID
	obj := &rec.OSS.Object
	obj.Key = o.Key
	obj.ETag = strings.Trim(o.ETag, `"`)
	obj.ObjectMeta.MimeType = o.ContentType
	if strings.HasPrefix(event, "ObjectRemoved:") {
		obj.Size, obj.DeltaSize = 0, -o.Size
	} else {
		obj.Size, obj.DeltaSize = o.Size, o.Size
		if old != nil {
			obj.DeltaSize = o.Size - old.Size
		}
	}
	rec.OSS.OSSSchemaVersion = "1.0"
	rec.Region = s.opts.Region
	if host, _, err := net.SplitHostPort(c.r.RemoteAddr); err == nil {
		rec.RequestParameters.SourceIPAddress = host
	} else {
		rec.RequestParameters.SourceIPAddress = c.r.RemoteAddr
	}
	rec.ResponseElements.RequestID = c.id
	rec.UserIdentity.PrincipalID = s.opts.AccountID
	for _, t := range triggers {
		sum := sha1.Sum([]byte(t.Function + "/" + t.Name))
		rec.OSS.RuleID = hex.EncodeToString(sum[:])
		payload, err := json.Marshal(ossEvent{Events: []ossEventRecord{rec}})
		if err != nil {
			s.log.Error("ossemu: marshal event", "err", err)
			continue
		}
		s.events.enqueue(&pendingEvent{Function: t.Function, Trigger: t.Name, Bucket: c.bucket, Key: o.Key,
			Event: event, Payload: payload})
	}
}

// pendingEvent is an event not yet accepted by the invoker; it is kept on disk until it is.
type pendingEvent struct {
	Seq      uint64          `json:"seq"`
	Function string          `json:"function"`
	Trigger  string          `json:"trigger"`
	Bucket   string          `json:"bucket"`
	Key      string          `json:"key"`
	Event    string          `json:"event"`
	Payload  json.RawMessage `json:"payload"`
}

// dispatcher delivers events asynchronously (a PUT never waits for a function), in order per
// object key, at least once: an event is written to disk before the operation answers and
// removed only once the invoker has accepted it, so a restart redelivers what was pending.
type dispatcher struct {
	s   *Server
	dir string

	mu       sync.Mutex
	cond     *sync.Cond
	triggers []Trigger
	inv      Invoker
	seq      uint64
	queues   [][]*pendingEvent // one FIFO per worker; a key always maps to the same one
	closing  bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const (
	eventWorkers  = 4
	eventAttempts = 5
)

func startDispatcher(s *Server, dir string, inv Invoker) (*dispatcher, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d := &dispatcher{s: s, dir: dir, triggers: s.opts.Triggers, inv: inv, queues: make([][]*pendingEvent, eventWorkers)}
	d.cond = sync.NewCond(&d.mu)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var pending []*pendingEvent
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			if strings.Contains(name, ".tmp-") {
				os.Remove(filepath.Join(dir, name))
			}
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ev := new(pendingEvent)
		if err := json.Unmarshal(raw, ev); err != nil {
			s.log.Error("ossemu: unreadable pending event, moved aside", "file", name, "err", err)
			d.park(name)
			continue
		}
		pending = append(pending, ev)
	}
	sort.Slice(pending, func(i, j int) bool { return pending[i].Seq < pending[j].Seq })
	for _, ev := range pending {
		d.seq = max(d.seq, ev.Seq)
		d.queues[d.worker(ev)] = append(d.queues[d.worker(ev)], ev)
	}
	for i := range eventWorkers {
		d.wg.Add(1)
		go d.run(i)
	}
	return d, nil
}

func (d *dispatcher) worker(ev *pendingEvent) int {
	return int(crc64.Checksum([]byte(ev.Bucket+"/"+ev.Key), crcTable) % eventWorkers)
}

func (d *dispatcher) fileName(ev *pendingEvent) string {
	return filepath.Join(d.dir, fmt.Sprintf("%020d.json", ev.Seq))
}

func (d *dispatcher) match(bucket, event, key string) []Trigger {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Trigger
	for _, t := range d.triggers {
		if t.matches(bucket, event, key) {
			out = append(out, t)
		}
	}
	return out
}

func (d *dispatcher) setTriggers(ts []Trigger) {
	d.mu.Lock()
	d.triggers = append([]Trigger(nil), ts...)
	d.mu.Unlock()
}

func (d *dispatcher) setInvoker(inv Invoker) {
	d.mu.Lock()
	d.inv = inv
	d.mu.Unlock()
	d.cond.Broadcast()
}

// enqueue records ev on disk, then queues it. The sequence number is taken and the event
// queued under one lock, so the order on disk and in the queue agree.
func (d *dispatcher) enqueue(ev *pendingEvent) {
	d.mu.Lock()
	d.seq++
	ev.Seq = d.seq
	if err := d.s.writeJSON(d.fileName(ev), ev); err != nil {
		d.s.log.Error("ossemu: record event; delivering it from memory only", "event", ev.Event, "key", ev.Key, "err", err)
	}
	w := d.worker(ev)
	d.queues[w] = append(d.queues[w], ev)
	d.mu.Unlock()
	d.cond.Broadcast()
}

func (d *dispatcher) run(w int) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		for !d.closing && (len(d.queues[w]) == 0 || d.inv == nil) {
			d.cond.Wait()
		}
		if d.closing {
			d.mu.Unlock()
			return
		}
		ev, inv := d.queues[w][0], d.inv
		d.mu.Unlock()

		delivered := d.deliver(inv, ev)

		d.mu.Lock()
		d.queues[w] = d.queues[w][1:]
		d.mu.Unlock()
		if delivered {
			os.Remove(d.fileName(ev))
		}
	}
}

// deliver hands ev to the invoker, retrying with backoff. An event the invoker keeps refusing
// is moved to events/failed/ and logged, so it neither blocks its key nor disappears.
func (d *dispatcher) deliver(inv Invoker, ev *pendingEvent) bool {
	backoff := 100 * time.Millisecond
	var err error
	for attempt := 1; attempt <= eventAttempts; attempt++ {
		if err = inv.InvokeAsync(d.ctx, ev.Function, ev.Trigger, ev.Payload); err == nil {
			d.s.log.Debug("ossemu: event delivered", "function", ev.Function, "trigger", ev.Trigger, "event", ev.Event, "key", ev.Key)
			return true
		}
		if d.ctx.Err() != nil {
			return false // closing: stays on disk for the next Open
		}
		select {
		case <-time.After(backoff):
		case <-d.ctx.Done():
			return false
		}
		backoff *= 2
	}
	d.s.log.Error("ossemu: event not accepted by the invoker; parked in events/failed", "function", ev.Function,
		"trigger", ev.Trigger, "event", ev.Event, "key", ev.Key, "err", err)
	d.park(filepath.Base(d.fileName(ev)))
	return false
}

func (d *dispatcher) park(name string) {
	failed := filepath.Join(d.dir, "failed")
	if err := os.MkdirAll(failed, 0o755); err == nil {
		if err := os.Rename(filepath.Join(d.dir, name), filepath.Join(failed, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			d.s.log.Error("ossemu: park event", "err", err)
		}
	}
}

// close stops the workers; an event being delivered is abandoned (it stays on disk).
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closing = true
	d.mu.Unlock()
	d.cancel()
	d.cond.Broadcast()
	d.wg.Wait()
}

// pendingEvents counts events not yet accepted by the invoker (for tests and the console).
func (d *dispatcher) pendingEvents() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, q := range d.queues {
		n += len(q)
	}
	return n
}

// PendingEvents reports how many trigger events wait for delivery.
func (s *Server) PendingEvents() int { return s.events.pendingEvents() }
