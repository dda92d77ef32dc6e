package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vodfc.dev/local/otsemu"
	"vodfc.dev/vodfc/tablestore"
)

// TestViewsSurviveARollupKilledMidFlush: many sessions watch many videos; the rollup binary
// is killed with SIGKILL half way through applying the views, then the timer runs it again.
// Every video ends with exactly the views its sessions earned, in its row and its daily stats.
func TestViewsSurviveARollupKilledMidFlush(t *testing.T) {
	const nVideos, sessions = 600, 2
	ctx := context.Background()
	vids := make([]string, nVideos)
	for i := range vids {
		vids[i] = newVideo(t, "owner")
	}
	beat := func(pos int) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for i, vid := range vids {
			for s := range sessions {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					body := map[string]any{"session_id": fmt.Sprintf("sess-%04d-%d", i, s), "position_s": pos}
					if code, b := retrying(t, "POST", api("/api/v1/videos/"+vid+"/views"), "", body); code != 200 {
						t.Errorf("heartbeat: %d %s", code, b)
					}
				}()
			}
		}
		wg.Wait()
	}
	beat(0)
	// A view counts after 10 s of heartbeats, judged by the Redis server's clock.
	time.Sleep(10500 * time.Millisecond)
	beat(11)
	if t.Failed() {
		return
	}

	// Run the real rollup binary by hand and kill it once it reports its first applied chunk.
	// Busy faults on BatchWriteRow slow each chunk down so the kill lands between chunks.
	bins, _ := filepath.Glob(filepath.Join(cl.DataDir, "bin", fnRollup, "*"))
	if len(bins) != 1 {
		t.Fatalf("rollup binary: %v", bins)
	}
	port := freePort(t)
	cmd := exec.Command(bins[0])
	cmd.Env = append(os.Environ(), "PORT="+port, "FCLOCAL=1", "OTS_ENDPOINT="+cl.OTSEndpoint, "OTS_INSTANCE="+cl.OTSInstance,
		"REDIS_ADDR="+cl.RedisAddr, "ALIBABA_CLOUD_ACCESS_KEY_ID="+cl.Credentials.AccessKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET="+cl.Credentials.AccessKeySecret, "ROLLUP_BUDGET=60s")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	cl.Tablestore().SetFaults(otsemu.Faults{Rate: 0.5, Actions: []string{"BatchWriteRow"}})
	killed := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "flush chunk applied") {
				cmd.Process.Kill() // SIGKILL: no deferred cleanup, no preStop
				killed <- sc.Text()
				return
			}
		}
		killed <- ""
	}()
	invoked := make(chan error, 1)
	go func() {
		for range 100 { // the dev server needs a moment to listen
			code, b := do(t, "POST", "http://127.0.0.1:"+port+"/invoke", "", map[string]string{"triggerName": "every2min", "triggerTime": time.Now().UTC().Format(time.RFC3339)})
			if code != 0 {
				invoked <- fmt.Errorf("the run finished before it was killed: %d %s", code, b)
				return
			}
			if strings.Contains(string(b), "EOF") || strings.Contains(string(b), "reset") {
				invoked <- nil // killed mid-request
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		invoked <- fmt.Errorf("the rollup dev server never answered")
	}()
	select {
	case line := <-killed:
		if line == "" {
			t.Fatal("rollup exited without applying a chunk")
		}
	case <-time.After(90 * time.Second):
		t.Fatal("rollup never applied a chunk")
	}
	cmd.Wait()
	if err := <-invoked; err != nil {
		t.Fatal(err)
	}
	cl.Tablestore().SetFaults(otsemu.Faults{})

	counted := 0
	for _, vid := range vids {
		switch v := counts(t, vid).Views; v {
		case sessions:
			counted++
		case 0:
		default:
			t.Fatalf("video %s has %d views after the kill", vid, v)
		}
	}
	if counted == 0 || counted == nVideos {
		t.Fatalf("the kill did not land mid-flush: %d of %d videos flushed", counted, nVideos)
	}
	t.Logf("killed with %d of %d videos flushed", counted, nVideos)

	// The timer runs it again, through the emulated go1 runtime.
	fireRollup(t)
	for _, vid := range vids {
		if v := counts(t, vid).Views; v != sessions {
			t.Fatalf("video %s: %d views, want %d", vid, v, sessions)
		}
		// Summed over the video's days: the heartbeats may straddle a UTC midnight.
		var daily int64
		err := db.Scan(ctx, tablestore.VideoStatsDaily.Name, tablestore.Range{
			Start: tablestore.K("video_id", vid, "day", tablestore.Min),
			End:   tablestore.K("video_id", vid, "day", tablestore.Max),
		}, func(r *tablestore.Row) error {
			daily += r.Int("views")
			return nil
		})
		if err != nil || daily != sessions {
			t.Fatalf("video %s daily stats: %d views, want %d (%v)", vid, daily, sessions, err)
		}
	}
	// A third run finds nothing to do and changes nothing.
	fireRollup(t)
	if v := counts(t, vids[0]).Views; v != sessions {
		t.Fatalf("a rerun changed the views: %d", v)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}
