package policy

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ParsePrefixes parses CIDRs ("10.0.0.0/8") and bare addresses (a /32 or
// /128), naming the entry that is wrong.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("policy: %q is neither a CIDR (10.0.0.0/8) nor an IP address", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func containsAddr(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP decides the client's address. Without trusted proxies it is the
// connection's peer and X-Forwarded-For is ignored (anyone can send it).
// When the peer is a trusted proxy, X-Forwarded-For is read from the right,
// skipping trusted proxies; the first address that is not one is the client.
// An entry that is not a bare IP address ("1.2.3.4:80", "[fd00::1]", a
// name) makes the client unknown (an invalid address, which IPFilter
// refuses): failing closed, since counting the proxy itself as the client
// would hand a forger the proxy's standing. An IPv6 zone ("fd00::1%eth0")
// is dropped, so that a zone cannot take an address out of the networks
// it belongs to.
func ClientIP(trusted []netip.Prefix) Policy {
	return func(next http.Handler) http.Handler {
		if len(trusted) == 0 {
			return next // withInfo already took the peer address
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r, info := withInfo(r)
			if info.ClientIP.IsValid() && containsAddr(trusted, info.ClientIP) {
				info.ClientIP = forwardedClient(r.Header.Values("X-Forwarded-For"), trusted, info.ClientIP)
			}
			next.ServeHTTP(w, r)
		})
	}
}

func forwardedClient(values []string, trusted []netip.Prefix, peer netip.Addr) netip.Addr {
	client := peer
	for i := len(values) - 1; i >= 0; i-- {
		hops := strings.Split(values[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[j]))
			if err != nil {
				return netip.Addr{}
			}
			client = a.Unmap().WithZone("")
			if !containsAddr(trusted, client) {
				return client
			}
		}
	}
	return client
}

// ClientAddr is the client's address: info's (trusted-proxy aware) when
// info is not nil and knows it, else r's connection peer; invalid when
// neither parses.
func ClientAddr(r *http.Request, info *Info) netip.Addr {
	if info != nil && info.ClientIP.IsValid() {
		return info.ClientIP
	}
	ap, _ := netip.ParseAddrPort(r.RemoteAddr)
	return ap.Addr().Unmap()
}

// ClientAddrString is ClientAddr as text, or r.RemoteAddr when it is
// invalid.
func ClientAddrString(r *http.Request, info *Info) string {
	if a := ClientAddr(r, info); a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
}
