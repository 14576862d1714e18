package transcode

import (
	"testing"
	"time"
)

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

func TestCallTimeout(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		v             string
		own, min, max time.Duration
		want          time.Duration
		client        bool
		err           string
	}{
		{v: "", own: 5 * ms, want: 5 * ms},
		{v: "", own: 0, want: 0},
		{v: "2m", own: 5 * ms, want: 2 * ms, client: true},
		{v: "5m", own: 5 * ms, want: 5 * ms}, // as long as the gateway's: the gateway's
		{v: "9m", own: 5 * ms, want: 5 * ms},
		{v: "9m", own: 0, want: 9 * ms, client: true}, // a stream without a maximum duration
		{v: "1n", own: 5 * ms, min: ms, err: `Grpc-Timeout "1n" (1ns) is shorter than the minimum of 1ms (limits.min_client_timeout): ask for at least that`},
		{v: "2S", own: 5 * ms, max: time.Second, err: `Grpc-Timeout "2S" (2s) is longer than the maximum of 1s (limits.max_client_timeout): ask for at most that`},
		{v: "1m", own: 5 * ms, min: ms, max: time.Second, want: ms, client: true},
		{v: "soon", own: 5 * ms, err: `Grpc-Timeout "soon": want 1-8 digits and a unit (H, M, S, m, u, n)`},
	} {
		d, client, err := CallTimeout(tc.v, tc.own, tc.min, tc.max)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("CallTimeout(%q): %v, want %s", tc.v, err, tc.err)
			}
			continue
		}
		if err != nil || d != tc.want || client != tc.client {
			t.Errorf("CallTimeout(%q, own %s) = %s, %v, %v; want %s, %v", tc.v, tc.own, d, client, err, tc.want, tc.client)
		}
	}
}
