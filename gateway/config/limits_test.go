package config

import (
	"testing"
	"time"
)

func TestLimitsConfigErrors(t *testing.T) {
	cases := map[string]string{
		"limits: {max_url_bytes: -1}":                              "line 1: limits.max_url_bytes: must be positive (or left out for the default), not -1",
		"limits: {max_url_bytes: 10}":                              "line 1: limits.max_url_bytes: 10 is too small for real URLs; at least 256",
		"limits: {max_header_bytes: 100}":                          "line 1: limits.max_header_bytes: 100 is too small for real requests; at least 1024",
		"limits: {headers_with_underscores: maybe}":                `line 1: limits.headers_with_underscores: "maybe" is not drop, reject or allow`,
		"limits: {write_timeout: 5s}":                              "line 1: limits.write_timeout: 5s must exceed the longest upstream timeout (30s), or answers in time would be cut off",
		"limits: {read_timeout: 30s}":                              "line 1: limits.read_timeout: 30s must exceed the longest upstream timeout (30s), or answers in time would be cut off",
		"limits: {max_concurrent_per_client: -3}":                  "line 1: limits.max_concurrent_per_client: must be positive (or left out for the default), not -3",
		"limits: {http2_max_concurrent_streams: -1}":               "line 1: limits.http2_max_concurrent_streams: must be positive (or left out for the default), not -1",
		"limits: {min_body_rate: -5}":                              "line 1: limits.min_body_rate: must be positive (or left out for the default), not -5",
		"limits: {max_client_timeout: 5ms}":                        "line 1: limits.max_client_timeout: 5ms is shorter than min_client_timeout (10ms)",
		"limits: {min_client_timeout: 2s, max_client_timeout: 1s}": "line 1: limits.max_client_timeout: 1s is shorter than min_client_timeout (2s)",
	}
	for global, want := range cases {
		_, err := Parse([]byte(global + "\n" + libraryConfig("127.0.0.1:1", "")))
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", global, err, want)
		}
	}
	cfg, err := Parse([]byte(libraryConfig("127.0.0.1:1", "    timeout: 90s\n")))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ExchangeTimeout(0); got != 100*time.Second {
		t.Fatalf("derived write timeout %s, want 100s (longest upstream timeout + 10s)", got)
	}
	if got, rate := cfg.Limits.BodyTimeout(), cfg.Limits.BodyRate(); got != 10*time.Second || rate != 16384 {
		t.Fatalf("body pace defaults %s, %d bytes/s; want 10s, 16384", got, rate)
	}
}
