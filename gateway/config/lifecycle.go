package config

import (
	"fmt"
	"time"
)

// LifecycleKeys are the config keys of the process lifecycle: how a
// reload waits before it swaps, and how a stop drains. They are read by
// the server; a Gateway mounted on its own has no reload and no drain
// period.
type LifecycleKeys struct {
	// DrainPeriod is how long the gateway keeps serving after SIGTERM or
	// SIGINT with /readyz at 503, so that load balancers take it out of
	// rotation before its listeners close; then in-flight requests get
	// ShutdownTimeout to finish. Default 5s; 0 stops at once.
	DrainPeriod *Duration `yaml:"drain_period"`
	// Reload tunes config reloads.
	Reload ReloadConfig `yaml:"reload"`
	// Runtime tunes the Go runtime of the process.
	Runtime RuntimeConfig `yaml:"runtime"`
}

// RuntimeConfig tunes the Go garbage collector, for the whole process,
// at start and on every reload that changes it. Unset keys leave Go's
// defaults (or the GOGC and GOMEMLIMIT environment variables) alone.
type RuntimeConfig struct {
	// GCPercent is GOGC: how much the heap may grow over the live heap
	// before a collection, in percent; higher spends less CPU collecting
	// and more memory. -1 turns the collector off until MemoryLimitBytes
	// is reached, so it needs one. Unset: Go's default (100).
	GCPercent *int `yaml:"gc_percent"`
	// MemoryLimitBytes is GOMEMLIMIT: a soft limit on the memory the Go
	// runtime uses, past which it collects whatever GCPercent says; at
	// least 64 MiB. Unset or 0: no limit.
	MemoryLimitBytes int64 `yaml:"memory_limit_bytes"`
}

func (r *RuntimeConfig) validate(bad func(key, format string, args ...any)) {
	if p := r.GCPercent; p != nil && *p < -1 {
		bad("runtime.gc_percent", "%d is not a percentage (-1 turns the collector off up to runtime.memory_limit_bytes)", *p)
	}
	if p := r.GCPercent; p != nil && *p == -1 && r.MemoryLimitBytes == 0 {
		bad("runtime.gc_percent", "-1 (no collection) needs runtime.memory_limit_bytes, or the heap grows without bound")
	}
	if m := r.MemoryLimitBytes; m != 0 && m < 64<<20 {
		bad("runtime.memory_limit_bytes", "%s is below 64 MiB: the collector would run all the time", fmtBytes(m))
	}
}

func fmtBytes(n int64) string {
	if n < 0 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d (%.1f MiB)", n, float64(n)/(1<<20))
}

// ReloadConfig tunes config reloads (SIGHUP, a changed file, a changed
// Consul key, POST /admin/reload).
type ReloadConfig struct {
	// ReadyTimeout bounds how long a reload waits for the new config's
	// required (non-optional) upstreams to have descriptors before it
	// swaps; past it the reload is refused and the old config keeps
	// serving, so a reload never takes routes away. Default 10s.
	ReadyTimeout Duration `yaml:"ready_timeout"`
}

func (l *LifecycleKeys) applyLifecycleDefaults() {
	if l.DrainPeriod == nil {
		l.DrainPeriod = Ptr(Duration(5 * time.Second))
	}
	if l.Reload.ReadyTimeout == 0 {
		l.Reload.ReadyTimeout = Duration(10 * time.Second)
	}
}

// DrainFor is DrainPeriod, 0 when unset (a Config built by hand).
func (l *LifecycleKeys) DrainFor() time.Duration {
	if l.DrainPeriod == nil {
		return 0
	}
	return time.Duration(*l.DrainPeriod)
}
