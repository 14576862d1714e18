package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DocsTracingKeys are the top-level keys of the live OpenAPI document and
// of tracing (inlined in Config).
type DocsTracingKeys struct {
	// OpenAPI serves the API's OpenAPI 3.1 document on the public listener.
	OpenAPI OpenAPIConfig `yaml:"openapi"`
	// Tracing exports OpenTelemetry spans over OTLP.
	Tracing TracingConfig `yaml:"tracing"`
}

// OpenAPIConfig is the live OpenAPI document.
type OpenAPIConfig struct {
	// Enabled serves the document; default true.
	Enabled *bool `yaml:"enabled"`
	// Path is where the document is served on every public listener;
	// default /openapi.json. It wins over a backend route of the same path.
	Path string `yaml:"path"`
	// DocsPath, when set (e.g. /docs), serves the API documentation page
	// (the document rendered by the embedded swagger-ui, with "try it
	// out" against the listener) there on the public listener; default
	// off. Needs the document on. It wins over a backend route under it.
	DocsPath string `yaml:"docs_path"`
}

// On reports whether the document is served (Enabled unset or true).
func (o OpenAPIConfig) On() bool { return o.Enabled == nil || *o.Enabled }

// ServedPath is the document's path, /openapi.json when Path is unset.
func (o OpenAPIConfig) ServedPath() string {
	if o.Path == "" {
		return "/openapi.json"
	}
	return o.Path
}

// TracingConfig turns on OpenTelemetry tracing: a server span per public
// request, a client span per upstream call, W3C trace context passed to
// the backends, and spans exported over OTLP. Off by default; the
// standard OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout, certificates),
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_TRACES_SAMPLER(_ARG)
// variables fill in what the file leaves unset; OTEL_SDK_DISABLED=true
// turns it off.
type TracingConfig struct {
	// Enabled turns tracing on; setting otlp_endpoint does too.
	Enabled bool `yaml:"enabled"`
	// OTLPEndpoint is the collector: host:port, or a URL (https://
	// implies TLS); with protocol http a URL without a path gets
	// /v1/traces, as OTEL_EXPORTER_OTLP_ENDPOINT does.
	// Default: the OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables, else
	// localhost:4317 (grpc) or localhost:4318 (http).
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// Protocol is grpc (the default) or http (OTLP/HTTP protobuf).
	Protocol string `yaml:"protocol"`
	// Insecure sends spans without TLS.
	Insecure bool `yaml:"insecure"`
	// SampleRatio is the share of new traces recorded, 0 to 1; a request
	// that arrives with a traceparent follows its sampled flag. Default:
	// OTEL_TRACES_SAMPLER, else 1.
	SampleRatio *float64 `yaml:"sample_ratio"`
	// ServiceName is the service.name resource attribute; default
	// OTEL_SERVICE_NAME, else "refract".
	ServiceName string `yaml:"service_name"`
	// Headers are sent with every export (e.g. an API key of the
	// collector), besides OTEL_EXPORTER_OTLP_HEADERS.
	Headers map[string]string `yaml:"headers"`
}

// On reports whether tracing is configured: Enabled or an OTLPEndpoint.
func (t TracingConfig) On() bool { return t.Enabled || t.OTLPEndpoint != "" }

// validateDocsTracing checks the openapi and tracing keys.
func (c *Config) validateDocsTracing() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if p := c.OpenAPI.Path; p != "" && (!strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#{}* ")) {
		bad("openapi.path", "%q must be a plain absolute path such as /openapi.json", p)
	}
	if p := c.OpenAPI.DocsPath; p != "" {
		switch {
		case !strings.HasPrefix(p, "/") || p == "/" || strings.HasSuffix(p, "/") || strings.ContainsAny(p, "?#{}* "):
			bad("openapi.docs_path", "%q must be a plain absolute path such as /docs", p)
		case !c.OpenAPI.On():
			bad("openapi.docs_path", "the documentation page needs the document: remove openapi.enabled: false, or docs_path")
		case strings.HasPrefix(c.OpenAPI.ServedPath(), p+"/"):
			bad("openapi.docs_path", "%q would hide the document at %s", p, c.OpenAPI.ServedPath())
		}
	}
	t := c.Tracing
	switch t.Protocol {
	case "", "grpc", "http":
	default:
		bad("tracing.protocol", "%q is not grpc or http", t.Protocol)
	}
	if r := t.SampleRatio; r != nil && (*r < 0 || *r > 1) {
		bad("tracing.sample_ratio", "%v is not between 0 and 1", *r)
	}
	if e := t.OTLPEndpoint; e != "" {
		if err := CheckEndpoint(e); err != nil {
			bad("tracing.otlp_endpoint", "%v", err)
		}
	}
	return errs
}

// CheckEndpoint accepts host:port or an http(s) URL with a host.
func CheckEndpoint(e string) error {
	if strings.Contains(e, "://") {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q is not host:port or an http(s):// URL", e)
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(e); err != nil {
		return fmt.Errorf("%q is not host:port or an http(s):// URL", e)
	}
	return nil
}
