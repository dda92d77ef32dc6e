package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func TestOSSCommandServesTheSDK(t *testing.T) {
	// The documented defaults when the variables are unset, the variables' values otherwise.
	for _, c := range []struct{ name, id, secret, wantID, wantSecret string }{
		{"defaults", "", "", "fclocal-access-key-id", "fclocal-access-key-secret"},
		{"from env", "env-key-id", "env-key-secret", "env-key-id", "env-key-secret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("FCLOCAL_ACCESS_KEY_ID", c.id)
			t.Setenv("FCLOCAL_ACCESS_KEY_SECRET", c.secret)
			serveOSSCommand(t, c.wantID, c.wantSecret)
		})
	}
}

func serveOSSCommand(t *testing.T, id, secret string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("MEDIA_BUCKET", "media")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runOSS(ctx, []string{"--addr", addr, "--data", t.TempDir(), "--no-sync"}) }()

	// The expected credentials reach the bucket named by MEDIA_BUCKET.
	c, err := oss.New("http://"+addr, id, secret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("media")
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = b.PutObject("hello.txt", strings.NewReader("hi"))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	rc, err := b.GetObject("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "hi" {
		t.Fatalf("got %q", got)
	}
	// Any other secret is refused.
	wrong, _ := oss.New("http://"+addr, id, secret+"-wrong")
	wb, _ := wrong.Bucket("media")
	var se oss.ServiceError
	if _, err := wb.GetObject("hello.txt"); !errors.As(err, &se) || se.Code != "SignatureDoesNotMatch" {
		t.Fatalf("a wrong secret: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("oss command ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("oss command did not stop on cancel")
	}
}

func TestOSSCommandRejectsBadFlags(t *testing.T) {
	if err := runOSS(context.Background(), []string{"--bucket", "Bad_Name", "--data", t.TempDir()}); err == nil {
		t.Fatal("an invalid bucket name was accepted")
	}
	if err := runOSS(context.Background(), []string{"extra"}); err == nil {
		t.Fatal("a stray argument was accepted")
	}
}
