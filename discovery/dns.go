package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// maxSRVTargets bounds the SRV targets resolved per lookup: each is a DNS
// query of its own, and the answer comes from whoever controls the zone.
const maxSRVTargets = 256

// DNSTarget is a parsed dns: target, in grpc-go's syntax
// dns:[//server/]host[:port].
type DNSTarget struct {
	// Server is the DNS server to ask, host:port; empty: the system's.
	Server string
	// Host is the name to resolve.
	Host string
	// Port is the port of the A/AAAA answers; 0 when the target has none
	// (SRV targets take their ports from the answer).
	Port int
}

// ParseDNSTarget parses "dns:[//server/]host[:port]". With srv the port
// must be absent (SRV answers carry it); without, it is required.
func ParseDNSTarget(target string, srv bool) (DNSTarget, error) {
	rest, ok := strings.CutPrefix(target, "dns:")
	if !ok {
		return DNSTarget{}, fmt.Errorf("discovery: dns target %q must start with dns:", target)
	}
	var t DNSTarget
	if auth, ok := strings.CutPrefix(rest, "//"); ok {
		server, name, found := strings.Cut(auth, "/")
		if !found {
			return DNSTarget{}, fmt.Errorf("discovery: dns target %q: want dns:///host:port or dns://server:53/host:port", target)
		}
		if server != "" {
			if _, _, err := net.SplitHostPort(server); err != nil {
				server = net.JoinHostPort(server, "53")
			}
			t.Server = server
		}
		rest = name
	}
	t.Host = rest
	if h, p, err := net.SplitHostPort(rest); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return DNSTarget{}, fmt.Errorf("discovery: dns target %q: port must be 1-65535", target)
		}
		t.Host, t.Port = h, n
	}
	switch {
	case t.Host == "" || strings.ContainsAny(t.Host, "/ "):
		return DNSTarget{}, fmt.Errorf("discovery: dns target %q: no host name", target)
	case srv && t.Port != 0:
		return DNSTarget{}, fmt.Errorf("discovery: dns target %q: an SRV name takes no port (the answer gives each target's)", target)
	case !srv && t.Port == 0:
		return DNSTarget{}, fmt.Errorf("discovery: dns target %q: needs a port, dns:///host:port (or srv for SRV records)", target)
	}
	return t, nil
}

// Resolver returns a resolver that asks t.Server, or nil for the system's.
func (t DNSTarget) Resolver() *net.Resolver {
	if t.Server == "" {
		return nil
	}
	var d net.Dialer
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, t.Server)
	}}
}

// DNSOptions configures a DNS source.
type DNSOptions struct {
	// Target is what to resolve; Host and, without SRV, Port required.
	Target DNSTarget
	// SRV looks Target.Host up as an SRV name and resolves each target
	// of the answer (A and AAAA) with the answer's port; otherwise
	// Target.Host's A and AAAA records are used with Target.Port.
	SRV bool
	// Resolver asks DNS; default: Target.Resolver(), else net.DefaultResolver.
	Resolver *net.Resolver
	// Interval is how often the name is resolved again; default 30s.
	Interval time.Duration
	// MinInterval is the least time between two lookups however often
	// ResolveNow asks; default 1s (or Interval when that is shorter).
	MinInterval time.Duration
	// Timeout bounds one lookup (with its SRV targets); default 5s.
	Timeout time.Duration
	// Logger receives one line per change of state (errors, recoveries).
	Logger zerolog.Logger
}

// DNS follows a name's addresses: re-resolved every Interval and whenever
// ResolveNow asks (grpc-go asks when a connection to an endpoint fails),
// keeping the last good answer when a lookup fails. A Kubernetes headless
// service is such a name: one A record (and SRV target) per ready pod.
// Immutable after NewDNS but for its ResolveNow signal; safe for
// concurrent use.
type DNS struct {
	opts DNSOptions
	now  chan struct{} // a ResolveNow, coalesced
}

// NewDNS validates opts and fills defaults.
func NewDNS(opts DNSOptions) (*DNS, error) {
	if opts.Target.Host == "" {
		return nil, errors.New("discovery: dns source needs a host name")
	}
	if !opts.SRV && (opts.Target.Port < 1 || opts.Target.Port > 65535) {
		return nil, errors.New("discovery: dns source needs a port 1-65535 (or SRV)")
	}
	if opts.Resolver == nil {
		opts.Resolver = opts.Target.Resolver()
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.Interval <= 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.MinInterval <= 0 {
		opts.MinInterval = min(time.Second, opts.Interval)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	return &DNS{opts: opts, now: make(chan struct{}, 1)}, nil
}

func (d *DNS) String() string {
	kind, name := "A/AAAA", net.JoinHostPort(d.opts.Target.Host, strconv.Itoa(d.opts.Target.Port))
	if d.opts.SRV {
		kind, name = "SRV", d.opts.Target.Host
	}
	if d.opts.Target.Server != "" {
		name += " @" + d.opts.Target.Server
	}
	return "dns(" + kind + " " + name + ")"
}

// ResolveNow asks for a lookup as soon as MinInterval allows. It never
// blocks.
func (d *DNS) ResolveNow() {
	select {
	case d.now <- struct{}{}:
	default:
	}
}

// Watch resolves the name at once, then every Interval and on ResolveNow,
// until ctx is done. It pushes the first answer and then only answers
// that differ. A failed lookup (the server unreachable, an error answer,
// a name that no longer resolves) pushes the last good set once with Err,
// so callers keep serving it, and is retried with backoff up to Interval;
// the first good answer after failures is pushed even when unchanged.
func (d *DNS) Watch(ctx context.Context, push func(Update)) {
	var (
		last     []Endpoint
		known    bool
		failures int
		lookedUp time.Time
	)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-d.now:
			if wait := d.opts.MinInterval - time.Since(lookedUp); wait > 0 {
				if !sleep(ctx, wait) {
					return
				}
			}
			timer.Stop()
		}
		lookedUp = time.Now()
		eps, err := d.lookup(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			if failures == 1 {
				d.opts.Logger.Warn().Err(err).Str("source", d.String()).Msg("dns lookup failed; keeping the last good answer")
				push(Update{Endpoints: slices.Clone(last), Err: err})
			}
			timer.Reset(backoff(d.opts.MinInterval, d.opts.Interval, failures))
			continue
		}
		if failures > 0 {
			d.opts.Logger.Info().Str("source", d.String()).Msg("dns answers again")
		}
		if !known || failures > 0 || !sameEndpoints(last, eps) {
			push(Update{Endpoints: slices.Clone(eps)})
		}
		last, known, failures = eps, true, 0
		timer.Reset(d.opts.Interval)
	}
}

// lookup is one resolution: the endpoints sorted by address, one each.
func (d *DNS) lookup(ctx context.Context) ([]Endpoint, error) {
	eps, err := d.resolve(ctx)
	if err != nil && d.opts.Target.Server != "" {
		// Go's error names the system's server even when another is dialed.
		err = fmt.Errorf("%w (asking %s)", err, d.opts.Target.Server)
	}
	return eps, err
}

func (d *DNS) resolve(ctx context.Context) ([]Endpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	var eps []Endpoint
	if !d.opts.SRV {
		ips, err := d.opts.Resolver.LookupNetIP(ctx, "ip", d.opts.Target.Host)
		if err != nil {
			return nil, fmt.Errorf("discovery: dns lookup of %s: %w", d.opts.Target.Host, err)
		}
		for _, ip := range ips {
			eps = append(eps, Endpoint{Addr: netip.AddrPortFrom(ip.Unmap(), uint16(d.opts.Target.Port)).String()})
		}
	} else {
		_, srvs, err := d.opts.Resolver.LookupSRV(ctx, "", "", d.opts.Target.Host)
		if err != nil {
			return nil, fmt.Errorf("discovery: dns SRV lookup of %s: %w", d.opts.Target.Host, err)
		}
		if len(srvs) > maxSRVTargets {
			d.opts.Logger.Warn().Str("source", d.String()).Int("kept", maxSRVTargets).Int("answered", len(srvs)).Msg("too many SRV targets; the rest are ignored")
			srvs = srvs[:maxSRVTargets]
		}
		var errs []error
		for _, s := range srvs {
			if s.Port == 0 {
				continue
			}
			ips, err := d.opts.Resolver.LookupNetIP(ctx, "ip", s.Target)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, ip := range ips {
				eps = append(eps, Endpoint{Addr: netip.AddrPortFrom(ip.Unmap(), s.Port).String(), ID: strings.TrimSuffix(s.Target, ".")})
			}
		}
		if len(eps) == 0 && len(errs) > 0 {
			// Every target failed: that is a failed lookup, not "no pods".
			return nil, fmt.Errorf("discovery: dns SRV targets of %s: %w", d.opts.Target.Host, errors.Join(errs...))
		}
		if len(errs) > 0 {
			d.opts.Logger.Warn().Err(errors.Join(errs...)).Str("source", d.String()).Msg("some SRV targets did not resolve; they are left out")
		}
	}
	slices.SortFunc(eps, func(a, b Endpoint) int { return strings.Compare(a.Addr, b.Addr) })
	return slices.CompactFunc(eps, func(a, b Endpoint) bool { return a.Addr == b.Addr }), nil
}
