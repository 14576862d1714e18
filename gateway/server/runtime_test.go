package server

import (
	"runtime/debug"
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/rs/zerolog"
)

// A config's runtime keys set the collector; a later config without them
// returns it to the process's own settings.
func TestApplyRuntime(t *testing.T) {
	start := currentRuntime()
	defer applyRuntime(config.RuntimeConfig{}, start, zerolog.Nop())

	applyRuntime(config.RuntimeConfig{GCPercent: config.Ptr(350), MemoryLimitBytes: 3 << 30}, start, zerolog.Nop())
	if got := currentRuntime(); got.gcPercent != 350 || got.memoryLimit != 3<<30 {
		t.Fatalf("after a config with runtime keys: %+v", got)
	}
	applyRuntime(config.RuntimeConfig{GCPercent: config.Ptr(-1), MemoryLimitBytes: 1 << 30}, start, zerolog.Nop())
	if got := currentRuntime(); got.gcPercent != -1 || got.memoryLimit != 1<<30 {
		t.Fatalf("gc off under a limit: %+v", got)
	}
	applyRuntime(config.RuntimeConfig{}, start, zerolog.Nop())
	if got := currentRuntime(); got != start {
		t.Fatalf("after a config without runtime keys: %+v, want the start's %+v", got, start)
	}
	if debug.SetMemoryLimit(-1) != start.memoryLimit {
		t.Fatal("memory limit not restored")
	}
}
