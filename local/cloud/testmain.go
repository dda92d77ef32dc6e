package cloud

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Log keeps what the cloud and its functions print (set it as Options.Log), safely for the
// many goroutines writing, so that a failed test can show what the functions said.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Tail is about the last n bytes, from the start of a line.
func (l *Log) Tail(n int) string {
	s := l.String()
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// Tests is what RunTests needs of a *testing.M (this package does not import testing).
type Tests interface{ Run() int }

// RunTests is the body of an end-to-end test package's TestMain: one cloud for the whole
// package (starting one is the slow part), started from opts, prepared by setup (which may be
// nil: it usually keeps the cloud in a package variable and makes clients), then the tests,
// then Close. When anything failed it prints the tail of the cloud's log, which is where a
// function's side of a failure is told. It returns the exit code for os.Exit.
func RunTests(m Tests, opts Options, setup func(*Cloud) error) int {
	log, ok := opts.Log.(*Log)
	if opts.Log == nil {
		log, ok = &Log{}, true
		opts.Log = log
	}
	tail := func() string {
		if !ok {
			return "(the log went to Options.Log)\n"
		}
		return log.Tail(40 << 10)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	c, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local cloud: %v\n%s", err, tail())
		return 1
	}
	code := 1
	if setup == nil {
		code = m.Run()
	} else if err := setup(c); err != nil {
		fmt.Fprintf(os.Stderr, "preparing the tests: %v\n", err)
	} else {
		code = m.Run()
	}
	if err := c.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "closing the local cloud: %v\n", err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- local cloud log (tail) ---\n%s", tail())
	}
	return code
}
