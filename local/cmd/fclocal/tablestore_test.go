package main

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/aliyun/aliyun-tablestore-go-sdk/tablestore"
)

// TestTablestoreCommand serves the emulator as `fclocal tablestore` does, talks to it with
// the SDK over TCP using the credentials from the environment, stops it, and starts it again
// on the same data directory.
func TestTablestoreCommand(t *testing.T) {
	t.Setenv("FCLOCAL_ACCESS_KEY_ID", "cmd-key")
	t.Setenv("FCLOCAL_ACCESS_KEY_SECRET", "cmd-secret")
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	serve := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runTablestore(ctx, []string{"--addr", addr, "--data", dir, "--instance", "inst"}) }()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("emulator did not start: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("tablestore command: %v", err)
			}
		}
	}
	client := func(secret string) *tablestore.TableStoreClient {
		cfg := tablestore.NewDefaultTableStoreConfig()
		cfg.RetryTimes = 0
		return tablestore.NewClientWithConfig("http://"+addr, "inst", "cmd-key", secret, "", cfg)
	}

	stop := serve()
	c := client("cmd-secret")
	meta := &tablestore.TableMeta{TableName: "t"}
	meta.AddPrimaryKeyColumn("id", tablestore.PrimaryKeyType_STRING)
	if _, err := c.CreateTable(&tablestore.CreateTableRequest{TableMeta: meta, TableOption: &tablestore.TableOption{TimeToAlive: -1, MaxVersion: 1}, ReservedThroughput: &tablestore.ReservedThroughput{}}); err != nil {
		t.Fatal(err)
	}
	pk := &tablestore.PrimaryKey{}
	pk.AddPrimaryKeyColumn("id", "a")
	ch := &tablestore.PutRowChange{TableName: "t", PrimaryKey: pk}
	ch.AddColumn("v", "kept")
	ch.SetCondition(tablestore.RowExistenceExpectation_IGNORE)
	if _, err := c.PutRow(&tablestore.PutRowRequest{PutRowChange: ch}); err != nil {
		t.Fatal(err)
	}
	if _, err := client("fclocal-access-key-secret").ListTable(); err == nil {
		t.Fatal("the default secret was accepted although the environment set another")
	}
	stop()

	stop = serve()
	defer stop()
	got, err := c.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: &tablestore.SingleRowQueryCriteria{TableName: "t", PrimaryKey: pk, MaxVersion: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Columns) != 1 || got.Columns[0].Value != "kept" {
		t.Fatalf("after restart: %+v", got.Columns)
	}
}

// TestTablestoreCommandInjectsFaults turns fault injection on from the command line: the
// chosen action fails with the chosen code, the others are served.
func TestTablestoreCommandInjectsFaults(t *testing.T) {
	t.Setenv("FCLOCAL_ACCESS_KEY_ID", "")
	t.Setenv("FCLOCAL_ACCESS_KEY_SECRET", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runTablestore(ctx, []string{"--addr", addr, "--data", "", "--fault-rate", "1",
			"--fault-codes", "OTSRowOperationConflict", "--fault-actions", "GetRow, PutRow"})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("tablestore command: %v", err)
		}
	}()
	cfg := tablestore.NewDefaultTableStoreConfig()
	cfg.RetryTimes = 0
	c := tablestore.NewClientWithConfig("http://"+addr, "vodfc", "fclocal-access-key-id", "fclocal-access-key-secret", "", cfg)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err = c.ListTable()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ListTable, not among the faulty actions: %v", err)
	}
	meta := &tablestore.TableMeta{TableName: "t"}
	meta.AddPrimaryKeyColumn("id", tablestore.PrimaryKeyType_STRING)
	if _, err := c.CreateTable(&tablestore.CreateTableRequest{TableMeta: meta, TableOption: &tablestore.TableOption{TimeToAlive: -1, MaxVersion: 1}, ReservedThroughput: &tablestore.ReservedThroughput{}}); err != nil {
		t.Fatal(err)
	}
	pk := &tablestore.PrimaryKey{}
	pk.AddPrimaryKeyColumn("id", "a")
	_, err = c.GetRow(&tablestore.GetRowRequest{SingleRowQueryCriteria: &tablestore.SingleRowQueryCriteria{TableName: "t", PrimaryKey: pk, MaxVersion: 1}})
	var oe *tablestore.OtsError
	if !errors.As(err, &oe) || oe.Code != "OTSRowOperationConflict" || oe.HttpStatusCode != 409 {
		t.Fatalf("GetRow under --fault-rate 1: %v", err)
	}
}

func TestTablestoreCommandRejectsBadFaultFlags(t *testing.T) {
	// Cancelled beforehand: flags that were wrongly accepted end the command at once, with nil.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"--fault-rate", "1.5"},
		{"--fault-rate", "-0.1"},
		{"--fault-rate", "NaN"},
		{"--fault-rate", "0.5", "--fault-codes", "ServerBusy"},
	} {
		if err := runTablestore(ctx, append([]string{"--data", "", "--addr", "127.0.0.1:0"}, args...)); err == nil {
			t.Errorf("%v was accepted", args)
		}
	}
}
