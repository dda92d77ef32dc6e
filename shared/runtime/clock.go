package runtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// localOffset is how far the local cloud's clock is ahead of the wall clock, as last seen.
var localOffset atomic.Int64

// Now is the time as the function should see it. In the cloud it is the wall clock. Under the
// local cloud (FCLOCAL=1), whose clock can be moved forward so that months of tiering and
// cleanup pass in seconds, it is that clock: the local cloud stamps every custom-runtime
// request with its time (x-fclocal-now), and a go1 function, whose handler never sees the
// runtime API's headers, reads it from FCLOCAL_CLOCK_URL before each invocation. Now keeps the
// largest offset seen (the clock only moves forward, and a stamp that spent a while in transit
// only understates it). Records a function stamps then agree with the timers' and the
// emulators' idea of now.
//
// Access tokens are the exception: they are checked against the wall clock everywhere.
func Now() time.Time {
	return time.Now().Add(time.Duration(localOffset.Load()))
}

const hLocalNow = "X-Fclocal-Now"

// followLocalClock moves Now forward to the local cloud's time in h, if h carries one. Only a
// server started under the local cloud calls it: in the cloud the header would be whatever a
// client sent.
func followLocalClock(h http.Header) {
	v := h.Get(hLocalNow)
	if v == "" {
		return
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		advanceLocalClock(t)
	}
}

// syncLocalClock reads the local cloud's time from url (its console's GET /_local/clock).
func syncLocalClock(ctx context.Context, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		slog.WarnContext(ctx, "reading the local clock failed", "err", err)
		return
	}
	defer resp.Body.Close()
	var v struct {
		Now time.Time `json:"now"`
	}
	if json.NewDecoder(resp.Body).Decode(&v) == nil && !v.Now.IsZero() {
		advanceLocalClock(v.Now)
	}
}

// advanceLocalClock moves Now forward to t, never back.
func advanceLocalClock(t time.Time) {
	off := int64(time.Until(t))
	for {
		cur := localOffset.Load()
		if off <= cur || localOffset.CompareAndSwap(cur, off) {
			return
		}
	}
}
