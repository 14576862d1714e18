package config

import "time"

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
