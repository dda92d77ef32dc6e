package runtime

import (
	"net/http"
	"sync/atomic"
	"time"
)

// localOffset is how far the local cloud's clock is ahead of the wall clock, as last seen.
var localOffset atomic.Int64

// Now is the time as the function should see it. In the cloud it is the wall clock. Under the
// local cloud (FCLOCAL=1), whose clock can be moved forward so that months of tiering and
// cleanup pass in seconds, it is that clock: the local cloud stamps every custom-runtime
// request with its time (x-fclocal-now) and Now keeps the largest offset seen (the clock only
// moves forward, and a header that spent a while in transit only understates it). Records a
// function stamps then agree with the timers' and the emulators' idea of now.
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
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return
	}
	off := int64(time.Until(t))
	for {
		cur := localOffset.Load()
		if off <= cur || localOffset.CompareAndSwap(cur, off) {
			return
		}
	}
}
