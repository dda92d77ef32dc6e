package otsemu_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
	pb "github.com/aliyun/aliyun-tablestore-go-sdk/tablestore/otsprotocol"
	"github.com/golang/protobuf/proto"

	"vodfc.dev/local/otsemu"
	"vodfc.dev/local/otsemu/plainbuffer"
)

func TestAuthentication(t *testing.T) {
	tg := suite(t)
	_, err := tg.clientWith(0, "wrong-secret", "").ListTable()
	wantErr(t, err, "OTSAuthFailed", 403, "Signature mismatch.")

	// An STS token travels in x-ots-ststoken and is part of the signature.
	if tg.real {
		t.Log("STS token acceptance needs STS credentials; checked on the emulator only")
	} else if _, err := tg.clientWith(0, tg.secret, "CAIS-temporary-token").ListTable(); err != nil {
		t.Fatalf("request with an STS token: %v", err)
	}

	body := marshal(t, &pb.ListTableRequest{})
	tg.raw(t, rawRequest{action: "ListTable", body: body, headers: map[string]string{"x-ots-contentmd5": "AAAAAAAAAAAAAAAAAAAAAA=="}}).
		wantCode(t, "OTSAuthFailed", 403)
	tg.raw(t, rawRequest{action: "ListTable", body: body, mutate: func(r *http.Request) { r.Header.Del("x-ots-date") }}).
		wantCode(t, "OTSParameterInvalid", 400)
	old := tg.raw(t, rawRequest{action: "ListTable", body: body, mutate: func(r *http.Request) {
		r.Header.Set("x-ots-date", time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.000Z"))
		r.Header.Set("x-ots-signature", sign(tg.secret, "/ListTable\nPOST\n\n"+headerLines(r.Header)))
	}})
	old.wantCode(t, "OTSAuthFailed", 403)
	if !strings.HasPrefix(old.err.GetMessage(), "Mismatch between system time and x-ots-date") {
		t.Fatalf("stale date message %q", old.err.GetMessage())
	}
	if tg.real {
		return
	}
	tg.raw(t, rawRequest{action: "ListTable", body: body, mutate: func(r *http.Request) {
		r.Header.Set("x-ots-accesskeyid", "someone-else")
		r.Header.Set("x-ots-signature", sign(tg.secret, "/ListTable\nPOST\n\n"+headerLines(r.Header)))
	}}).wantCode(t, "OTSAuthFailed", 403)
	tg.raw(t, rawRequest{action: "ListTable", body: body, mutate: func(r *http.Request) {
		r.Header.Set("x-ots-instancename", "other-instance")
		r.Header.Set("x-ots-signature", sign(tg.secret, "/ListTable\nPOST\n\n"+headerLines(r.Header)))
	}}).wantCode(t, "OTSAuthFailed", 403)
}

func TestProtocolEnvelope(t *testing.T) {
	tg := suite(t)
	if tg.real {
		t.Skip("inspects raw HTTP exchanges through the emulator's transport")
	}
	body := marshal(t, &pb.ListTableRequest{})
	r := tg.raw(t, rawRequest{action: "ListTable", body: body})
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(r.header.Get("x-ots-requestid")) {
		t.Fatalf("request id %q", r.header.Get("x-ots-requestid"))
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.header.Get("x-ots-date")); err != nil {
		t.Fatalf("x-ots-date %q: %v", r.header.Get("x-ots-date"), err)
	}
	sum := md5.Sum(r.body)
	if r.header.Get("x-ots-contentmd5") != base64.StdEncoding.EncodeToString(sum[:]) || r.header.Get("x-ots-contenttype") != "protocol buffer" {
		t.Fatalf("response headers %v", r.header)
	}
	// The response signature, computed the way the Java and Python SDKs check it.
	var lines []string
	for k := range r.header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-ots-") {
			lines = append(lines, lk+":"+r.header.Get(k)+"\n")
		}
	}
	sort.Strings(lines)
	if want := "OTS " + tg.keyID + ":" + sign(tg.secret, strings.Join(lines, "")+"/ListTable"); r.header.Get("Authorization") != want {
		t.Fatalf("Authorization %q, want %q", r.header.Get("Authorization"), want)
	}
	if again := tg.raw(t, rawRequest{action: "ListTable", body: body}); again.header.Get("x-ots-requestid") == r.header.Get("x-ots-requestid") {
		t.Fatal("request ids repeat")
	}

	tg.raw(t, rawRequest{action: "ListTable", body: body, mutate: func(r *http.Request) { r.Method = "GET" }}).wantCode(t, "OTSMethodNotAllowed", 405)
	tg.raw(t, rawRequest{action: "Search", body: body}).wantCode(t, "OTSParameterInvalid", 400)
	tg.raw(t, rawRequest{action: "GetRow", body: []byte{0xff, 0x01}}).wantCode(t, "OTSParameterInvalid", 400)
	// A request missing a proto2 required field (GetRow.primary_key).
	tg.raw(t, rawRequest{action: "GetRow", body: marshal(t, &pb.DescribeTableRequest{TableName: proto.String("x")})}).wantCode(t, "OTSParameterInvalid", 400)
	tg.raw(t, rawRequest{action: "PutRow", body: bytes.Repeat([]byte{0}, 5<<20+1)}).wantCode(t, "OTSRequestBodyTooLarge", 413)
}

// TestUpdateRowReturnPK reaches the RT_PK return type of UpdateRow, which the Go SDK cannot
// send (it only sends RT_AFTER_MODIFY), through a hand-built request.
func TestUpdateRowReturnPK(t *testing.T) {
	tg := suite(t)
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_STRING, false}}, tableOpts{})
	u := &tablestore.UpdateRowChange{TableName: name, PrimaryKey: pk1("id", "k")}
	u.IncrementColumn("n", 3)
	req := &pb.UpdateRowRequest{
		TableName:     proto.String(name),
		RowChange:     u.Serialize(),
		Condition:     &pb.Condition{RowExistence: pb.RowExistenceExpectation_IGNORE.Enum()},
		ReturnContent: &pb.ReturnContent{ReturnType: pb.ReturnType_RT_PK.Enum()},
	}
	r := tg.raw(t, rawRequest{action: "UpdateRow", body: marshal(t, req)})
	if r.status != 200 {
		t.Fatalf("UpdateRow RT_PK: %d %v", r.status, r.err)
	}
	var resp pb.UpdateRowResponse
	if err := proto.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	row, err := plainbuffer.DecodeRow(resp.Row)
	if err != nil || len(row.PrimaryKey) != 1 || string(row.PrimaryKey[0].Value.Bytes) != "k" || len(row.Cells) != 0 {
		t.Fatalf("returned row %+v, %v", row, err)
	}
	if g := getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("id", "k"), MaxVersion: 1}); len(g.Columns) != 1 || g.Columns[0].Value != int64(3) {
		t.Fatalf("row after increment: %v", g.Columns)
	}
	req.ReturnContent.ReturnColumnNames = []string{"n"}
	tg.raw(t, rawRequest{action: "UpdateRow", body: marshal(t, req)}).wantCode(t, "OTSParameterInvalid", 400)
}

// TestLoopback serves the emulator on a real socket, as fclocal does, and drives it with an
// SDK client that dials it.
func TestLoopback(t *testing.T) {
	if suite(t).real {
		t.Skip("serves the emulator on a socket")
	}
	s, err := otsemu.Open(otsemu.Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Instance: testInst})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s}
	go srv.Serve(ln)
	defer srv.Close()
	tg := &target{endpoint: "http://" + ln.Addr().String(), instance: testInst, keyID: testKeyID, secret: testSecret}
	c := tg.client(0)
	name := tg.newTable(t, []pkDef{{"id", tablestore.PrimaryKeyType_STRING, false}}, tableOpts{})
	p := &tablestore.PutRowChange{TableName: name, PrimaryKey: pk1("id", "x")}
	p.AddColumn("v", "over tcp")
	put(t, c, p)
	if g := getRow(t, c, &tablestore.SingleRowQueryCriteria{TableName: name, PrimaryKey: pk1("id", "x"), MaxVersion: 1}); g.Columns[0].Value != "over tcp" || g.RequestId == "" {
		t.Fatalf("over loopback: %+v", g)
	}
	_, err = tg.clientWith(0, "bad", "").ListTable()
	wantErr(t, err, "OTSAuthFailed", 403, "Signature mismatch.")
}
