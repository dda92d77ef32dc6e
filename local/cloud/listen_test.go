package cloud

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestListensOnLoopbackOnly: the local cloud holds dev credentials and has no auth of its own,
// so an address off loopback is refused, for the gateway as for every emulator.
func TestListensOnLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "127.0.0.1:8080",
		":0":             "127.0.0.1:0",
		"localhost:9100": "127.0.0.1:9100",
		"[::1]:9200":     "[::1]:9200",
	} {
		if got, err := loopback(addr); err != nil || got != want {
			t.Errorf("loopback(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	for _, addr := range []string{"0.0.0.0:8080", "[::]:8080", "192.0.2.1:8080", "example.com:80", "8080"} {
		if got, err := loopback(addr); err == nil {
			t.Errorf("loopback(%q) accepted as %q", addr, got)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, set := range []func(*Options){
		func(o *Options) { o.Addr = "0.0.0.0:0" },
		func(o *Options) { o.OSSAddr = "0.0.0.0:0" },
		func(o *Options) { o.RedisAddr = "0.0.0.0:0" },
	} {
		opts := testOptions([]string{"sink"})
		set(&opts)
		c, err := Start(ctx, opts)
		if err == nil {
			c.Close()
			t.Fatalf("started listening off loopback: %+v", c.Endpoints())
		}
		if !strings.Contains(err.Error(), "loopback only") {
			t.Errorf("error does not say why: %v", err)
		}
	}
}
