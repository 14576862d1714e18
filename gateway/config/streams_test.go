package config

import (
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/transcode"
)

func TestStreamConfigDefaults(t *testing.T) {
	cfg, err := Parse([]byte("upstreams:\n  - name: echo\n    static: [\"127.0.0.1:50052\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Upstreams[0].Streams
	if s.MaxMessageBytes != 4<<20 || time.Duration(s.IdleTimeout) != 5*time.Minute || time.Duration(s.MaxDuration) != time.Hour ||
		s.MaxPerClient != 16 || time.Duration(s.KeepAlive) != 15*time.Second || s.BufferMessages != 16 {
		t.Fatalf("defaults not applied: %+v", s)
	}
	if f := s.FramingFor("echo.v1.EchoService.Expand"); f != transcode.FramingNDJSON {
		t.Fatalf("default framing %v", f)
	}
}

func TestStreamConfigErrors(t *testing.T) {
	const head = "upstreams:\n  - name: a\n    static: [\"127.0.0.1:1\"]\n    streams:\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "      max_messages: 3\n", "line 5: upstreams[0].streams.max_messages: unknown key"},
		{"negative size", "      max_message_bytes: -1\n", "line 5: upstreams[0].streams.max_message_bytes: must be positive"},
		{"negative clients", "      max_per_client: -2\n", "line 5: upstreams[0].streams.max_per_client: must be positive"},
		{"huge buffer", "      buffer_messages: 100000\n", "line 5: upstreams[0].streams.buffer_messages: must be between 1 and 4096, got 100000"},
		{"bad duration", "      idle_timeout: forever\n", `line 5: upstreams[0].streams.idle_timeout: "forever" is not a duration (e.g. 500ms, 10s, 1m)`},
		{"framing of a non-method", "      framing: {Expand: json_array}\n", `line 5: upstreams[0].streams.framing: "Expand" is not a method's full name (package.Service.Method)`},
		{"unknown framing", "      framing: {echo.v1.EchoService.Expand: xml}\n", `line 5: upstreams[0].streams.framing.echo.v1.EchoService.Expand: "xml" is not ndjson or json_array`},
		{"sse is not configurable", "      framing: {echo.v1.EchoService.Expand: sse}\n", `line 5: upstreams[0].streams.framing.echo.v1.EchoService.Expand: "sse" is not ndjson or json_array`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(head + tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	cfg, err := Parse([]byte(head + "      framing: {echo.v1.EchoService.Expand: json_array}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Upstreams[0].Streams.FramingFor("echo.v1.EchoService.Expand"); f != transcode.FramingJSONArray {
		t.Fatalf("framing %v", f)
	}
}
