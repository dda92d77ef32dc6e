package otsemu_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"

	"vodfc.dev/local/otsemu"
)

// Tests of what only the emulator offers: a movable clock, fault injection, and its own
// concurrency and durability guarantees.

type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

func TestTTLFollowsTheClock(t *testing.T) {
	clock := &testClock{}
	tg := emulated(t, otsemu.Options{Now: clock.Now, PurgeInterval: time.Hour})
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{ttl: 86400, maxVersions: 2})
	day := 24 * time.Hour

	old := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("id", int64(1))}
	old.AddColumn("v", "old")
	put(t, c, old)
	clock.Advance(day / 2)
	young := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("id", int64(2))}
	young.AddColumn("v", "young")
	put(t, c, young)
	u := &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk1("id", int64(1))}
	u.PutColumn("w", "newer column")
	must[*tablestore.UpdateRowResponse](t)(update(c, u))

	get := func(id int64) []string {
		return cols(getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("id", id), MaxVersion: 1}).Columns, false)
	}
	scanAll := func() []string {
		keys, _ := scan(t, c, &tablestore.RangeRowQueryCriteria{TableName: name, StartPrimaryKey: bound([]string{"id"}, "MIN"), EndPrimaryKey: bound([]string{"id"}, "MAX"), Direction: tablestore.FORWARD})
		return keys
	}
	if fmt.Sprint(get(1)) != "[v=old w=newer column]" || fmt.Sprint(scanAll()) != "[1 2]" {
		t.Fatalf("before expiry: %v %v", get(1), scanAll())
	}
	// 1.2 days after the first write: its cell expired, the update's and row 2's did not.
	clock.Advance(day * 7 / 10)
	if fmt.Sprint(get(1)) != "[w=newer column]" || fmt.Sprint(get(2)) != "[v=young]" {
		t.Fatalf("after first expiry: %v %v", get(1), get(2))
	}
	// Two days on, everything expired: rows vanish from every read and from conditions.
	clock.Advance(2 * day)
	if g := get(1); g != nil || fmt.Sprint(scanAll()) != "[]" {
		t.Fatalf("expired rows still visible: %v %v", g, scanAll())
	}
	p := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("id", int64(2))}
	p.AddColumn("v", "again")
	p.SetCondition(tablestore.RowExistenceExpectation_EXPECT_NOT_EXIST)
	if _, err := c.PutRow(&tablestore.PutRowRequest{PutRowChange: p}); err != nil {
		t.Fatalf("an expired row still counted as existing: %v", err)
	}

	// Expired data that is not purged yet comes back if the TTL is raised, as in Tablestore;
	// once purged it is gone for good.
	must[*tablestore.UpdateTableResponse](t)(c.UpdateTable(&tablestore.UpdateTableRequest{TableName: name, TableOption: &tablestore.TableOption{TimeToAlive: -1, MaxVersion: 2}}))
	if fmt.Sprint(get(1)) != "[v=old w=newer column]" {
		t.Fatalf("unpurged data after raising TTL: %v", get(1))
	}
	must[*tablestore.UpdateTableResponse](t)(c.UpdateTable(&tablestore.UpdateTableRequest{TableName: name, TableOption: &tablestore.TableOption{TimeToAlive: 86400, MaxVersion: 2}}))
	if n := tg.emu.PurgeExpired(); n != 1 {
		t.Fatalf("purge rewrote %d rows, want 1 (row 1; row 2 was rewritten by the put)", n)
	}
	must[*tablestore.UpdateTableResponse](t)(c.UpdateTable(&tablestore.UpdateTableRequest{TableName: name, TableOption: &tablestore.TableOption{TimeToAlive: -1, MaxVersion: 2}}))
	if g := get(1); g != nil {
		t.Fatalf("purged data came back: %v", g)
	}
	if fmt.Sprint(get(2)) != "[v=again]" {
		t.Fatalf("row 2: %v", get(2))
	}
}

func TestBackgroundPurge(t *testing.T) {
	clock := &testClock{}
	tg := emulated(t, otsemu.Options{Now: clock.Now, PurgeInterval: 10 * time.Millisecond})
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{ttl: 86400})
	for i := range 50 {
		p := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("id", int64(i))}
		p.AddColumn("v", int64(i))
		put(t, c, p)
	}
	clock.Advance(48 * time.Hour)
	// The background purge runs on its own; once it has, PurgeExpired finds nothing left.
	deadline := time.Now().Add(10 * time.Second)
	for tg.emu.PurgeExpired() != 0 || !purged(t, tg, c, name) {
		if time.Now().After(deadline) {
			t.Fatal("expired rows were not purged in the background")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// purged raises the TTL and checks nothing expired comes back, then restores it.
func purged(t *testing.T, tg *target, c *tablestore.TableStoreClient, name string) bool {
	must[*tablestore.UpdateTableResponse](t)(c.UpdateTable(&tablestore.UpdateTableRequest{TableName: name, TableOption: &tablestore.TableOption{TimeToAlive: -1, MaxVersion: 1}}))
	defer c.UpdateTable(&tablestore.UpdateTableRequest{TableName: name, TableOption: &tablestore.TableOption{TimeToAlive: 86400, MaxVersion: 1}})
	keys, _ := scan(t, c, &tablestore.RangeRowQueryCriteria{TableName: name, StartPrimaryKey: bound([]string{"id"}, "MIN"), EndPrimaryKey: bound([]string{"id"}, "MAX"), Direction: tablestore.FORWARD})
	return len(keys) == 0
}

// countingTransport counts attempts and failures per action.
type countingTransport struct {
	next     http.RoundTripper
	mu       sync.Mutex
	attempts map[string]int
	failures map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.attempts == nil {
		c.attempts, c.failures = map[string]int{}, map[string]int{}
	}
	c.attempts[r.URL.Path]++
	if err == nil && resp.StatusCode != 200 {
		c.failures[r.URL.Path]++
	}
	return resp, err
}

func (c *countingTransport) counts(path string) (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attempts[path], c.failures[path]
}

func TestFaultInjection(t *testing.T) {
	tg := emulated(t, otsemu.Options{})
	counter := &countingTransport{next: tg.rt}
	tg.rt = counter
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{})
	noRetry := tg.client(0)

	// With retries off the injected error surfaces as Tablestore returns it.
	tg.emu.SetFaults(otsemu.Faults{Rate: 1, Codes: []string{"OTSServerBusy"}})
	_, err := noRetry.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("id", int64(1)), MaxVersion: 1}})
	wantErr(t, err, "OTSServerBusy", 503, "Server is busy.")
	tg.emu.SetFaults(otsemu.Faults{Rate: 1, Codes: []string{"OTSRowOperationConflict"}, Actions: []string{"UpdateRow"}})
	u := &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk1("id", int64(1))}
	u.IncrementColumn("n", 1)
	_, err = update(noRetry, u)
	wantErr(t, err, "OTSRowOperationConflict", 409, "Data is being modified by the other request.")
	if _, err := noRetry.ListTable(); err != nil {
		t.Fatalf("faults limited to UpdateRow hit ListTable: %v", err)
	}

	// With the SDK's default retries, half the attempts failing still lets every call
	// succeed; the transport saw the failures.
	tg.emu.SetFaults(otsemu.Faults{Rate: 0.5, Codes: []string{"OTSServerBusy", "OTSRowOperationConflict", "OTSTimeout"}, Actions: []string{"UpdateRow", "GetRow"}})
	retrying := tg.client(10)
	for range 40 {
		u := &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk1("id", int64(2))}
		u.IncrementColumn("n", 1)
		if _, err := update(retrying, u); err != nil {
			// OTSTimeout is retried only for idempotent reads, so an UpdateRow may surface it.
			var oe *tablestore.OtsError
			if !errors.As(err, &oe) || oe.Code != "OTSTimeout" {
				t.Fatalf("update with retries: %v", err)
			}
		}
		must[*tablestore.GetRowResponse](t)(retrying.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("id", int64(2)), MaxVersion: 1}}))
	}
	if attempts, failures := counter.counts("/GetRow"); failures == 0 || attempts < 40+failures {
		t.Fatalf("GetRow: %d attempts, %d failures", attempts, failures)
	}

	// OTSTimeout: the SDK retries a read (idempotent) but not a write.
	tg.emu.SetFaults(otsemu.Faults{Rate: 1, Codes: []string{"OTSTimeout"}})
	cfg := tablestore.NewDefaultTableStoreConfig()
	cfg.Transport, cfg.MaxRetryTime = counter, 300*time.Millisecond
	short := tablestore.NewClientWithConfig(tg.endpoint, tg.instance, tg.keyID, tg.secret, "", cfg)
	before, _ := counter.counts("/PutRow")
	p := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("id", int64(3))}
	p.AddColumn("v", int64(1))
	p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	_, err = short.PutRow(&tablestore.PutRowRequest{PutRowChange: p})
	wantErr(t, err, "OTSTimeout", 503, "")
	if after, _ := counter.counts("/PutRow"); after != before+1 {
		t.Fatalf("PutRow was attempted %d times under OTSTimeout, want 1", after-before)
	}
	before, _ = counter.counts("/GetRow")
	_, err = short.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("id", int64(3)), MaxVersion: 1}})
	wantErr(t, err, "OTSTimeout", 503, "")
	if after, _ := counter.counts("/GetRow"); after-before < 2 {
		t.Fatalf("GetRow was attempted %d times under OTSTimeout, want retries", after-before)
	}

	// Turning faults off restores normal service.
	tg.emu.SetFaults(otsemu.Faults{})
	if _, err := noRetry.ListTable(); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentIncrementsSumExactly(t *testing.T) {
	tg := emulated(t, otsemu.Options{})
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_STRING, false}}, tableOpts{})
	const goroutines, each = 100, 1000
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := tg.client(0)
			for range each {
				u := &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk1("id", "counter")}
				u.IncrementColumn("n", 1)
				if _, err := update(c, u); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	g := getRow(t, tg.client(0), &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("id", "counter"), MaxVersion: 1})
	if len(g.Columns) != 1 || g.Columns[0].Value != int64(goroutines*each) {
		t.Fatalf("counter = %v, want %d", cols(g.Columns, false), goroutines*each)
	}
}

func TestRacingConditionalPutsHaveOneWinner(t *testing.T) {
	tg := emulated(t, otsemu.Options{})
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_STRING, false}}, tableOpts{})
	const racers = 100
	for key := range 20 {
		var wins, conflicts atomic.Int32
		var winner atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for r := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := tg.client(0)
				p := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("id", fmt.Sprint(key))}
				p.AddColumn("owner", int64(r))
				p.SetCondition(tablestore.RowExistenceExpectation_EXPECT_NOT_EXIST)
				<-start
				_, err := c.PutRow(&tablestore.PutRowRequest{PutRowChange: p})
				var oe *tablestore.OtsError
				switch {
				case err == nil:
					wins.Add(1)
					winner.Store(int64(r))
				case errors.As(err, &oe) && oe.Code == "OTSConditionCheckFail":
					conflicts.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != racers-1 {
			t.Fatalf("key %d: %d winners, %d condition failures", key, wins.Load(), conflicts.Load())
		}
		g := getRow(t, tg.client(0), &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("id", fmt.Sprint(key)), MaxVersion: 1})
		if g.Columns[0].Value != winner.Load() {
			t.Fatalf("key %d holds owner %v, the winner was %d", key, g.Columns[0].Value, winner.Load())
		}
	}
}
