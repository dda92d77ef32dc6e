package tablestore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// These tests drive the real SDK through this package against the Tablestore emulator
// in-process, so they check both our mapping and what the service answers.

func newClient(t *testing.T) (*tablestore.Client, *otsemu.Server) {
	t.Helper()
	emu, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	c, err := tablestore.New(tablestore.Config{Endpoint: "http://ots.local", Instance: "vodfc", Transport: emu.Transport(),
		Credentials: func() (runtime.Credentials, bool) {
			return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	return c, emu
}

var things = tablestore.Table{Name: "things", Key: []tablestore.KeyDef{{Name: "owner", Type: tablestore.String}, {Name: "n", Type: tablestore.Integer}}}

func setup(t *testing.T) (*tablestore.Client, *otsemu.Server) {
	c, emu := newClient(t)
	res, err := c.Ensure(context.Background(), []tablestore.Table{things})
	if err != nil || len(res) != 1 || res[0].Action != "created" {
		t.Fatalf("Ensure: %v %v", res, err)
	}
	return c, emu
}

func TestEnsureIsIdempotentAndUpdatesOptions(t *testing.T) {
	ctx := context.Background()
	c, _ := setup(t)
	res, err := c.Ensure(ctx, []tablestore.Table{things})
	if err != nil || res[0].Action != "unchanged" {
		t.Fatalf("second Ensure: %v %v", res, err)
	}
	changed := things
	changed.MaxVersions = 3
	if res, err := c.Ensure(ctx, []tablestore.Table{changed}); err != nil || res[0].Action != "updated" {
		t.Fatalf("Ensure with new options: %v %v", res, err)
	}
	otherKey := things
	otherKey.Key = []tablestore.KeyDef{{Name: "owner", Type: tablestore.String}}
	if _, err := c.Ensure(ctx, []tablestore.Table{otherKey}); err == nil {
		t.Fatal("a changed primary key must be refused")
	}
}

func TestPutGetUpdateDelete(t *testing.T) {
	ctx := context.Background()
	c, _ := setup(t)
	k := tablestore.K("owner", "u1", "n", 1)
	if row, err := c.Get(ctx, "things", k); err != nil || row != nil {
		t.Fatalf("missing row: %v %v", row, err)
	}
	if err := c.Put(ctx, "things", k, tablestore.Cols{"s": "x", "i": 7, "f": 1.5, "b": true, "raw": []byte{1}}, tablestore.IfNotExists()); err != nil {
		t.Fatal(err)
	}
	err := c.Put(ctx, "things", k, tablestore.Cols{"s": "y"}, tablestore.IfNotExists())
	if !tablestore.IsConditionFailed(err) {
		t.Fatalf("second IfNotExists put: %v", err)
	}
	row, err := c.Get(ctx, "things", k)
	if err != nil || row.Str("s") != "x" || row.Int("i") != 7 || row.Float("f") != 1.5 || !row.Bool("b") || len(row.Bytes("raw")) != 1 {
		t.Fatalf("Get: %+v %v", row, err)
	}
	if row.Key.Str("owner") != "u1" || row.Key.Int("n") != 1 {
		t.Fatalf("key read back: %v", row.Key)
	}
	got, err := c.Update(ctx, "things", k, tablestore.Change{Set: tablestore.Cols{"s": "z"}, Delete: []string{"raw"}, Incr: map[string]int64{"i": 3, "fresh": 2}}, tablestore.IfExists())
	if err != nil || got["i"] != 10 || got["fresh"] != 2 {
		t.Fatalf("Update: %v %v", got, err)
	}
	row, _ = c.Get(ctx, "things", k, "s", "raw")
	if row.Str("s") != "z" || row.Has("raw") || row.Has("i") {
		t.Fatalf("after update, projected: %+v", row.Cols)
	}
	if err := c.Delete(ctx, "things", k, tablestore.IfExists()); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "things", k, tablestore.Always); err != nil {
		t.Fatalf("deleting a missing row unconditionally: %v", err)
	}
	if !tablestore.IsConditionFailed(c.Delete(ctx, "things", k, tablestore.IfExists())) {
		t.Fatal("IfExists delete of a missing row must fail its condition")
	}
}

// A predicate on a missing column must fail: the service's default would let it pass.
func TestWhereFailsClosedOnMissingColumns(t *testing.T) {
	ctx := context.Background()
	c, _ := setup(t)
	k := tablestore.K("owner", "u1", "n", 2)
	c.Put(ctx, "things", k, tablestore.Cols{"other": "v"}, tablestore.Always)
	err := c.Put(ctx, "things", k, tablestore.Cols{"status": "processing"}, tablestore.IfExists().Where(tablestore.Eq("status", "awaiting_upload")))
	if !tablestore.IsConditionFailed(err) {
		t.Fatalf("missing column satisfied the condition: %v", err)
	}
	if err := c.Put(ctx, "things", k, tablestore.Cols{"status": "awaiting_upload", "attempt": 1}, tablestore.IfExists().Where(tablestore.Eq("status", "awaiting_upload").OrMissing())); err != nil {
		t.Fatalf("OrMissing: %v", err)
	}
	cond := tablestore.IfExists().Where(tablestore.Eq("status", "awaiting_upload")).Where(tablestore.Lt("attempt", 2))
	if _, err := c.Update(ctx, "things", k, tablestore.Change{Set: tablestore.Cols{"status": "processing"}}, cond); err != nil {
		t.Fatalf("composite condition should hold: %v", err)
	}
	if _, err := c.Update(ctx, "things", k, tablestore.Change{Set: tablestore.Cols{"status": "ready"}}, cond); !tablestore.IsConditionFailed(err) {
		t.Fatalf("composite condition should fail now: %v", err)
	}
}

func TestBatchesSplitToServiceLimits(t *testing.T) {
	ctx := context.Background()
	c, _ := setup(t)
	var writes []tablestore.Write
	for i := range 450 { // more than one BatchWriteRow (200)
		writes = append(writes, tablestore.Write{Table: "things", Key: tablestore.K("owner", "b", "n", i), Put: tablestore.Cols{"v": i}, Cond: tablestore.IfNotExists()})
	}
	if err := c.BatchWrite(ctx, writes); err != nil {
		t.Fatal(err)
	}
	// A rerun fails every condition and reports each write by its index.
	err := c.BatchWrite(ctx, writes[:3])
	var be *tablestore.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 3 || !tablestore.IsConditionFailed(err) {
		t.Fatalf("rerun of conditional writes: %v", err)
	}
	var keys []tablestore.Key
	for i := range 250 { // more than one BatchGetRow (100), with gaps
		keys = append(keys, tablestore.K("owner", "b", "n", i*2))
	}
	rows, err := c.BatchGet(ctx, "things", keys)
	if err != nil || len(rows) != 250 {
		t.Fatalf("BatchGet: %d %v", len(rows), err)
	}
	for i, r := range rows {
		if i*2 < 450 && (r == nil || r.Int("v") != int64(i*2)) {
			t.Fatalf("row %d: %+v", i, r)
		}
		if i*2 >= 450 && r != nil {
			t.Fatalf("row %d should be missing", i)
		}
	}
	// Mixed batch: updates with increments and deletes.
	if err := c.BatchWrite(ctx, []tablestore.Write{
		{Table: "things", Key: tablestore.K("owner", "b", "n", 0), Update: &tablestore.Change{Incr: map[string]int64{"v": 5}}, Cond: tablestore.IfExists()},
		{Table: "things", Key: tablestore.K("owner", "b", "n", 1), Delete: true, Cond: tablestore.Always},
	}); err != nil {
		t.Fatal(err)
	}
	r0, _ := c.Get(ctx, "things", tablestore.K("owner", "b", "n", 0))
	r1, _ := c.Get(ctx, "things", tablestore.K("owner", "b", "n", 1))
	if r0.Int("v") != 5 || r1 != nil {
		t.Fatalf("mixed batch: %+v %+v", r0, r1)
	}
}

func TestRangePagingBothWays(t *testing.T) {
	ctx := context.Background()
	c, _ := setup(t)
	var writes []tablestore.Write
	for i := range 30 {
		writes = append(writes, tablestore.Write{Table: "things", Key: tablestore.K("owner", "r", "n", i), Put: tablestore.Cols{"even": i%2 == 0}})
	}
	writes = append(writes, tablestore.Write{Table: "things", Key: tablestore.K("owner", "s", "n", 0), Put: tablestore.Cols{"even": true}})
	if err := c.BatchWrite(ctx, writes); err != nil {
		t.Fatal(err)
	}
	fwd := tablestore.Range{Start: tablestore.K("owner", "r", "n", tablestore.Min), End: tablestore.K("owner", "r", "n", tablestore.Max), Limit: 7}
	var seen []int64
	for {
		rows, next, err := c.GetRange(ctx, "things", fwd)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			seen = append(seen, r.Key.Int("n"))
		}
		if next == nil {
			break
		}
		// Cursors survive the trip through a client.
		if fwd.Start, err = tablestore.UnmarshalKey(tablestore.MarshalKey(next)); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 30 || seen[0] != 0 || seen[29] != 29 {
		t.Fatalf("forward pages: %v", seen)
	}
	back := tablestore.Range{Start: tablestore.K("owner", "r", "n", tablestore.Max), End: tablestore.K("owner", "r", "n", tablestore.Min), Backward: true, Limit: 5, Where: []tablestore.Pred{tablestore.Eq("even", true)}}
	rows, next, err := c.GetRange(ctx, "things", back)
	if err != nil || len(rows) != 5 || rows[0].Key.Int("n") != 28 || next == nil {
		t.Fatalf("backward filtered page: %d %v %v", len(rows), next, err)
	}
	n := 0
	err = c.Scan(ctx, "things", tablestore.Range{Start: tablestore.K("owner", tablestore.Min, "n", tablestore.Min), End: tablestore.K("owner", tablestore.Max, "n", tablestore.Max)}, func(*tablestore.Row) error {
		n++
		if n == 31 {
			return tablestore.ErrStop
		}
		return nil
	})
	if err != nil || n != 31 {
		t.Fatalf("Scan: %d %v", n, err)
	}
}

// Busy errors injected by the emulator are retried by the SDK and by the batch layer, so
// product code sees success; with faults on every call they surface as busy errors.
func TestBusyErrorsAreRetriedThenSurface(t *testing.T) {
	ctx := context.Background()
	c, emu := setup(t)
	emu.SetFaults(otsemu.Faults{Rate: 0.1, Codes: []string{"OTSServerBusy"}}) // 7 attempts: 1e-7 per op gives up
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for g := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				if _, err := c.Update(ctx, "things", tablestore.K("owner", "busy", "n", 0), tablestore.Change{Incr: map[string]int64{"hits": 1}}, tablestore.Always); err != nil {
					errs <- fmt.Errorf("goroutine %d op %d: %w", g, i, err)
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
	emu.SetFaults(otsemu.Faults{})
	row, _ := c.Get(ctx, "things", tablestore.K("owner", "busy", "n", 0))
	if row.Int("hits") != 200 {
		t.Fatalf("hits = %d after retried increments", row.Int("hits"))
	}
	emu.SetFaults(otsemu.Faults{Rate: 1, Codes: []string{"OTSServerBusy"}})
	_, err := c.Get(ctx, "things", tablestore.K("owner", "busy", "n", 0))
	if !tablestore.IsBusy(err) {
		t.Fatalf("want a busy error when every call fails, got %v", err)
	}
}
