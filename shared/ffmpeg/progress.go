package ffmpeg

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"
)

// readProgress parses ffmpeg's -progress output (blocks of key=value lines, each ended by
// progress=continue or progress=end) until r ends, calling cb once per block. It always
// drains r, so ffmpeg never blocks on a full pipe, and never reports 100 percent: only the
// caller knows when the whole result is ready.
func readProgress(r io.Reader, duration time.Duration, cb func(Progress)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	var (
		cur  Progress
		last float64
	)
	cur.Duration = duration
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		switch key {
		case "out_time_us":
			if us, err := strconv.ParseInt(value, 10, 64); err == nil && us >= 0 {
				cur.Processed = time.Duration(us) * time.Microsecond
			}
		case "speed":
			if v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), "x"), 64); err == nil && v >= 0 {
				cur.Speed = v
			}
		case "progress":
			if cb == nil {
				continue
			}
			pct := 0.0
			if duration > 0 {
				pct = 100 * float64(cur.Processed) / float64(duration)
			}
			// Capped below 100 and never falling back: out_time is the furthest output's
			// timestamp and can jitter between blocks.
			pct = min(max(pct, last), 99)
			last = pct
			cur.Percent = pct
			cb(cur)
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// Throttle wraps f so that it sees at most one report per interval, plus always the final
// Done report: what a caller writing progress to a database wants, since Transcode reports
// every Options.ProgressInterval. The wrapper is for one Transcode (it is not safe for
// concurrent use, which Transcode never needs).
func Throttle(every time.Duration, f func(Progress)) func(Progress) {
	var last time.Time
	return func(p Progress) {
		now := time.Now()
		if p.Done || last.IsZero() || now.Sub(last) >= every {
			last = now
			f(p)
		}
	}
}
