package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"vodfc.dev/local/ossemu"
	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/oss"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
	"vodfc.dev/vodfc/videos/transcode"
)

// backend is the storage the transcode function talks to: the OSS emulator over loopback
// HTTP (with its default fsync'd writes) and the Tablestore emulator, both through the real
// SDKs, started once for all rounds.
var backend struct {
	once  sync.Once
	err   error
	store *videos.Store
	media *oss.Store
	dir   string
}

func startBackend(work string) error {
	backend.once.Do(func() {
		creds := func() (runtime.Credentials, bool) {
			return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
		}
		backend.dir = filepath.Join(filepath.Dir(work), "backend")
		ots, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc", DataDir: filepath.Join(backend.dir, "ots")})
		if err != nil {
			backend.err = err
			return
		}
		db, err := tablestore.New(tablestore.Config{Endpoint: "http://ots.local", Instance: "vodfc", Transport: ots.Transport(), Credentials: creds})
		if err != nil {
			backend.err = err
			return
		}
		if _, err := db.Ensure(context.Background(), tablestore.Schema); err != nil {
			backend.err = err
			return
		}
		emu, err := ossemu.Open(ossemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", DataDir: filepath.Join(backend.dir, "oss"), Buckets: []string{"media"}})
		if err != nil {
			backend.err = err
			return
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			backend.err = err
			return
		}
		go http.Serve(ln, emu)
		backend.store = videos.NewStore(db)
		backend.media, backend.err = oss.New(oss.Config{Endpoint: "http://" + ln.Addr().String(), Bucket: "media", Region: "cn-hangzhou", Credentials: creds})
	})
	return backend.err
}

// setupFunction prepares one run of the transcode function: a video awaiting its upload whose
// source is already in the bucket, as after the owner's PUT. The timed part is the function's
// handling of the upload event.
func setupFunction(ctx context.Context, e env) (func(context.Context) error, error) {
	if err := startBackend(e.work); err != nil {
		return nil, err
	}
	fi, err := os.Stat(e.source)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	v := &vodfc.Video{ID: vodfc.NewID(), OwnerID: vodfc.NewID(), Title: "bench", Visibility: vodfc.Public, Status: vodfc.StatusAwaitingUpload,
		ContentType: "video/mp4", DeclaredSize: fi.Size(), CreatedAt: now, UpdatedAt: now}
	if err := backend.store.Insert(ctx, v); err != nil {
		return nil, err
	}
	if err := backend.media.PutFile(ctx, vodfc.SourceKey(v.ID), e.source, oss.PutOptions{ContentType: "video/mp4"}); err != nil {
		return nil, err
	}
	cfg := transcode.DefaultConfig()
	cfg.WorkDir = e.work
	cfg.Encode = e.opts
	p := transcode.New(backend.store, backend.media, e.tools, cfg)
	ev := runtime.ObjectEvent{Bucket: "media", Key: vodfc.SourceKey(v.ID), Size: fi.Size(), Name: "ObjectCreated:PutObject", Time: now}
	return func(ctx context.Context) error {
		inv := runtime.WithInvocation(ctx, &runtime.Invocation{RequestID: "bench-" + v.ID, FunctionName: "vodfc-transcode"})
		if err := p.Handle(inv, ev); err != nil {
			return err
		}
		got, err := backend.store.Get(ctx, v.ID)
		if err != nil {
			return err
		}
		if got.Status != vodfc.StatusReady {
			return fmt.Errorf("the video ended %s (%s)", got.Status, got.FailureCode)
		}
		return nil
	}, nil
}
