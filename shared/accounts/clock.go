package accounts

import (
	"net/http"
	"sync/atomic"
	"time"
)

// LocalClock follows the local cloud's shiftable clock, so moving it forward
// (POST /_local/clock) ages codes and sessions as it ages objects, rows and limits. The local
// cloud stamps every invocation with its time in the x-fclocal-now header; the clock keeps
// the largest offset seen from it (the cloud's clock only moves forward, and a header that
// spent a while in transit only understates it).
//
// Wire it only when FCLOCAL=1: in the cloud the header would be whatever a client sent.
// Access tokens keep real time: every other function checks them against its own clock.
type LocalClock struct {
	offset atomic.Int64 // nanoseconds ahead of the wall clock
}

// Now is the local cloud's time as last seen.
func (c *LocalClock) Now() time.Time {
	return time.Now().Add(time.Duration(c.offset.Load()))
}

// Follow is middleware that reads each request's x-fclocal-now.
func (c *LocalClock) Follow(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("X-Fclocal-Now"); v != "" {
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				off := int64(time.Until(t))
				for {
					cur := c.offset.Load()
					if off <= cur || c.offset.CompareAndSwap(cur, off) {
						break
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
