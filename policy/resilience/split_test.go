package resilience

import (
	"fmt"
	"testing"
)

// request is a Request from plain maps: headers and cookies by name.
type request struct{ header, cookie map[string]string }

func newRequest() *request {
	return &request{header: map[string]string{}, cookie: map[string]string{}}
}

func (r *request) Header(name string) string { return r.header[name] }

func (r *request) Cookie(name string) (string, bool) {
	v, ok := r.cookie[name]
	return v, ok
}

func TestSplitHeaderCookieWeightsSticky(t *testing.T) {
	s, err := NewSplit(SplitOptions{Subsets: []WeightedSubset{{"stable", 80}, {"canary", 20}},
		Header: "X-Canary", Cookie: "track", Sticky: "header:X-User"})
	if err != nil {
		t.Fatal(err)
	}
	r := newRequest()
	r.header["X-Canary"] = "canary"
	r.cookie["track"] = "stable"
	if s.Pick(r, "") != 1 {
		t.Fatal("the header should win")
	}
	delete(r.header, "X-Canary")
	if s.Pick(r, "") != 0 {
		t.Fatal("the cookie should choose stable")
	}
	counts := [2]int{}
	for u := range 2000 {
		r := newRequest()
		r.header["X-User"] = fmt.Sprint("u", u)
		i := s.Pick(r, "")
		for range 3 {
			if s.Pick(r, "") != i {
				t.Fatalf("user %d moved", u)
			}
		}
		counts[i]++
	}
	if counts[1] < 300 || counts[1] > 500 { // 20 % ± 5 % of 2000
		t.Fatalf("sticky split %v, want about 1600/400", counts)
	}
}

func TestSplitValidates(t *testing.T) {
	for _, o := range []SplitOptions{
		{},
		{Subsets: []WeightedSubset{{"a", 0}}},
		{Subsets: []WeightedSubset{{"a", 1}, {"a", 1}}},
		{Subsets: []WeightedSubset{{"a", -1}, {"b", 2}}},
		{Subsets: []WeightedSubset{{"a", 1}}, Sticky: "header:"},
	} {
		if _, err := NewSplit(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// Sticky by the client IP or a cookie: each client stays on one side, the
// clients spread by the weights, and a client without the key is placed at
// random (so it is not pinned to the first subset).
func TestSplitStickyByIPAndCookie(t *testing.T) {
	for _, sticky := range []string{"ip", "cookie:uid"} {
		s, err := NewSplit(SplitOptions{Subsets: []WeightedSubset{{"stable", 50}, {"canary", 50}}, Sticky: sticky})
		if err != nil {
			t.Fatal(err)
		}
		counts := [2]int{}
		for u := range 2000 {
			r := newRequest()
			ip := fmt.Sprintf("10.0.%d.%d", u/256, u%256)
			if sticky != "ip" {
				r.cookie["uid"] = fmt.Sprint("u", u)
				ip = "192.0.2.1" // one proxy in front of every client: the cookie decides
			}
			i := s.Pick(r, ip)
			for range 3 {
				if s.Pick(r, ip) != i {
					t.Fatalf("%s: client %d moved", sticky, u)
				}
			}
			counts[i]++
		}
		if counts[1] < 900 || counts[1] > 1100 { // 50 % ± 5 % of 2000
			t.Fatalf("%s: sticky split %v, want about 1000/1000", sticky, counts)
		}
		keyless := [2]int{}
		for range 200 {
			keyless[s.Pick(newRequest(), "")]++
		}
		if keyless[0] == 0 || keyless[1] == 0 {
			t.Fatalf("%s: requests without the key all went one way: %v", sticky, keyless)
		}
	}
}
