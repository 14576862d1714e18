package telemetry

import (
	"runtime"
	"testing"
)

// Link-time values win; without them a test binary (no module version, no
// VCS stamp) reads as devel with an unknown commit and date, and the Go
// version is always the toolchain's.
func TestReadBuild(t *testing.T) {
	if b := ReadBuild("", "", ""); b != (Build{Version: "devel", Commit: "unknown", Date: "unknown", GoVersion: runtime.Version()}) {
		t.Fatalf("unset: %+v", b)
	}
	b := ReadBuild("v1.2.3", "0123456789abcdef0123", "2026-12-01T10:00:00Z")
	if b != (Build{Version: "v1.2.3", Commit: "0123456789abcdef0123", Date: "2026-12-01T10:00:00Z", GoVersion: runtime.Version()}) {
		t.Fatalf("set: %+v", b)
	}
	if s, want := b.String(), "refract v1.2.3 (commit 0123456789ab, built 2026-12-01T10:00:00Z, "+runtime.Version()+")"; s != want {
		t.Fatalf("String %q, want %q", s, want)
	}
	if s := (Build{Version: "v1", Commit: "0123456789abcdef-dirty", Date: "d", GoVersion: "go"}).String(); s != "refract v1 (commit 0123456789abcdef-dirty, built d, go)" {
		t.Fatalf("dirty: %q", s)
	}
}
