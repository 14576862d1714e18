package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/transcode"
)

func TestStreamConfigDefaults(t *testing.T) {
	cfg, err := config.Parse([]byte("upstreams:\n  - name: echo\n    static: [\"127.0.0.1:50052\"]\n"))
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
		{"unknown key", "      max_messages: 3\n", "line 5: field max_messages not found in type gateway.StreamConfig"},
		{"negative size", "      max_message_bytes: -1\n", "config: upstreams[0].streams.max_message_bytes: must be positive"},
		{"negative clients", "      max_per_client: -2\n", "config: upstreams[0].streams.max_per_client: must be positive"},
		{"huge buffer", "      buffer_messages: 100000\n", "config: upstreams[0].streams.buffer_messages: must be between 1 and 4096, got 100000"},
		{"bad duration", "      idle_timeout: forever\n", `line 5: "forever" is not a duration`},
		{"framing of a non-method", "      framing: {Expand: json_array}\n", `config: upstreams[0].streams.framing: "Expand" is not a method's full name (package.Service.Method)`},
		{"unknown framing", "      framing: {echo.v1.EchoService.Expand: xml}\n", `config: upstreams[0].streams.framing.echo.v1.EchoService.Expand: "xml" is not ndjson or json_array`},
		{"sse is not configurable", "      framing: {echo.v1.EchoService.Expand: sse}\n", `config: upstreams[0].streams.framing.echo.v1.EchoService.Expand: "sse" is not ndjson or json_array`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(head + tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	cfg, err := config.Parse([]byte(head + "      framing: {echo.v1.EchoService.Expand: json_array}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Upstreams[0].Streams.FramingFor("echo.v1.EchoService.Expand"); f != transcode.FramingJSONArray {
		t.Fatalf("framing %v", f)
	}
}

func TestOpenStreamsLimit(t *testing.T) {
	var c openStreams
	if !c.acquire("a", 2) || !c.acquire("a", 2) || c.acquire("a", 2) {
		t.Fatal("limit of 2 not enforced")
	}
	if !c.acquire("b", 2) {
		t.Fatal("another client shares the first one's slots")
	}
	c.release("a")
	if !c.acquire("a", 2) {
		t.Fatal("a released slot is not reusable")
	}
	c.release("a")
	c.release("a")
	c.release("b")
	if len(c.n) != 0 {
		t.Fatalf("entries left: %v", c.n)
	}
	for range 100 {
		if !c.acquire("z", 0) {
			t.Fatal("0 must mean unlimited")
		}
	}
}

func TestOpenStreamsEndAll(t *testing.T) {
	var o openStreams
	ctx1, cancel1 := context.WithCancelCause(context.Background())
	ctx2, cancel2 := context.WithCancelCause(context.Background())
	untrack1 := o.track(cancel1)
	o.track(cancel2)()
	untrack1()
	ctx3, cancel3 := context.WithCancelCause(context.Background())
	o.track(cancel3)
	cause := errors.New("bye")
	o.endAll(cause)
	if ctx1.Err() != nil || ctx2.Err() != nil {
		t.Fatal("an untracked stream was cancelled")
	}
	if context.Cause(ctx3) != cause {
		t.Fatalf("tracked stream: %v", context.Cause(ctx3))
	}
	ctx4, cancel4 := context.WithCancelCause(context.Background())
	o.track(cancel4)
	if context.Cause(ctx4) != cause {
		t.Fatalf("a stream opened after endAll: %v", context.Cause(ctx4))
	}
}
