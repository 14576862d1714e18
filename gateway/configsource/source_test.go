package configsource

import (
	"crypto/sha256"
	"encoding/hex"
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

// Version is the first 12 hex digits of the bytes' SHA-256, whatever the
// source.
func TestDataVersion(t *testing.T) {
	b := []byte("upstreams: []\n")
	sum := sha256.Sum256(b)
	if got, want := (Data{Bytes: b, Source: "a"}).Version(), hex.EncodeToString(sum[:])[:12]; got != want {
		t.Fatalf("Version = %q, want %q", got, want)
	}
	s := &Static{Name: "demo", Bytes: b}
	d, err := s.Read(t.Context())
	if err != nil || string(d.Bytes) != string(b) || d.Source != "demo" || d.ModifyIndex != 0 || s.String() != "demo" {
		t.Fatalf("Static.Read: %+v, %v", d, err)
	}
}
