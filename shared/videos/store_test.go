package videos_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
	"vodfc.dev/vodfc/videos"
)

// The store runs the real Tablestore SDK against the emulator in-process: the conditions that
// make processing safe are the service's, not ours.

func newStore(t *testing.T) *videos.Store {
	t.Helper()
	emu, err := otsemu.Open(otsemu.Options{AccessKeyID: "ak", AccessKeySecret: "sk", Instance: "vodfc"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	db, err := tablestore.New(tablestore.Config{Endpoint: "http://ots.local", Instance: "vodfc", Transport: emu.Transport(),
		Credentials: func() (runtime.Credentials, bool) {
			return runtime.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Ensure(context.Background(), tablestore.Schema); err != nil {
		t.Fatal(err)
	}
	return videos.NewStore(db)
}

func newVideo(t *testing.T, s *videos.Store, owner string, vis vodfc.Visibility, at time.Time) *vodfc.Video {
	t.Helper()
	v := &vodfc.Video{ID: vodfc.NewID(), OwnerID: owner, Title: "t", Visibility: vis, Status: vodfc.StatusAwaitingUpload,
		DeclaredSize: 1000, ContentType: "video/mp4", CreatedAt: at, UpdatedAt: at}
	if err := s.Insert(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return v
}

func published(prefix string) videos.Published {
	return videos.Published{Duration: time.Second, Width: 640, Height: 360, MediaPrefix: prefix,
		Renditions: []vodfc.Rendition{{Height: 360, Width: 640, Bandwidth: 1, Playlist: prefix + "360p.m3u8", Media: prefix + "360p.mp4"}}}
}

func TestExactlyOneOfManyRacingDeliveriesClaimsTheVideo(t *testing.T) {
	s := newStore(t)
	v := newVideo(t, s, vodfc.NewID(), vodfc.Public, time.Now())
	var wg sync.WaitGroup
	results := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			results <- s.ClaimProcessing(context.Background(), v.ID, videos.Claim{Attempt: vodfc.NewSortableID(time.Now()), Request: string(rune('a' + i)), At: time.Now()})
		})
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, videos.ErrClaimLost):
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Fatalf("%d deliveries claimed the video", won)
	}
}

func TestAnAttemptThatWasTakenOverCannotWrite(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	v := newVideo(t, s, vodfc.NewID(), vodfc.Public, time.Now())
	now := time.Now()
	if err := s.ClaimProcessing(ctx, v.ID, videos.Claim{Attempt: "old", Request: "r1", At: now.Add(-4 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if req, _ := s.ClaimRequest(ctx, v.ID); req != "r1" {
		t.Fatalf("claim request %q", req)
	}
	// Taking over needs the current holder's attempt id: a guess fails.
	if err := s.ClaimProcessing(ctx, v.ID, videos.Claim{Attempt: "new", Request: "r2", At: now, Replaces: "other"}); !errors.Is(err, videos.ErrClaimLost) {
		t.Fatalf("takeover of the wrong attempt: %v", err)
	}
	if err := s.ClaimProcessing(ctx, v.ID, videos.Claim{Attempt: "new", Request: "r2", At: now, Replaces: "old"}); err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func() error{
		"progress": func() error { return s.SetProgress(ctx, v.ID, "old", 50, now) },
		"publish":  func() error { return s.Publish(ctx, v.ID, "old", published("media/x/old/"), now) },
		"fail":     func() error { return s.Fail(ctx, v.ID, "old", "corrupt", now) },
		"release":  func() error { return s.Release(ctx, v.ID, "old", now) },
	} {
		if err := write(); !errors.Is(err, videos.ErrClaimLost) {
			t.Errorf("the old attempt's %s: %v", name, err)
		}
	}
	if err := s.SetProgress(ctx, v.ID, "new", 40, now); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, v.ID, "new", published("media/x/new/"), now); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, v.ID)
	if got.Status != vodfc.StatusReady || got.Progress != 100 || got.MediaPrefix != "media/x/new/" || got.PublishedAt.IsZero() || len(got.Renditions) != 1 {
		t.Fatalf("published %+v", got)
	}
	// Once published, no attempt writes again.
	if err := s.Fail(ctx, v.ID, "new", "corrupt", now); !errors.Is(err, videos.ErrClaimLost) {
		t.Fatalf("failing a published video: %v", err)
	}
}

func TestReleaseLetsTheNextDeliveryClaim(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	v := newVideo(t, s, vodfc.NewID(), vodfc.Public, time.Now())
	if err := s.ClaimProcessing(ctx, v.ID, videos.Claim{Attempt: "a", Request: "r", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, v.ID, "a", time.Now()); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, v.ID)
	if got.Status != vodfc.StatusAwaitingUpload || got.AttemptID != "" || got.Progress != 0 {
		t.Fatalf("released %+v", got)
	}
	if err := s.ClaimProcessing(ctx, v.ID, videos.Claim{Attempt: "b", Request: "r", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func TestDeletingAVideoEndsItsProcessingClaim(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	v := newVideo(t, s, vodfc.NewID(), vodfc.Public, time.Now())
	if err := s.ClaimProcessing(ctx, v.ID, videos.Claim{Attempt: "a", Request: "r", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.SoftDelete(ctx, v, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, v.ID, "a", published("media/x/a/"), time.Now()); !errors.Is(err, videos.ErrClaimLost) {
		t.Fatalf("publishing a deleted video: %v", err)
	}
	if err := s.SoftDelete(ctx, v, time.Now()); !vodfc.IsCode(err, "video_not_found") {
		t.Fatalf("deleting twice: %v", err)
	}
	other := *v
	other.OwnerID = vodfc.NewID()
	w := newVideo(t, s, v.OwnerID, vodfc.Public, time.Now())
	other.ID = w.ID
	if err := s.SoftDelete(ctx, &other, time.Now()); !vodfc.IsCode(err, "video_not_found") {
		t.Fatalf("deleting someone else's video: %v", err)
	}
}

func TestSessionChangesDoNotOverwriteAnotherDevice(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	v := newVideo(t, s, vodfc.NewID(), vodfc.Public, time.Now())
	if err := s.SetSession(ctx, v.ID, "", videos.Session{UploadID: "u1", PartSize: 100 << 10, PartCount: 3}, time.Now()); err != nil {
		t.Fatal(err)
	}
	// A second device that still believes there is no session loses.
	if err := s.SetSession(ctx, v.ID, "", videos.Session{UploadID: "u2", PartSize: 100 << 10, PartCount: 3}, time.Now()); !vodfc.IsCode(err, "upload_changed") {
		t.Fatalf("overwrote a session: %v", err)
	}
	if err := s.SetSession(ctx, v.ID, "u1", videos.Session{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, v.ID)
	if got.UploadID != "" || got.PartCount != 0 {
		t.Fatalf("session not cleared: %+v", got)
	}
}

// TestListReadsAreBoundedWhenMostVideosAreHidden: a page never scans an unbounded number of
// hidden videos; it may come back short with a cursor, and following cursors finds the rest.
func TestListReadsAreBoundedWhenMostVideosAreHidden(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	owner := vodfc.NewID()
	base := time.Now().Add(-time.Hour)
	public := newVideo(t, s, owner, vodfc.Public, base)
	if err := s.ClaimProcessing(ctx, public.ID, videos.Claim{Attempt: "a", Request: "r", At: base}); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, public.ID, "a", published("media/p/a/"), base); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		newVideo(t, s, owner, vodfc.Private, base.Add(time.Duration(i+1)*time.Second))
	}
	var found []string
	var pos *videos.Position
	pages := 0
	for {
		items, next, err := s.ListOwner(ctx, owner, pos, 2, (*vodfc.Video).Listed)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, v := range items {
			found = append(found, v.ID)
		}
		if next == nil {
			break
		}
		pos = next
		if pages > 40 {
			t.Fatal("the list never ended")
		}
	}
	if len(found) != 1 || found[0] != public.ID || pages < 2 {
		t.Fatalf("found %v in %d pages", found, pages)
	}
	all, next, err := s.ListOwner(ctx, owner, nil, 50, nil)
	if err != nil || len(all) != 41 || next != nil {
		t.Fatalf("all: %d items, next %v, %v", len(all), next, err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.After(all[i-1].CreatedAt) {
			t.Fatal("not newest first")
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	c, err := videos.ConfigFromEnv(func(string) string { return "" })
	if err != nil || c != videos.DefaultConfig() {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	env := map[string]string{"VIDEOS_MAX_UPLOAD_SIZE": "2GiB", "VIDEOS_MULTIPART_THRESHOLD": "100MB", "VIDEOS_PART_SIZE": "8388608", "VIDEOS_UPLOAD_URL_TTL": "5m"}
	c, err = videos.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || c.MaxUploadSize != 2<<30 || c.MultipartThreshold != 100_000_000 || c.PartSize != 8<<20 || c.UploadURLTTL != 5*time.Minute {
		t.Fatalf("%+v %v", c, err)
	}
	for k, bad := range map[string]string{"VIDEOS_MAX_UPLOAD_SIZE": "lots", "VIDEOS_PART_SIZE": "50KiB", "VIDEOS_UPLOAD_URL_TTL": "16m", "VIDEOS_MULTIPART_THRESHOLD": "1MiB"} {
		if _, err := videos.ConfigFromEnv(func(n string) string {
			if n == k {
				return bad
			}
			return ""
		}); err == nil {
			t.Errorf("%s=%s was accepted", k, bad)
		}
	}
}
