package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vodfc.dev/local/fcemu"
	"vodfc.dev/vodfc"
)

// refused uploads a file declaring declared bytes (-1: its size) and checks the rule every
// refusal follows: the video ends failed with code, its source is deleted, nothing is
// published, and nobody but the owner learns it exists.
func refused(t *testing.T, clip string, declared int64, code string) {
	t.Helper()
	owner := newUser(t, vodfc.TierFree)
	v := upload(t, owner, clip, declared)
	done, _ := waitDone(t, owner, v.ID)
	if done.Status != "failed" || done.FailureCode != code {
		t.Fatalf("video ended %s with %q, want failed with %q\n%s", done.Status, done.FailureCode, code, recentLog())
	}
	if len(done.Renditions) != 0 || done.CoverURL != "" || done.PlayURL != "" || done.Progress != 0 {
		t.Fatalf("a refused video shows media: %+v", done)
	}
	// The source goes once the refusal is recorded, in the same invocation.
	waitFor(t, "the refused source to be deleted", func() bool { return !sourceExists(t, v.ID) })
	if objs := mediaObjects(t, v.ID); len(objs) != 0 {
		t.Fatalf("a refused video left media: %v", objs)
	}
	expect(t, do(t, anonymous, "GET", "/api/v1/videos/"+v.ID, nil), http.StatusNotFound, "anonymous GET of a failed video")
	expect(t, do(t, owner, "GET", "/api/v1/videos/"+v.ID+"/play", nil), http.StatusConflict, "owner plays a failed video")
	expect(t, do(t, anonymous, "GET", "/api/v1/videos/"+v.ID+"/play", nil), http.StatusNotFound, "anonymous plays a failed video")
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTextFileNamedMP4IsRefusedAsNotAVideo(t *testing.T) {
	refused(t, "text", -1, "not_a_video")
}

func TestEmptyFileIsRefusedAsNotAVideo(t *testing.T) {
	refused(t, "empty", 1000, "not_a_video") // declared 1000 bytes, sent none
}

func TestTruncatedFileIsRefusedAsCorrupt(t *testing.T) {
	refused(t, "truncated", -1, "corrupt")
}

func TestObjectLargerThanDeclaredIsRefusedAsSizeMismatch(t *testing.T) {
	fi, err := os.Stat(clips["small"])
	if err != nil {
		t.Fatal(err)
	}
	refused(t, "small", fi.Size()-1000, "size_mismatch")
}

func TestDeclaredDurationOverTheLimitIsRefusedAsTooLong(t *testing.T) {
	refused(t, "long", -1, "too_long")
}

func TestDimensionsOverTheLimitAreRefusedAsTooLarge(t *testing.T) {
	refused(t, "wide", -1, "too_large")
}

// TestHLSPlaylistNamedMP4IsRefusedWithoutFollowingIt: a playlist that points at a URL and at a
// local file is refused, and the transcoder neither requests the URL nor opens the file.
func TestHLSPlaylistNamedMP4IsRefusedWithoutFollowingIt(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer srv.Close()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.ts")
	if err := os.WriteFile(secret, []byte("TOP-SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	playlist := fmt.Sprintf("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n%s/segment.ts\n#EXTINF:10,\n%s\n#EXTINF:10,\nfile://%s\n#EXT-X-ENDLIST\n",
		srv.URL, secret, secret)
	clips["playlist"] = filepath.Join(dir, "playlist.mp4")
	if err := os.WriteFile(clips["playlist"], []byte(playlist), 0o644); err != nil {
		t.Fatal(err)
	}
	opened := watchOpens(t, secret)
	refused(t, "playlist", -1, "not_a_video")
	if n := hits.Load(); n != 0 {
		t.Fatalf("the playlist's URL was requested %d times", n)
	}
	if n := opened(); n != 0 {
		t.Fatalf("the local file the playlist names was opened %d times", n)
	}
}

// TestSameEventThreeTimesAtOncePublishesOnce delivers one upload's event three times at the
// same moment (OSS's own plus two copies): one delivery claims the video, the others do
// nothing, and exactly one attempt's media exist.
func TestSameEventThreeTimesAtOncePublishesOnce(t *testing.T) {
	owner := newUser(t, vodfc.TierFree)
	data, _ := os.ReadFile(clips["small"])
	v, p := create(t, owner, "dup", int64(len(data)))
	// The presigned PUT fires the first event; two copies of it follow at once.
	if resp := put(t, p.URL, p.Headers, data); resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %s", resp.Status)
	}
	ev := ossEvent(v.ID, int64(len(data)))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := cl.FC.InvokeAsync(context.Background(), "vodfc-transcode", "uploads", ev); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	done, _ := waitDone(t, owner, v.ID)
	if done.Status != "ready" {
		t.Fatalf("ended %s (%s)\n%s", done.Status, done.FailureCode, recentLog())
	}
	// Let every delivery finish, then count what was published.
	waitFor(t, "three transcode invocations for the video", func() bool { return len(invocations(t, v.ID)) >= 3 })
	waitFor(t, "every delivery to finish", func() bool {
		for _, inv := range invocations(t, v.ID) {
			if inv.Status == fcemu.StatusRunning {
				return false
			}
		}
		return true
	})
	for _, inv := range invocations(t, v.ID) {
		if inv.Status != fcemu.StatusSucceeded {
			t.Errorf("a delivery failed: %+v", inv)
		}
	}
	attempts := map[string]bool{}
	for _, k := range mediaObjects(t, v.ID) {
		attempts[strings.Split(k, "/")[2]] = true
	}
	if len(attempts) != 1 {
		t.Fatalf("media of %d attempts: %v", len(attempts), attempts)
	}
	claims := 0
	for _, inv := range invocations(t, v.ID) {
		claims += strings.Count(inv.Log, `"processing claimed"`)
	}
	if claims != 1 {
		t.Fatalf("the video was claimed %d times", claims)
	}
}

// ossEvent is the event OSS sends for an upload of the video's source.
func ossEvent(id string, size int64) []byte {
	ev := map[string]any{"events": []any{map[string]any{
		"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime": time.Now().UTC().Format(time.RFC3339),
		"eventVersion": "1.0", "region": "cn-hangzhou",
		"oss": map[string]any{
			"bucket":           map[string]any{"name": bucket, "arn": "acs:oss:cn-hangzhou:1234567890123456:" + bucket, "ownerIdentity": "1234567890123456"},
			"object":           map[string]any{"key": vodfc.SourceKey(id), "size": size, "deltaSize": size, "eTag": "0"},
			"ossSchemaVersion": "1.0", "ruleId": "uploads",
		},
	}}}
	b, _ := json.Marshal(ev)
	return b
}

// invocations lists the transcode invocations whose log mentions the video.
func invocations(t *testing.T, id string) []fcemu.Invocation {
	t.Helper()
	var out []fcemu.Invocation
	for _, inv := range cl.FC.Invocations("vodfc-transcode", 500) {
		if strings.Contains(inv.Log, id) {
			out = append(out, inv)
		}
	}
	return out
}
