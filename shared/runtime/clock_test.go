package runtime

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestNowFollowsTheLocalCloudForwardOnly(t *testing.T) {
	t.Cleanup(func() { localOffset.Store(0) })
	f := &Function{HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	send := func(srv http.Handler, v string) {
		r := httptest.NewRequest("GET", "/api/v1/x", nil)
		if v != "" {
			r.Header.Set("X-Fclocal-Now", v)
		}
		srv.ServeHTTP(httptest.NewRecorder(), r)
	}
	ahead := func() time.Duration { return time.Until(Now()) }
	hourAhead := func() string { return time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano) }

	// Outside the local cloud the header is whatever a client sent: ignored.
	send(NewCustomServer(f), hourAhead())
	if d := ahead(); d > time.Second || d < -time.Second {
		t.Fatalf("a client's header moved the clock %v", d)
	}
	local := &server{f: f, name: "fn", local: true}
	send(local, hourAhead())
	if d := ahead(); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("after a stamp an hour ahead the clock is %v ahead", d)
	}
	// An older stamp (a request that spent long in transit), junk or no header change nothing.
	send(local, time.Now().UTC().Format(time.RFC3339Nano))
	send(local, "yesterday")
	send(local, "")
	if d := ahead(); d < 59*time.Minute {
		t.Fatalf("the clock went back to %v ahead", d)
	}
}

// A go1 function reads the local cloud's clock from its console before each invocation.
func TestSyncLocalClockReadsTheConsole(t *testing.T) {
	t.Cleanup(func() { localOffset.Store(0) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"now":%q,"offset":"1h0m0s"}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano))
	}))
	defer srv.Close()
	syncLocalClock(context.Background(), srv.URL)
	if d := time.Until(Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("after reading a clock an hour ahead, Now is %v ahead", d)
	}
}
