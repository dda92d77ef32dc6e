package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	for _, tc := range []struct {
		remote string
		xff    []string
		hops   int
		want   string
	}{
		{"203.0.113.7:5555", nil, 0, "203.0.113.7"},
		{"203.0.113.7:5555", []string{"198.51.100.1"}, 0, "203.0.113.7"}, // hops 0 believes no header
		{"10.0.0.1:80", []string{"198.51.100.1"}, 1, "198.51.100.1"},
		// A client's own X-Forwarded-For comes first; FC appends the real address last.
		{"10.0.0.1:80", []string{"1.2.3.4, 198.51.100.1"}, 1, "198.51.100.1"},
		{"10.0.0.1:80", []string{"1.2.3.4", "198.51.100.1"}, 1, "198.51.100.1"},
		{"10.0.0.1:80", []string{"1.2.3.4, 198.51.100.1, 192.0.2.9"}, 2, "198.51.100.1"},
		// Too few entries or garbage where the trusted proxy writes: fall back to the peer.
		{"10.0.0.1:80", nil, 1, "10.0.0.1"},
		{"10.0.0.1:80", []string{"junk"}, 1, "10.0.0.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", nil, 0, "2001:db8:1:2::/64"},
		{"10.0.0.1:80", []string{"2001:db8:1:2:ffff::1"}, 1, "2001:db8:1:2::/64"},
		{"10.0.0.1:80", []string{"::ffff:198.51.100.1"}, 1, "198.51.100.1"},
		{"", nil, 0, "unknown"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ClientIP(r, tc.hops); got != tc.want {
			t.Errorf("ClientIP(%q, %q, %d) = %q, want %q", tc.remote, tc.xff, tc.hops, got, tc.want)
		}
	}
}

func TestProxyHopsFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want int
		bad  bool
	}{
		{map[string]string{}, 0, false},                         // dev mode: RemoteAddr is the client
		{map[string]string{"FC_SERVER_PORT": "9000"}, 1, false}, // FC's front end appends the client
		{map[string]string{"FC_SERVER_PORT": "9000", "TRUSTED_PROXY_HOPS": "2"}, 2, false},
		{map[string]string{"TRUSTED_PROXY_HOPS": "-1"}, 0, true},
		{map[string]string{"TRUSTED_PROXY_HOPS": "many"}, 0, true},
	} {
		got, err := ProxyHopsFromEnv(func(k string) string { return tc.env[k] })
		if (err != nil) != tc.bad || !tc.bad && got != tc.want {
			t.Errorf("%v: %d %v, want %d (bad %v)", tc.env, got, err, tc.want, tc.bad)
		}
	}
}
