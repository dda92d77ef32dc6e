package accounts

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestLocalClockFollowsTheCloudForwardOnly(t *testing.T) {
	var c LocalClock
	h := c.Follow(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	send := func(v string) {
		r := httptest.NewRequest("GET", "/", nil)
		if v != "" {
			r.Header.Set("X-Fclocal-Now", v)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	ahead := func() time.Duration { return time.Until(c.Now()) }
	if d := ahead(); d > time.Second || d < -time.Second {
		t.Fatalf("a fresh clock is %v off", d)
	}
	send(time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano))
	if d := ahead(); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("after a header an hour ahead the clock is %v ahead", d)
	}
	// An older stamp (a request that spent long in transit), junk or no header change nothing.
	send(time.Now().UTC().Format(time.RFC3339Nano))
	send("yesterday")
	send("")
	if d := ahead(); d < 59*time.Minute {
		t.Fatalf("the clock went back to %v ahead", d)
	}
}
