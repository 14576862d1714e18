package dnstest

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server is a running DNS server. Its methods are safe for concurrent use.
type Server struct {
	// Addr is the server's UDP address, 127.0.0.1:port; it survives
	// Restart.
	Addr string

	t testing.TB

	mu      sync.Mutex
	ips     map[string][]netip.Addr // by FQDN
	srv     map[string][]*dns.SRV   // by FQDN
	fail    bool
	queries int
	server  *dns.Server
}

// Start starts a server with no records and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, ips: map[string][]netip.Addr{}, srv: map[string][]*dns.SRV{}}
	s.listen("127.0.0.1:0")
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) listen(addr string) {
	s.t.Helper()
	var pc net.PacketConn
	var err error
	// A restart may find the port briefly held by the last socket.
	for i := 0; i < 50; i++ {
		if pc, err = net.ListenPacket("udp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("dnstest: listen: %v", err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve), NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	s.mu.Lock()
	s.Addr, s.server = pc.LocalAddr().String(), srv
	s.mu.Unlock()
}

// Set makes name (a host name, with or without the final dot) answer
// with addrs (IPv4 for A, IPv6 for AAAA); no addrs removes it.
func (s *Server) Set(name string, addrs ...string) {
	s.t.Helper()
	var ips []netip.Addr
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			s.t.Fatal(err)
		}
		ips = append(ips, ip)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(ips) == 0 {
		delete(s.ips, dns.Fqdn(name))
		return
	}
	s.ips[dns.Fqdn(name)] = ips
}

// SetSRV makes name answer SRV questions with targets, each host:port;
// none removes it.
func (s *Server) SetSRV(name string, targets ...string) {
	s.t.Helper()
	var rrs []*dns.SRV
	for _, tg := range targets {
		h, p, err := net.SplitHostPort(tg)
		if err != nil {
			s.t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		rrs = append(rrs, &dns.SRV{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 5},
			Priority: 0, Weight: 10, Port: uint16(port), Target: dns.Fqdn(h)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(rrs) == 0 {
		delete(s.srv, dns.Fqdn(name))
		return
	}
	s.srv[dns.Fqdn(name)] = rrs
}

// Fail makes every answer SERVFAIL while on.
func (s *Server) Fail(on bool) {
	s.mu.Lock()
	s.fail = on
	s.mu.Unlock()
}

// Queries is how many questions the server has answered.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// Stop stops the server; its records stay for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.server
	s.server = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Shutdown()
	}
}

// Restart starts the server again on the same address after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	s.listen(s.Addr)
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	s.mu.Lock()
	s.queries++
	fail := s.fail
	for _, q := range req.Question {
		name := strings.ToLower(q.Name)
		ips, isHost := s.ips[name]
		srvs, isSRV := s.srv[name]
		if !isHost && !isSRV {
			m.Rcode = dns.RcodeNameError
			continue
		}
		for _, ip := range ips {
			hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 5}
			switch {
			case q.Qtype == dns.TypeA && ip.Is4():
				hdr.Rrtype = dns.TypeA
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: ip.AsSlice()})
			case q.Qtype == dns.TypeAAAA && ip.Is6():
				hdr.Rrtype = dns.TypeAAAA
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: ip.AsSlice()})
			}
		}
		if q.Qtype == dns.TypeSRV {
			for _, rr := range srvs {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
	}
	s.mu.Unlock()
	if fail {
		m.Answer, m.Rcode = nil, dns.RcodeServerFailure
	}
	_ = w.WriteMsg(m)
}
