package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// listValues cleans the values of a list flag (--mission, --capability):
// comma-separated or repeated, trimmed, empty ones dropped, duplicates
// removed, order kept.
func listValues(vals []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range vals {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t != "" && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// fetchAllow turns --allow-fetch-host values into the prefixes the LIP
// fetcher may reach although they are private or loopback: an IP (one
// address), a CIDR, or a host name (each address it resolves to now; a
// name that later resolves elsewhere is not covered).
func fetchAllow(ctx context.Context, vals []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vals {
		v = strings.TrimSpace(v)
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(v); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		if v == "" || strings.ContainsAny(v, "/:") {
			return nil, fmt.Errorf("--allow-fetch-host %q: want an IP, a CIDR or a host name", v)
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", v)
		cancel()
		if err != nil || len(addrs) == 0 {
			return nil, fmt.Errorf("--allow-fetch-host %q: not an IP or CIDR, and it does not resolve: %v", v, err)
		}
		for _, a := range addrs {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out, nil
}
