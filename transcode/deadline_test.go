package transcode

import "testing"

func TestParseTimeout(t *testing.T) {
	good := map[string]string{"1S": "1s", "100m": "100ms", "5M": "5m0s", "2H": "2h0m0s", "7u": "7µs", "9n": "9ns", "99999999S": "27777h46m39s"}
	for in, want := range good {
		d, err := ParseTimeout(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "S", "1", "1s", "-1S", "123456789S", "1.5S", "1x"} {
		if _, err := ParseTimeout(in); err == nil {
			t.Errorf("ParseTimeout(%q) accepted", in)
		}
	}
}
