package config

import (
	"strings"
	"testing"
)

func TestRuntimeKeys(t *testing.T) {
	cfg, err := Parse([]byte("runtime: {gc_percent: 200, memory_limit_bytes: 1073741824}\n" + libraryConfig("127.0.0.1:1", "")))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Runtime; r.GCPercent == nil || *r.GCPercent != 200 || r.MemoryLimitBytes != 1<<30 {
		t.Fatalf("runtime %+v", r)
	}
	cfg, err = Parse([]byte(libraryConfig("127.0.0.1:1", "")))
	if err != nil || cfg.Runtime.GCPercent != nil || cfg.Runtime.MemoryLimitBytes != 0 {
		t.Fatalf("unset runtime keys must leave Go's defaults: %+v, %v", cfg.Runtime, err)
	}
	for in, want := range map[string]string{
		"runtime: {gc_percent: -2}\n":                               `line 1: runtime.gc_percent: -2 is not a percentage`,
		"runtime: {gc_percent: -1}\n":                               `line 1: runtime.gc_percent: -1 (no collection) needs runtime.memory_limit_bytes`,
		"runtime:\n  memory_limit_bytes: 1000\n":                    `line 2: runtime.memory_limit_bytes: 1000 (0.0 MiB) is below 64 MiB`,
		"access_log: {queue_lines: -1}\n":                           `line 1: access_log.queue_lines: -1 is not between 0 (the default, 16384) and 1048576`,
		"runtime: {gc_percent: -1, memory_limit_bytes: 67108864}\n": "",
	} {
		_, err := Parse([]byte(in + libraryConfig("127.0.0.1:1", "")))
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}
