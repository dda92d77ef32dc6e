package otsemu_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
	pb "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore/otsprotocol"
	"github.com/golang/protobuf/proto"

	"vodfc.dev/local/otsemu"
)

// The contract suite runs against one target: the emulator (default, in-process through the
// SDK's Transport hook) or real Tablestore when OTS_TEST_ENDPOINT, OTS_TEST_INSTANCENAME,
// OTS_TEST_KEYID and OTS_TEST_SECRET are set. Tests that need the emulator's clock, faults or
// data directory skip against the cloud; assertions on error messages that are the
// emulator's own wording (not Tablestore's documented text) only check code and status.

const (
	testKeyID  = "test-access-key-id"
	testSecret = "test-access-key-secret"
	testInst   = "vodfc"
)

type target struct {
	real     bool
	endpoint string
	instance string
	keyID    string
	secret   string
	rt       http.RoundTripper // nil against the cloud: the SDK dials
	emu      *otsemu.Server
}

var (
	sharedOnce   sync.Once
	sharedTarget *target
	tableSeq     atomic.Int64
	runID        = func() string { b := make([]byte, 3); rand.Read(b); return hex.EncodeToString(b) }()
)

// suite returns the shared contract target.
func suite(t testing.TB) *target {
	sharedOnce.Do(func() {
		if ep := os.Getenv("OTS_TEST_ENDPOINT"); ep != "" {
			sharedTarget = &target{
				real:     true,
				endpoint: ep,
				instance: os.Getenv("OTS_TEST_INSTANCENAME"),
				keyID:    os.Getenv("OTS_TEST_KEYID"),
				secret:   os.Getenv("OTS_TEST_SECRET"),
			}
			return
		}
		s, err := otsemu.Open(otsemu.Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Instance: testInst})
		if err != nil {
			panic(err)
		}
		sharedTarget = &target{endpoint: "http://otsemu.invalid", instance: testInst, keyID: testKeyID, secret: testSecret, rt: s.Transport(), emu: s}
	})
	return sharedTarget
}

// emulated returns an emulator target of its own (for tests that change its clock, faults or
// storage), and skips against the cloud with a note.
func emulated(t testing.TB, opts otsemu.Options) *target {
	t.Helper()
	if suite(t).real {
		t.Skip("needs the emulator (clock, faults or data directory); skipped against real Tablestore")
	}
	if opts.AccessKeyID == "" {
		opts.AccessKeyID, opts.AccessKeySecret, opts.Instance = testKeyID, testSecret, testInst
	}
	s, err := otsemu.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &target{endpoint: "http://otsemu.invalid", instance: opts.Instance, keyID: opts.AccessKeyID, secret: opts.AccessKeySecret, rt: s.Transport(), emu: s}
}

// client builds an SDK client; retries are off unless the test asks for them, so errors
// surface at once.
func (tg *target) client(retries uint) *tablestore.TableStoreClient {
	return tg.clientWith(retries, tg.secret, "")
}

func (tg *target) clientWith(retries uint, secret, stsToken string) *tablestore.TableStoreClient {
	cfg := tablestore.NewDefaultTableStoreConfig()
	cfg.RetryTimes = retries
	cfg.Transport = tg.rt
	return tablestore.NewClientWithConfig(tg.endpoint, tg.instance, tg.keyID, secret, stsToken, cfg)
}

// pkDef is one primary-key column of a test table.
type pkDef struct {
	name string
	typ  tablestore.PrimaryKeyType
	auto bool
}

type tableOpts struct {
	ttl, maxVersions int
	deviation        int64
}

// newTable creates a uniquely named table, waits until it serves, and drops it after the test.
func (tg *target) newTable(t testing.TB, pks []pkDef, o tableOpts) string {
	t.Helper()
	if o.ttl == 0 {
		o.ttl = -1
	}
	if o.maxVersions == 0 {
		o.maxVersions = 1
	}
	name := fmt.Sprintf("ct_%s_%d", runID, tableSeq.Add(1))
	meta := &tablestore.TableMeta{TableName: name}
	for _, p := range pks {
		if p.auto {
			meta.AddPrimaryKeyColumnOption(p.name, p.typ, tablestore.AUTO_INCREMENT)
		} else {
			meta.AddPrimaryKeyColumn(p.name, p.typ)
		}
	}
	c := tg.client(3)
	_, err := c.CreateTable(&tablestore.CreateTableRequest{
		TableMeta:          meta,
		TableOption:        &tablestore.TableOption{TimeToAlive: o.ttl, MaxVersion: o.maxVersions, DeviationCellVersionInSec: o.deviation},
		ReservedThroughput: &tablestore.ReservedThroughput{},
	})
	if err != nil {
		t.Fatalf("CreateTable %s: %v", name, err)
	}
	t.Cleanup(func() { c.DeleteTable(&tablestore.DeleteTableRequest{TableName: name}) })
	tg.waitReady(t, name, pks)
	return name
}

// waitReady polls until a new table serves reads: immediate on the emulator, a few seconds
// in the cloud.
func (tg *target) waitReady(t testing.TB, name string, pks []pkDef) {
	if !tg.real {
		return
	}
	c := tg.client(0)
	pk := &tablestore.PrimaryKey{}
	for _, p := range pks {
		switch p.typ {
		case tablestore.PrimaryKeyType_INTEGER:
			pk.AddPrimaryKeyColumn(p.name, int64(0))
		case tablestore.PrimaryKeyType_STRING:
			pk.AddPrimaryKeyColumn(p.name, "")
		default:
			pk.AddPrimaryKeyColumn(p.name, []byte{})
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := c.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk, MaxVersion: 1}})
		if err == nil || time.Now().After(deadline) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// wantErr asserts an SDK error's code and HTTP status, and its message when msg is not "".
func wantErr(t testing.TB, err error, code string, status int, msg string) {
	t.Helper()
	var oe *tablestore.OtsError
	if !errors.As(err, &oe) {
		t.Fatalf("want %s error, got %v", code, err)
	}
	if oe.Code != code || oe.HttpStatusCode != status {
		t.Fatalf("want %s/%d, got %s/%d: %s", code, status, oe.Code, oe.HttpStatusCode, oe.Message)
	}
	if msg != "" && oe.Message != msg {
		t.Fatalf("want message %q, got %q", msg, oe.Message)
	}
	if oe.RequestId == "" {
		t.Fatalf("error %s without request id", code)
	}
}

func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func pk1(name string, v any) *tablestore.PrimaryKey {
	pk := &tablestore.PrimaryKey{}
	pk.AddPrimaryKeyColumn(name, v)
	return pk
}

// cols turns returned attribute columns into "name=value@ts" strings, in order.
func cols(cs []*tablestore.AttributeColumn, withTS bool) []string {
	var out []string
	for _, c := range cs {
		s := fmt.Sprintf("%s=%v", c.ColumnName, c.Value)
		if b, ok := c.Value.([]byte); ok {
			s = fmt.Sprintf("%s=0x%x", c.ColumnName, b)
		}
		if withTS {
			s += fmt.Sprintf("@%d", c.Timestamp)
		}
		out = append(out, s)
	}
	return out
}

// raw sends a hand-built request, signed as the SDK signs, so tests can reach protocol
// corners the Go SDK does not expose (and break the signature on purpose).
type rawRequest struct {
	action  string
	body    []byte
	secret  string
	headers map[string]string // set after signing: overrides
	mutate  func(*http.Request)
}

type rawResponse struct {
	status int
	header http.Header
	body   []byte
	err    *pb.Error
}

func (tg *target) raw(t testing.TB, r rawRequest) rawResponse {
	t.Helper()
	secret := r.secret
	if secret == "" {
		secret = tg.secret
	}
	req, err := http.NewRequest("POST", tg.endpoint+"/"+r.action, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(r.body)
	req.Header.Set("x-ots-date", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
	req.Header.Set("x-ots-apiversion", "2015-12-31")
	req.Header.Set("x-ots-accesskeyid", tg.keyID)
	req.Header.Set("x-ots-instancename", tg.instance)
	req.Header.Set("x-ots-contentmd5", base64.StdEncoding.EncodeToString(sum[:]))
	req.Header.Set("x-ots-signature", sign(secret, "/"+r.action+"\nPOST\n\n"+headerLines(req.Header)))
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	if r.mutate != nil {
		r.mutate(req)
	}
	rt := tg.rt
	if rt == nil {
		rt = http.DefaultTransport
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := rawResponse{status: resp.StatusCode, header: resp.Header, body: body}
	if resp.StatusCode != 200 {
		out.err = &pb.Error{}
		if err := proto.Unmarshal(body, out.err); err != nil {
			t.Fatalf("error body is not a protobuf Error: %v (%q)", err, body)
		}
	}
	return out
}

func (r rawResponse) wantCode(t testing.TB, code string, status int) {
	t.Helper()
	if r.status != status || r.err == nil || r.err.GetCode() != code {
		t.Fatalf("want %s/%d, got %d %v", code, status, r.status, r.err)
	}
}

func headerLines(h http.Header) string {
	var lines []string
	for k := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-ots-") && lk != "x-ots-signature" {
			lines = append(lines, lk+":"+strings.TrimSpace(h.Get(k))+"\n")
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}

func sign(secret, text string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(text))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func getRowRequest(table string, pk *tablestore.PrimaryKey) *pb.GetRowRequest {
	return &pb.GetRowRequest{TableName: proto.String(table), PrimaryKey: pk.Build(false)}
}

func batchGetNoVersion(table string) []byte {
	b, _ := proto.Marshal(&pb.BatchGetRowRequest{Tables: []*pb.TableInBatchGetRowRequest{{
		TableName:  proto.String(table),
		PrimaryKey: [][]byte{pk1("id", int64(1)).Build(false)},
	}}})
	return b
}

// TestTarget states which Tablestore the contract suite ran against.
func TestTarget(t *testing.T) {
	if tg := suite(t); !tg.real {
		t.Skip("OTS_TEST_ENDPOINT, OTS_TEST_INSTANCENAME, OTS_TEST_KEYID and OTS_TEST_SECRET are not set: " +
			"the contract suite ran against the emulator only; set them to run the same tests against real Tablestore")
	}
	t.Logf("contract suite ran against %s (instance %s)", suite(t).endpoint, suite(t).instance)
}
