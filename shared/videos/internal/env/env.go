// Package env reads the video pipeline's settings from environment variables, collecting every
// mistake so that a misconfigured function stops at start-up with one message naming them all.
package env

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reader reads variables through getenv and remembers what was wrong.
type Reader struct {
	getenv func(string) string
	errs   []error
}

// New returns a reader over getenv (os.Getenv in functions, a map in tests).
func New(getenv func(string) string) *Reader { return &Reader{getenv: getenv} }

// Err is every problem met so far, or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

// Fail records a problem found by the caller's own checks.
func (r *Reader) Fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// String returns the variable, or def when it is unset or empty.
func (r *Reader) String(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

// Duration reads a Go duration ("15m", "2h30m").
func (r *Reader) Duration(name string, def time.Duration) time.Duration {
	v := r.String(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.Fail(name, "%q is not a positive duration such as 15m or 2h", v)
		return def
	}
	return d
}

// Bool reads true/false (also 1/0, yes/no).
func (r *Reader) Bool(name string, def bool) bool {
	switch v := strings.ToLower(r.String(name, "")); v {
	case "":
		return def
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	default:
		r.Fail(name, "%q is not true or false", v)
		return def
	}
}

// Int reads a positive integer.
func (r *Reader) Int(name string, def int) int {
	v := r.String(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		r.Fail(name, "%q is not a positive integer", v)
		return def
	}
	return n
}

var units = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1000}, {"MB", 1000_000}, {"GB", 1000_000_000}, {"TB", 1000_000_000_000},
	{"B", 1},
}

// Size reads a byte count: a plain number of bytes or one with a unit (64MiB, 4GiB, 500KB).
func (r *Reader) Size(name string, def int64) int64 {
	v := r.String(name, "")
	if v == "" {
		return def
	}
	n, err := ParseSize(v)
	if err != nil {
		r.Fail(name, "%v", err)
		return def
	}
	return n
}

// ParseSize reads a byte count such as "64MiB", "4GiB", "500KB" or "1048576".
func ParseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a positive size such as 64MiB, 4GiB or a number of bytes", s)
	}
	return n * mult, nil
}
