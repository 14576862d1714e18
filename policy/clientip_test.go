package policy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := must(ParsePrefixes([]string{"10.0.0.0/8", "192.168.1.1"}))
	cases := []struct {
		name, remote string
		xff          []string
		trusted      bool
		want         string
	}{
		{"no trusted proxies: XFF ignored", "203.0.113.5:1", []string{"1.2.3.4"}, false, "203.0.113.5"},
		{"untrusted peer: XFF ignored", "203.0.113.5:1", []string{"1.2.3.4"}, true, "203.0.113.5"},
		{"trusted peer: rightmost untrusted", "10.1.1.1:1", []string{"9.9.9.9, 1.2.3.4"}, true, "1.2.3.4"},
		{"chain of trusted proxies", "10.1.1.1:1", []string{"1.2.3.4, 192.168.1.1", "10.2.2.2"}, true, "1.2.3.4"},
		{"spoofed left part never wins", "10.1.1.1:1", []string{"6.6.6.6, 1.2.3.4, 10.3.3.3"}, true, "1.2.3.4"},
		// An entry that is not an address makes the client unknown, never
		// the trusted proxy that passed it on.
		{"garbage makes the client unknown", "10.1.1.1:1", []string{"1.2.3.4, nonsense, 10.3.3.3"}, true, "invalid IP"},
		{"ip:port rightmost: unknown", "10.1.1.1:1", []string{"1.2.3.4:5678"}, true, "invalid IP"},
		{"bracketed IPv6 rightmost: unknown", "10.1.1.1:1", []string{"[fd00::1]"}, true, "invalid IP"},
		{"bracketed IPv6 with port: unknown", "10.1.1.1:1", []string{"[fd00::1]:443"}, true, "invalid IP"},
		{"zoned IPv6: the zone is dropped", "10.1.1.1:1", []string{"fd00::1%eth0"}, true, "fd00::1"},
		{"zoned IPv6 peer", "[fe80::1%eth0]:1", nil, false, "fe80::1"},
		{"all trusted: the leftmost", "10.1.1.1:1", []string{"10.9.9.9"}, true, "10.9.9.9"},
		{"IPv6 peer", "[2001:db8::1]:443", nil, true, "2001:db8::1"},
		{"IPv4-mapped IPv6", "[::ffff:10.1.1.1]:1", []string{"1.2.3.4"}, true, "1.2.3.4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tp = trusted
			if !c.trusted {
				tp = nil
			}
			var got string
			h := ClientIP(tp)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = InfoFrom(r.Context()).ClientIP.String()
			}))
			r := withRemote(c.remote, c.xff)
			h.ServeHTTP(nopWriter{}, r)
			if got != c.want {
				t.Fatalf("client %q, want %q", got, c.want)
			}
		})
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/33"}); err == nil || err.Error() != `policy: "10.0.0.0/33" is neither a CIDR (10.0.0.0/8) nor an IP address` {
		t.Fatalf("bad CIDR: %v", err)
	}
}

func withRemote(remote string, xff []string) *http.Request {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	r, _ = withInfo(r)
	return r
}

type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriter) WriteHeader(int)             {}

func TestIPFilter(t *testing.T) {
	h := IPFilter(must(ParsePrefixes([]string{"10.0.0.0/8", "2001:db8::/32"})), must(ParsePrefixes([]string{"10.6.6.0/24"})))(&ok{})
	if w := serve(h, "GET", "/", "10.1.2.3:5"); w.Code != 200 {
		t.Fatalf("allowed: %d", w.Code)
	}
	if w := serve(h, "GET", "/", "[2001:db8::7]:5"); w.Code != 200 {
		t.Fatalf("allowed v6: %d", w.Code)
	}
	wantStatus(t, serve(h, "GET", "/", "10.6.6.6:5"), 403, 7, "client address 10.6.6.6 is denied")
	wantStatus(t, serve(h, "GET", "/", "192.0.2.1:5"), 403, 7, "client address 192.0.2.1 is not in the allowed networks")
	if IPFilter(nil, nil) != nil {
		t.Fatal("an empty filter is not nil")
	}
}

// TestIPFilterForwarded: the forwarded client decides, and neither a zone
// nor an unparseable entry gets a denied client through.
func TestIPFilterForwarded(t *testing.T) {
	trusted := must(ParsePrefixes([]string{"10.0.0.0/8"}))
	deny := must(ParsePrefixes([]string{"fd00::/8"}))
	for _, c := range []struct {
		xff  string
		want int
	}{
		{"2001:db8::1", 200},
		{"fd00::1", 403},
		{"fd00::1%eth0", 403},
		{"fd00::1%25eth0", 403},
		{"[fd00::1]:80", 403},
		{"1.2.3.4:80", 403},
	} {
		served := false
		h := ClientIP(trusted)(IPFilter(nil, deny)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true })))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, withRemote("10.1.1.1:1", []string{c.xff}))
		if rec.Code == 0 || served {
			rec.Code = 200
		}
		if rec.Code != c.want {
			t.Errorf("X-Forwarded-For %s: %d, want %d (%s)", c.xff, rec.Code, c.want, rec.Body)
		}
	}
}
