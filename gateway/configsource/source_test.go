package configsource

import (
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	for _, tc := range []struct{ location, err string }{
		{"consul://127.0.0.1:8500/refract/config?dc=dc2", ""},
		{"refract.yaml", ""},
		{"", "no location"},
		{"consul://127.0.0.1/refract/config", "want consul://HOST:PORT/KEY"},
		{"consul://127.0.0.1:8500/", "want consul://HOST:PORT/KEY"},
		{"consul://127.0.0.1:8500/k?token=secret", `unknown parameter "token"`},
	} {
		src, err := Open(tc.location)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.location, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.location, err, tc.err)
		case err == nil:
			if src.String() != tc.location {
				t.Errorf("%q: named %q", tc.location, src.String())
			}
			src.Close()
		}
	}
}
