package env

import (
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "64MiB": 64 << 20, "4GiB": 4 << 30, "500KB": 500_000, " 2 GiB ": 2 << 30, "10B": 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "1.5GiB", "lots", "GiB", "9999999999TiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestReaderCollectsEveryMistake(t *testing.T) {
	env := map[string]string{"A": "soon", "B": "maybe", "C": "-3", "D": "12MiB", "E": "90s"}
	r := New(func(k string) string { return env[k] })
	r.Duration("A", time.Second)
	r.Bool("B", true)
	r.Int("C", 1)
	if r.Size("D", 0) != 12<<20 || r.Duration("E", 0) != 90*time.Second || r.String("F", "def") != "def" {
		t.Fatal("good values misread")
	}
	err := r.Err()
	for _, name := range []string{"A:", "B:", "C:"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s missing from %v", name, err)
		}
	}
}
