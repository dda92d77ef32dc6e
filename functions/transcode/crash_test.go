package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// transcoderPIDs lists the running instances of the transcode function: children of this test
// process (fcemu runs in it) started from the function's built binary.
func transcoderPIDs(t *testing.T) []int {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	var pids []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if f := strings.Fields(s[i+1:]); i < 0 || len(f) < 2 || f[1] != self {
			continue
		}
		dir := filepath.Dir(st)
		exe, err := os.Readlink(filepath.Join(dir, "exe"))
		if err != nil || !strings.Contains(exe, "vodfc-transcode") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(dir))
		pids = append(pids, pid)
	}
	return pids
}

// TestAKilledTranscoderIsRetriedAndPublishes kills the transcode instance (and with it ffmpeg)
// in the middle of an encode. FC, here fcemu, redelivers the event under the same request id;
// the new instance takes the dead attempt's claim over at once, removes its work directory
// and publishes; nothing of the dead attempt is left.
func TestAKilledTranscoderIsRetriedAndPublishes(t *testing.T) {
	owner := registeredUser(t)
	v := upload(t, owner, "crash", -1)
	var killed []int
	deadline := time.Now().Add(2 * time.Minute)
	for killed == nil {
		var got video
		r := do(t, owner, "GET", "/api/v1/videos/"+v.ID, nil)
		r.json(t, &got)
		if got.Status == "processing" && got.Progress > 5 {
			for _, pid := range transcoderPIDs(t) {
				if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
					killed = append(killed, pid)
				}
			}
			if killed == nil {
				t.Fatal("no transcode instance to kill")
			}
			break
		}
		if got.Status != "processing" && got.Status != "awaiting_upload" || time.Now().After(deadline) {
			t.Fatalf("never caught the encode running: %+v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	done, _ := waitDone(t, owner, v.ID)
	if done.Status != "ready" {
		t.Fatalf("after the crash the video ended %s (%s)\n%s", done.Status, done.FailureCode, recentLog())
	}
	invs := invocations(t, v.ID)
	retried := false
	for _, inv := range invs {
		retried = retried || inv.RetryCount > 0 && strings.Contains(inv.Log, "taking over a processing claim whose attempt died")
	}
	if !retried {
		t.Fatalf("no redelivery took the claim over: %+v", invs)
	}
	attempts := map[string]bool{}
	for _, k := range mediaObjects(t, v.ID) {
		attempts[strings.Split(k, "/")[2]] = true
	}
	if len(attempts) != 1 {
		t.Fatalf("media of %d attempts: %v", len(attempts), attempts)
	}
	tmp := filepath.Join(cl.DataDir, "tmp", "vodfc-transcode")
	for _, pid := range killed {
		if _, err := os.Stat(filepath.Join(tmp, "vodfc-transcode-"+strconv.Itoa(pid))); err == nil {
			t.Errorf("the killed instance's work directory is still there")
		}
	}
}
