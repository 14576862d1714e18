package server

import (
	"runtime/debug"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/rs/zerolog"
)

// runtimeSettings are the garbage collector's settings: the process's own
// at start (Go's defaults, or GOGC and GOMEMLIMIT), which a config that
// leaves a key unset returns to.
type runtimeSettings struct {
	gcPercent   int
	memoryLimit int64
}

// currentRuntime reads the collector's settings without changing them.
func currentRuntime() runtimeSettings {
	gc := debug.SetGCPercent(100)
	debug.SetGCPercent(gc)
	return runtimeSettings{gcPercent: gc, memoryLimit: debug.SetMemoryLimit(-1)}
}

// applyRuntime sets the collector as c says, the keys it leaves unset as
// they were at start, and logs what changed.
func applyRuntime(c config.RuntimeConfig, start runtimeSettings, log zerolog.Logger) {
	want := start
	if c.GCPercent != nil {
		want.gcPercent = *c.GCPercent
	}
	if c.MemoryLimitBytes > 0 {
		want.memoryLimit = c.MemoryLimitBytes
	}
	// The limit first: a gc_percent of -1 is safe only under a limit.
	if old := debug.SetMemoryLimit(want.memoryLimit); old != want.memoryLimit {
		log.Info().Int64("memory_limit_bytes", want.memoryLimit).Int64("previous_bytes", old).Msg("runtime memory limit set")
	}
	if old := debug.SetGCPercent(want.gcPercent); old != want.gcPercent {
		log.Info().Int("gc_percent", want.gcPercent).Int("previous", old).Msg("runtime gc percent set")
	}
}
