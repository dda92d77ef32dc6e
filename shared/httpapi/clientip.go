package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"vodfc.dev/vodfc/runtime"
)

// ClientIP returns the address of the client that sent r, as the platform saw it, for limits.
//
// proxyHops is the number of trusted proxies in front of the function that each append the
// address they received the request from to X-Forwarded-For. FC's custom runtime forwards an
// HTTP trigger request from its own front end, which appends the client's address, and the
// local cloud's fcemu does the same: proxyHops 1 takes the last entry, the one FC wrote;
// anything before it is whatever the client sent and is never trusted. Behind a CDN or load
// balancer that also appends, use 2. On FC's go1 runtime and on Lambda the platform hands the
// source address over in the event and the runtime adapter puts it in RemoteAddr: proxyHops 0.
//
// IPv6 clients are counted by their /64, the block one subscriber usually gets, or each
// could step through 2^64 addresses to escape a per-IP limit.
func ClientIP(r *http.Request, proxyHops int) string {
	ip := remoteIP(r.RemoteAddr)
	if proxyHops > 0 {
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			for _, h := range strings.Split(v, ",") {
				hops = append(hops, strings.TrimSpace(h))
			}
		}
		if len(hops) >= proxyHops {
			if a, err := netip.ParseAddr(hops[len(hops)-proxyHops]); err == nil {
				ip = a
			}
		}
	}
	if !ip.IsValid() {
		return "unknown"
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

func remoteIP(remoteAddr string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a
}

// ProxyHopsFromEnv reads TRUSTED_PROXY_HOPS, the number of proxies in front of the function
// that append to X-Forwarded-For (see ClientIP): by default 1 under FC's custom runtime, whose
// front end forwards HTTP triggers (the local cloud's fcemu does the same), and 0 elsewhere,
// where the platform hands the address over in the event.
func ProxyHopsFromEnv(getenv func(string) string) (int, error) {
	v := getenv("TRUSTED_PROXY_HOPS")
	if v == "" {
		if runtime.Detect(getenv) == runtime.PlatformFCCustom {
			return 1, nil
		}
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 10 {
		return 0, fmt.Errorf("TRUSTED_PROXY_HOPS=%q: want a number of proxies, 0 to 10", v)
	}
	return n, nil
}
