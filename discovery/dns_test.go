package discovery

import (
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/discovery/dnstest"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/resolver"
)

func TestParseDNSTarget(t *testing.T) {
	for _, c := range []struct {
		in   string
		srv  bool
		want DNSTarget
		err  string
	}{
		{in: "dns:///books.default.svc.cluster.local:9090", want: DNSTarget{Host: "books.default.svc.cluster.local", Port: 9090}},
		{in: "dns:books:9090", want: DNSTarget{Host: "books", Port: 9090}},
		{in: "dns://10.96.0.10/books:9090", want: DNSTarget{Server: "10.96.0.10:53", Host: "books", Port: 9090}},
		{in: "dns://127.0.0.1:5353/books:9090", want: DNSTarget{Server: "127.0.0.1:5353", Host: "books", Port: 9090}},
		{in: "dns:///_grpc._tcp.books.default.svc.cluster.local", srv: true, want: DNSTarget{Host: "_grpc._tcp.books.default.svc.cluster.local"}},
		{in: "books:9090", err: "must start with dns:"},
		{in: "dns:///books", err: "needs a port"},
		{in: "dns:///books:0", err: "port must be 1-65535"},
		{in: "dns:///books:9090", srv: true, err: "takes no port"},
		{in: "dns://server-without-slash", err: "want dns:///host:port"},
		{in: "dns:///", err: "no host name"},
	} {
		got, err := ParseDNSTarget(c.in, c.srv)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseDNSTarget(%q) = %v, want error %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseDNSTarget(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func dnsSource(t *testing.T, srv *dnstest.Server, target string, isSRV bool, interval time.Duration) *DNS {
	t.Helper()
	tg, err := ParseDNSTarget(target, isSRV)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewDNS(DNSOptions{Target: tg, SRV: isSRV, Interval: interval, MinInterval: 20 * time.Millisecond,
		Timeout: time.Second, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestDNSFollowsTheServer follows A and AAAA answers of a real DNS server
// as pods of a headless service would come and go: re-resolved on the
// interval, kept through SERVFAIL and through the server's outage, fresh
// again when it answers.
func TestDNSFollowsTheServer(t *testing.T) {
	srv := dnstest.Start(t)
	const name = "books.refract.test."
	srv.Set(name, "127.0.0.1", "127.0.0.2", "::1")
	ch := updates(t, dnsSource(t, srv, "dns://"+srv.Addr+"/"+name+":9090", false, 50*time.Millisecond))
	if u := next(t, ch, "first answer"); addrs(u) != "127.0.0.1:9090 127.0.0.2:9090 [::1]:9090" || u.Err != nil {
		t.Fatalf("first set = %q (err %v)", addrs(u), u.Err)
	}

	start := time.Now()
	srv.Set(name, "127.0.0.1", "127.0.0.2", "127.0.0.3")
	waitFor(t, ch, "127.0.0.1:9090 127.0.0.2:9090 127.0.0.3:9090")
	t.Logf("dns: an added address was followed in %s (interval 50ms)", time.Since(start))
	srv.Set(name, "127.0.0.3")
	waitFor(t, ch, "127.0.0.3:9090")

	// SERVFAIL: the last good answer stays, pushed once with the error.
	srv.Fail(true)
	u := next(t, ch, "SERVFAIL")
	if u.Err == nil || addrs(u) != "127.0.0.3:9090" {
		t.Fatalf("on SERVFAIL: %q (err %v), want the last answer with an error", addrs(u), u.Err)
	}
	srv.Fail(false)
	waitFor(t, ch, "127.0.0.3:9090") // fresh again, pushed although unchanged

	// The name stops resolving (NXDOMAIN): kept too, since a name gone
	// by mistake must not take every endpoint with it.
	srv.Set(name)
	if u := next(t, ch, "NXDOMAIN"); u.Err == nil || addrs(u) != "127.0.0.3:9090" {
		t.Fatalf("on NXDOMAIN: %q (err %v)", addrs(u), u.Err)
	}
	srv.Set(name, "127.0.0.3")
	waitFor(t, ch, "127.0.0.3:9090")

	// The server goes away, and comes back with another answer.
	srv.Stop()
	if u := next(t, ch, "outage"); u.Err == nil || addrs(u) != "127.0.0.3:9090" {
		t.Fatalf("on the outage: %q (err %v)", addrs(u), u.Err)
	} else {
		t.Logf("dns outage reported as: %v", u.Err)
	}
	select {
	case u := <-ch:
		t.Fatalf("a second push during the outage: %q (err %v)", addrs(u), u.Err)
	case <-time.After(300 * time.Millisecond):
	}
	srv.Set(name, "127.0.0.4")
	srv.Restart()
	waitFor(t, ch, "127.0.0.4:9090")
}

// TestDNSSRVAndResolveNow follows SRV answers (ports from the answer,
// targets resolved), and re-resolves at once when grpc-go asks through
// the resolver, long before the interval.
func TestDNSSRVAndResolveNow(t *testing.T) {
	srv := dnstest.Start(t)
	const name = "_grpc._tcp.books.refract.test."
	srv.SetSRV(name, "pod-a.refract.test:7001", "pod-b.refract.test:7002", "pod-c.refract.test:7003")
	srv.Set("pod-a.refract.test", "127.0.0.1")
	srv.Set("pod-b.refract.test", "127.0.0.2")
	// pod-c does not resolve (yet): left out, the others served.
	src := dnsSource(t, srv, "dns://"+srv.Addr+"/"+name, true, time.Hour)
	ch := updates(t, src)
	u := next(t, ch, "first answer")
	if addrs(u) != "127.0.0.1:7001 127.0.0.2:7002" || u.Err != nil || u.Endpoints[0].ID != "pod-a.refract.test" {
		t.Fatalf("first set = %+v (err %v)", u.Endpoints, u.Err)
	}

	// A connection fails: grpc-go calls ResolveNow on the resolver, which
	// the upstream wires to the source.
	res := NewResolver("refract-dnstest").OnResolveNow(src.ResolveNow)
	b, err := res.Build(resolver.Target{}, nopClientConn{}, resolver.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv.Set("pod-c.refract.test", "127.0.0.3")
	srv.SetSRV(name, "pod-b.refract.test:7002", "pod-c.refract.test:7003")
	start := time.Now()
	b.ResolveNow(resolver.ResolveNowOptions{})
	waitFor(t, ch, "127.0.0.2:7002 127.0.0.3:7003")
	t.Logf("dns: a change was followed %s after ResolveNow (interval 1h)", time.Since(start))

	// Every target failing is a failed lookup, not an empty service.
	srv.Set("pod-b.refract.test")
	srv.Set("pod-c.refract.test")
	b.ResolveNow(resolver.ResolveNowOptions{})
	if u := next(t, ch, "targets gone"); u.Err == nil || addrs(u) != "127.0.0.2:7002 127.0.0.3:7003" {
		t.Fatalf("with no target resolving: %q (err %v)", addrs(u), u.Err)
	}
}

// nopClientConn is the part of grpc-go's ClientConn a resolver needs here:
// nothing (the test watches the source's pushes instead).
type nopClientConn struct{ resolver.ClientConn }

func (nopClientConn) UpdateState(resolver.State) error { return nil }
