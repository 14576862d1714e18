package transcode

import "testing"

func TestParseTimeout(t *testing.T) {
	good := map[string]string{"1S": "1s", "100m": "100ms", "5M": "5m0s", "2H": "2h0m0s", "7u": "7µs", "9n": "9ns", "99999999S": "27777h46m39s",
		"2562047H": "2562047h0m0s", "99999999M": "1666666h39m0s", "99999999u": "1m39.999999s"}
	for in, want := range good {
		d, err := ParseTimeout(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "S", "1", "1s", "-1S", "123456789S", "1.5S", "1x",
		// Longer than a time.Duration holds: once wrapped to negative timeouts.
		"99999999H", "2562048H", "10000000H"} {
		if _, err := ParseTimeout(in); err == nil {
			t.Errorf("ParseTimeout(%q) accepted", in)
		}
	}
	_, err := ParseTimeout("99999999H")
	if want := `Grpc-Timeout "99999999H": longer than the largest timeout, 2562047H (about 292 years)`; err == nil || err.Error() != want {
		t.Errorf("ParseTimeout(99999999H): %v, want %s", err, want)
	}
	for _, in := range []string{"99999999H", "9999999H"} {
		if d, err := ParseTimeout(in); err == nil && d <= 0 {
			t.Errorf("ParseTimeout(%q) = %v: a timeout is never negative", in, d)
		}
	}
}
