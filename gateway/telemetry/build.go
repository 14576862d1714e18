package telemetry

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Build says which refract is running: shown by `refract version`, in the
// start log, on /admin and as the refract_build_info series.
type Build struct {
	// Version is the module version (v1.2.3, or a pseudo-version for a
	// commit), or "devel" for a build from a checkout.
	Version string `json:"version"`
	// Commit is the VCS revision, "unknown" when the build did not record it.
	Commit string `json:"commit"`
	// Date is when the commit was made (RFC 3339), or the build date a
	// release build set; "unknown" when neither is known.
	Date string `json:"date"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"go_version"`
}

// ReadBuild describes the running binary. Values set at link time win
// (a release build passes them with -ldflags "-X main.version=…"); the
// rest come from the build information Go embeds: the module version a
// `go install …@version` records, and the VCS revision and time of a
// build from a checkout (with -dirty when it had local changes).
func ReadBuild(version, commit, date string) Build {
	b := Build{Version: version, Commit: commit, Date: date}
	if info, ok := debug.ReadBuildInfo(); ok {
		b.GoVersion = info.GoVersion
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if b.Commit == "" && settings["vcs.revision"] != "" {
			b.Commit = settings["vcs.revision"]
			if settings["vcs.modified"] == "true" {
				b.Commit += "-dirty"
			}
		}
		if b.Date == "" {
			b.Date = settings["vcs.time"]
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	if b.GoVersion == "" {
		b.GoVersion = "unknown"
	}
	return b
}

// String is the one line `refract version` prints.
func (b Build) String() string {
	commit := b.Commit
	if len(commit) > 12 && !strings.HasSuffix(commit, "-dirty") {
		commit = commit[:12]
	}
	return fmt.Sprintf("refract %s (commit %s, built %s, %s)", b.Version, commit, b.Date, b.GoVersion)
}

// collector is refract_build_info: a constant 1 labelled with the build,
// the usual way to join a version onto other series.
func (b Build) collector() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "refract_build_info",
		Help:        "Always 1; labelled with the running refract's version, commit and Go version.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "go_version": b.GoVersion},
	})
	g.Set(1)
	return g
}
