package gateway_test

import (
	"testing"
	"time"

	"github.com/refract-gateway/refract/gateway/config"
)

// The annotated config of docs/configuration.md and the limits of
// docs/security.md load (keys are strict, so a renamed key
// fails here), and the defaults those comments give are the ones applied.
func TestReadmeConfigurationAndLimitsParse(t *testing.T) {
	block := func(page string) string {
		t.Helper()
		fences, _ := yamlBlocks(docPage(t, page))
		if len(fences) == 0 {
			t.Fatalf("docs/%s has no yaml block", page)
		}
		return fences[0]
	}
	cfg, err := config.Parse([]byte(block("configuration.md")))
	if err != nil {
		t.Fatalf("the Configuration example does not load: %v", err)
	}
	if len(cfg.Upstreams) != 1 || cfg.Upstreams[0].Name != "library" || len(cfg.Upstreams[0].Rules) != 2 {
		t.Fatalf("the Configuration example loaded as %+v", cfg.Upstreams)
	}
	const bare = "upstreams: [{name: library, static: [\"127.0.0.1:50051\"]}]\n"
	def, err := config.Parse([]byte(bare))
	if err != nil {
		t.Fatal(err)
	}
	u, d := cfg.Upstreams[0], def.Upstreams[0]
	for _, c := range []struct {
		key        string
		readme, is any
	}{
		{"listen", cfg.Listen, def.Listen},
		{"admin", cfg.Admin, def.Admin},
		{"log", cfg.Log, def.Log},
		{"max_body_bytes", cfg.MaxBodyBytes, def.MaxBodyBytes},
		{"shutdown_timeout", cfg.ShutdownTimeout, def.ShutdownTimeout},
		{"drain_period", *cfg.DrainPeriod, *def.DrainPeriod},
		{"reload.ready_timeout", cfg.Reload.ReadyTimeout, def.Reload.ReadyTimeout},
		{"reflection", cfg.Reflection, def.Reflection},
		{"upstreams[0].balancer", u.Balancer, d.Balancer},
		{"upstreams[0].timeout", u.Timeout, d.Timeout},
		{"upstreams[0].default_routes", *u.DefaultRoutes, *d.DefaultRoutes},
		{"upstreams[0].json.emit_unpopulated", *u.JSON.EmitUnpopulated, *d.JSON.EmitUnpopulated},
		{"upstreams[0].streams.max_message_bytes", u.Streams.MaxMessageBytes, d.Streams.MaxMessageBytes},
		{"upstreams[0].streams.idle_timeout", u.Streams.IdleTimeout, d.Streams.IdleTimeout},
		{"upstreams[0].streams.max_duration", u.Streams.MaxDuration, d.Streams.MaxDuration},
		{"upstreams[0].streams.max_per_client", u.Streams.MaxPerClient, d.Streams.MaxPerClient},
		{"upstreams[0].streams.keepalive", u.Streams.KeepAlive, d.Streams.KeepAlive},
		{"upstreams[0].streams.buffer_messages", u.Streams.BufferMessages, d.Streams.BufferMessages},
	} {
		if c.readme != c.is {
			t.Errorf("docs/configuration.md: %s is %v, the default is %v", c.key, c.readme, c.is)
		}
	}

	lim, err := config.Parse([]byte(block("security.md") + bare))
	if err != nil {
		t.Fatalf("the Security and limits example does not load: %v", err)
	}
	l := lim.Limits
	for _, c := range []struct {
		key        string
		readme, is any
	}{
		{"max_body_bytes", lim.MaxBodyBytes, def.MaxBodyBytes},
		{"limits.max_url_bytes", l.MaxURLBytes, config.DefaultMaxURLBytes},
		{"limits.max_header_bytes", l.MaxHeaderBytes, config.DefaultMaxHeaderBytes},
		{"limits.max_json_depth", l.MaxJSONDepth, config.DefaultMaxJSONDepth},
		{"limits.max_response_bytes", l.MaxResponseBytes, config.DefaultMaxResponseBytes},
		{"limits.max_concurrent_per_client", l.MaxConcurrentPerClient, config.DefaultMaxConcurrentPerIP},
		{"limits.headers_with_underscores", l.HeadersWithUnderscores, "drop"},
		{"limits.read_header_timeout", time.Duration(l.ReadHeaderTimeout), config.DefaultReadHeaderTimeout},
		{"limits.body_read_timeout", time.Duration(l.BodyReadTimeout), config.DefaultBodyReadTimeout},
		{"limits.min_body_rate", l.MinBodyRate, config.DefaultMinBodyRate},
		{"limits.read_timeout", l.ReadTimeout, config.Duration(0)},
		{"limits.write_timeout", l.WriteTimeout, config.Duration(0)},
		{"limits.idle_timeout", time.Duration(l.IdleTimeout), config.DefaultIdleTimeout},
		{"limits.http2_max_concurrent_streams", l.HTTP2MaxConcurrentStreams, config.DefaultHTTP2MaxStreams},
	} {
		if c.readme != c.is {
			t.Errorf("docs/security.md: %s is %v (%T), the default is %v (%T)", c.key, c.readme, c.readme, c.is, c.is)
		}
	}
}
