package policy

import (
	"net/http"
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
		{"garbage stops at the hop that wrote it", "10.1.1.1:1", []string{"1.2.3.4, nonsense, 10.3.3.3"}, true, "10.3.3.3"},
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
