package otsemu_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"

	"vodfc.dev/local/otsemu"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv("OTSEMU_CRASH_WRITER"); dir != "" {
		crashWriter(dir)
		return
	}
	os.Exit(m.Run())
}

// dump reads a whole table as "key: columns" lines, through the SDK.
func dump(t testing.TB, c *tablestore.TableStoreClient, name string, pkNames ...string) []string {
	t.Helper()
	var out []string
	start := &tablestore.PrimaryKey{}
	end := &tablestore.PrimaryKey{}
	for _, n := range pkNames {
		start.AddPrimaryKeyColumnWithMinValue(n)
		end.AddPrimaryKeyColumnWithMaxValue(n)
	}
	for start != nil {
		r := must[*tablestore.GetRangeResponse](t)(c.GetRange(&tablestore.GetRangeRequest{RangeRowQueryCriteria: &tablestore.RangeRowQueryCriteria{
			TableName: name, StartPrimaryKey: start, EndPrimaryKey: end, Direction: tablestore.FORWARD, MaxVersion: 100}}))
		for _, row := range r.Rows {
			out = append(out, rowKey(row)+": "+fmt.Sprint(cols(row.Columns, true)))
		}
		start = r.NextStartPrimaryKey
	}
	return out
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	clock := &testClock{}
	tg := emulated(t, otsemu.Options{DataDir: dir, Now: clock.Now})
	c := tg.client(0)
	a := tg.newTable(t, []pkDef{{"uid", tablestore.PrimaryKeyType_STRING, false}, {"seq", tablestore.PrimaryKeyType_INTEGER, true}}, tableOpts{maxVersions: 3})
	b := tg.newTable(t, []pkDef{{"k", tablestore.PrimaryKeyType_BINARY, false}}, tableOpts{ttl: 86400 * 7})
	gone := tg.newTable(t, []pkDef{{"x", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{})
	var lastSeq int64
	for i := range 30 {
		pk := pk1("uid", fmt.Sprintf("u%d", i%3))
		pk.AddPrimaryKeyColumnWithAutoIncrement("seq")
		p := &tablestore.PutRowChange{TableName: a, PrimaryKey: pk}
		p.AddColumn("i", int64(i))
		p.AddColumn("f", float64(i)/3)
		p.AddColumn("b", i%2 == 0)
		p.AddColumn("s", strings.Repeat("s", i))
		p.SetReturnPk()
		lastSeq = put(t, c, p).PrimaryKey.PrimaryKeys[1].Value.(int64)
	}
	for i := range 10 {
		u := &tablestore.UpdateRowChange{TableName: b, PrimaryKey: pk1("k", []byte{byte(i)})}
		u.IncrementColumn("n", int64(i))
		u.PutColumn("blob", []byte{byte(i), 0, byte(i)})
		must[*tablestore.UpdateRowResponse](t)(update(c, u))
	}
	d := &tablestore.DeleteRowChange{TableName: b, PrimaryKey: pk1("k", []byte{3})}
	d.SetCondition(tablestore.RowExistenceExpectation_EXPECT_EXIST)
	must[*tablestore.DeleteRowResponse](t)(c.DeleteRow(&tablestore.DeleteRowRequest{DeleteRowChange: d}))
	must[*tablestore.UpdateTableResponse](t)(c.UpdateTable(&tablestore.UpdateTableRequest{TableName: a, TableOption: &tablestore.TableOption{TimeToAlive: -1, MaxVersion: 4}}))
	must[*tablestore.DeleteTableResponse](t)(c.DeleteTable(&tablestore.DeleteTableRequest{TableName: gone}))

	wantA, wantB := dump(t, c, a, "uid", "seq"), dump(t, c, b, "k")
	if len(wantA) != 30 || len(wantB) != 9 {
		t.Fatalf("before restart: %d and %d rows", len(wantA), len(wantB))
	}
	check := func(stage string, s *otsemu.Server) {
		t.Helper()
		tg2 := &target{endpoint: tg.endpoint, instance: tg.instance, keyID: tg.keyID, secret: tg.secret, rt: s.Transport(), emu: s}
		c2 := tg2.client(0)
		if got := dump(t, c2, a, "uid", "seq"); strings.Join(got, "\n") != strings.Join(wantA, "\n") {
			t.Fatalf("%s: table a differs:\n%s\nwant\n%s", stage, strings.Join(got, "\n"), strings.Join(wantA, "\n"))
		}
		if got := dump(t, c2, b, "k"); strings.Join(got, "\n") != strings.Join(wantB, "\n") {
			t.Fatalf("%s: table b differs:\n%v\nwant\n%v", stage, got, wantB)
		}
		list := must[*tablestore.ListTableResponse](t)(c2.ListTable())
		if strings.Contains(strings.Join(list.TableNames, ","), gone) {
			t.Fatalf("%s: dropped table is back", stage)
		}
		desc := must[*tablestore.DescribeTableResponse](t)(c2.DescribeTable(&tablestore.DescribeTableRequest{TableName: a}))
		if desc.TableOption.MaxVersion != 4 || desc.TableOption.TimeToAlive != -1 {
			t.Fatalf("%s: options %+v", stage, desc.TableOption)
		}
		// Auto-increment keeps increasing across restarts.
		pk := pk1("uid", "u0")
		pk.AddPrimaryKeyColumnWithAutoIncrement("seq")
		p := &tablestore.PutRowChange{TableName: a, PrimaryKey: pk}
		p.SetReturnPk()
		p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
		res := must[*tablestore.PutRowResponse](t)(c2.PutRow(&tablestore.PutRowRequest{PutRowChange: p}))
		if seq := res.PrimaryKey.PrimaryKeys[1].Value.(int64); seq <= lastSeq {
			t.Fatalf("%s: auto-increment %d after %d", stage, seq, lastSeq)
		} else {
			lastSeq = seq
		}
		d := &tablestore.DeleteRowChange{TableName: a, PrimaryKey: &res.PrimaryKey}
		d.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
		must[*tablestore.DeleteRowResponse](t)(c2.DeleteRow(&tablestore.DeleteRowRequest{DeleteRowChange: d}))
	}

	// 1. A crash: the server is abandoned without Close; only the log holds the data.
	crashed, err := otsemu.Open(otsemu.Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Instance: testInst, DataDir: dir, Now: clock.Now})
	if err == nil {
		crashed.Close()
		t.Fatal("a second server opened a data directory in use")
	}
	tg.emu.Close() // Close snapshots; to test replay from the log, reopen and write more first.
	s, err := otsemu.Open(otsemu.Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Instance: testInst, DataDir: dir, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	check("after close (snapshot)", s)
	// Changes after the snapshot live only in the log; abandon this server (no Close, no
	// snapshot) and open the directory again.
	more := &tablestore.PutRowChange{TableName: b, PrimaryKey: pk1("k", []byte("late"))}
	more.AddColumn("v", "from the log")
	c2 := (&target{endpoint: tg.endpoint, instance: tg.instance, keyID: tg.keyID, secret: tg.secret, rt: s.Transport()}).client(0)
	put(t, c2, more)
	wantB = dump(t, c2, b, "k")
	s.Abandon()
	s, err = otsemu.Open(otsemu.Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Instance: testInst, DataDir: dir, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	check("after abandon (log replay)", s)
	s.Close()
}

// TestSnapshotBoundsTheLog writes enough to trigger background snapshots and checks the log
// directory stays small and a restart sees everything.
func TestSnapshotBoundsTheLog(t *testing.T) {
	dir := t.TempDir()
	tg := emulated(t, otsemu.Options{DataDir: dir, SnapshotBytes: 64 << 10, NoSync: true})
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_INTEGER, false}}, tableOpts{})
	value := strings.Repeat("v", 1000)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		p := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("id", int64(i%500))}
		p.AddColumn("v", value)
		p.AddColumn("i", int64(i))
		put(t, c, p)
		if i > 1000 && snapshotCount(t, dir) > 0 && walBytes(t, dir) < 1<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot after %d writes; log holds %d bytes", i, walBytes(t, dir))
		}
	}
	want := dump(t, c, name, "id")
	tg.emu.Abandon()
	s, err := otsemu.Open(otsemu.Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Instance: testInst, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c2 := (&target{endpoint: tg.endpoint, instance: tg.instance, keyID: tg.keyID, secret: tg.secret, rt: s.Transport()}).client(0)
	if got := dump(t, c2, name, "id"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after restart %d rows, want %d", len(got), len(want))
	}
}

func snapshotCount(t testing.TB, dir string) int {
	m, _ := filepath.Glob(filepath.Join(dir, "snapshot-*.snap"))
	return len(m)
}

func walBytes(t testing.TB, dir string) int64 {
	m, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	var n int64
	for _, p := range m {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}

// crashRow is the content the crash writer gives row i; a torn row would not match it.
func crashRow(i int) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(i)))
	return strings.Repeat(hex.EncodeToString(sum[:]), 40)
}

// crashWriter runs in a child process: it writes rows, batches and increments as fast as it
// can and prints "ack N" after each acknowledged write, until it is killed.
func crashWriter(dir string) {
	s, err := otsemu.Open(otsemu.Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Instance: testInst, DataDir: dir})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	cfg := tablestore.NewDefaultTableStoreConfig()
	cfg.RetryTimes, cfg.Transport = 0, s.Transport()
	c := tablestore.NewClientWithConfig("http://otsemu.invalid", testInst, testKeyID, testSecret, "", cfg)
	meta := &tablestore.TableMeta{TableName: "crash"}
	meta.AddPrimaryKeyColumn("id", tablestore.PrimaryKeyType_INTEGER)
	if _, err := c.CreateTable(&tablestore.CreateTableRequest{TableMeta: meta, TableOption: &tablestore.TableOption{TimeToAlive: -1, MaxVersion: 1}, ReservedThroughput: &tablestore.ReservedThroughput{}}); err != nil {
		fmt.Println("create:", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 1; ; i++ {
		var err error
		switch i % 3 {
		case 0: // an increment of the shared counter, then the row
			u := &tablestore.UpdateRowChange{TableName: "crash", PrimaryKey: pk1("id", int64(0))}
			u.IncrementColumn("acks", 1)
			u.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
			if _, err = c.UpdateRow(&tablestore.UpdateRowRequest{UpdateRowChange: u}); err != nil {
				break
			}
			fallthrough
		case 1:
			p := &tablestore.PutRowChange{TableName: "crash", PrimaryKey: pk1("id", int64(i))}
			p.AddColumn("body", crashRow(i))
			p.AddColumn("n", int64(i))
			p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
			_, err = c.PutRow(&tablestore.PutRowRequest{PutRowChange: p})
		case 2:
			req := &tablestore.BatchWriteRowRequest{}
			p := &tablestore.PutRowChange{TableName: "crash", PrimaryKey: pk1("id", int64(i))}
			p.AddColumn("body", crashRow(i))
			p.AddColumn("n", int64(i))
			p.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
			req.AddRowChange(p)
			_, err = c.BatchWriteRow(req)
		}
		if err != nil {
			fmt.Println("write:", err)
			os.Exit(1)
		}
		fmt.Fprintf(out, "ack %d\n", i)
		out.Flush()
	}
}

// TestKillNine kills a writer process with SIGKILL in the middle of its work and checks that
// every acknowledged row is there, intact, and nothing torn is.
func TestKillNine(t *testing.T) {
	if suite(t).real {
		t.Skip("kills an emulator process")
	}
	for round := range 3 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "OTSEMU_CRASH_WRITER="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := 0
		sc := bufio.NewScanner(stdout)
		ackTarget := 200 + round*150
		var once sync.Once
		kill := func() { once.Do(func() { cmd.Process.Signal(syscall.SIGKILL) }) }
		timer := time.AfterFunc(2*time.Minute, kill) // hang guard
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "ack ") {
				t.Fatalf("writer: %s", line)
			}
			acked, _ = strconv.Atoi(strings.TrimPrefix(line, "ack "))
			if acked >= ackTarget {
				kill()
				break
			}
		}
		// The writer keeps going until the signal lands; what it acknowledged meanwhile is still
		// in the pipe and bounds what may be there from above.
		printed := acked
		for sc.Scan() {
			if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ack ")); err == nil {
				printed = n
			}
		}
		timer.Stop()
		cmd.Wait()
		if acked < ackTarget {
			t.Fatalf("writer stopped after %d acknowledged writes", acked)
		}

		s, err := otsemu.Open(otsemu.Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Instance: testInst, DataDir: dir})
		if err != nil {
			t.Fatalf("reopening after kill -9: %v", err)
		}
		c := (&target{endpoint: "http://otsemu.invalid", instance: testInst, keyID: testKeyID, secret: testSecret, rt: s.Transport()}).client(0)
		rows := 0
		for _, line := range dump(t, c, "crash", "id") {
			key, rest, _ := strings.Cut(line, ": ")
			id, _ := strconv.Atoi(key)
			if id == 0 {
				continue
			}
			rows++
			if !strings.HasPrefix(rest, "[body="+crashRow(id)+"@") || !strings.Contains(rest, fmt.Sprintf(" n=%d@", id)) || strings.Count(rest, "=") != 2 {
				t.Fatalf("row %d is torn: %.100s", id, rest)
			}
		}
		for i := 1; i <= acked; i++ {
			g := getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: "crash", PrimaryKey: pk1("id", int64(i)), MaxVersion: 1})
			if len(g.Columns) != 2 {
				t.Fatalf("round %d: acknowledged row %d of %d is missing after kill -9", round, i, acked)
			}
		}
		counter := getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: "crash", PrimaryKey: pk1("id", int64(0)), MaxVersion: 1})
		acks := counter.Columns[0].Value.(int64)
		// At least what was acknowledged when we decided to kill, at most what the writer
		// printed before dying plus the one write in flight.
		if lo, hi := int64(acked/3), int64(printed/3)+1; acks < lo || acks > hi {
			t.Fatalf("counter %d after %d..%d acknowledged increments", acks, lo, hi)
		}
		if rows < acked || rows > printed+1 {
			t.Fatalf("%d rows after %d..%d acknowledged writes", rows, acked, printed)
		}
		s.Close()
	}
}
