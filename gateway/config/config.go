package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/refract-gateway/refract/gateway/config/yamlcheck"
	"github.com/refract-gateway/refract/policy/logqueue"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/compat"
	"github.com/refract-gateway/refract/transcode/httpmeta"
	"go.yaml.in/yaml/v3"
	"google.golang.org/genproto/googleapis/api/annotations"
)

// Config is refract's whole configuration, as read from YAML: plain data.
// Keys are strict: an unknown key is an error naming its line. Use Load
// or Parse, which apply defaults and validate; a Config built in code
// takes ApplyDefaults and Validate. Not safe for concurrent mutation;
// a Config nobody changes may be read by any number of goroutines.
type Config struct {
	// Listen is the public HTTP listener (HTTP/1.1 and h2c, or TLS when TLS
	// is set). Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// TLS serves the public listener over TLS (HTTP/1.1 and HTTP/2).
	TLS *ServerTLS `yaml:"tls"`
	// Admin is the admin listener (/healthz, /readyz); default
	// 127.0.0.1:9901; "off" disables it.
	Admin string `yaml:"admin"`
	// AdminSecurity guards the admin listener: allowed Hosts, bearer
	// tokens, TLS and mutual TLS, pprof (see AdminSecurityConfig).
	AdminSecurity AdminSecurityConfig `yaml:"admin_security"`
	// Log sets the log level (debug, info, warn, error; default info) and
	// format (json, the default, or console).
	Log LogConfig `yaml:"log"`
	// Reflection tunes the descriptor cache.
	Reflection ReflectionConfig `yaml:"reflection"`
	// MaxBodyBytes caps request bodies; larger ones get 413. Default 4 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// on SIGINT/SIGTERM. Default 15s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// Consul is how to reach Consul, for upstreams discovered there and
	// for auto-exposure; unset when nothing uses Consul.
	Consul *ConsulConfig `yaml:"consul"`
	// Etcd is how to reach etcd, for upstreams discovered there.
	Etcd *EtcdConfig `yaml:"etcd"`
	// Upstreams are the gRPC backends; at least one, unless
	// consul.auto_expose finds them.
	Upstreams []Upstream `yaml:"upstreams"`
	// PolicyKeys configure the policy chain (see PolicyKeys).
	PolicyKeys `yaml:",inline"`
	// LimitKeys bound requests, connections and responses (see LimitsConfig).
	LimitKeys `yaml:",inline"`
	// LifecycleKeys configure reloads and draining (see LifecycleKeys).
	LifecycleKeys `yaml:",inline"`
	// DocsTracingKeys configure the OpenAPI document and tracing (see
	// OpenAPIConfig and TracingConfig).
	DocsTracingKeys `yaml:",inline"`
	// ProtocolKeys configure response compression (see ProtocolKeys).
	ProtocolKeys `yaml:",inline"`
	// Aggregates are HTTP routes answered by several gRPC calls merged
	// into one JSON object (see Aggregate).
	Aggregates []Aggregate `yaml:"aggregates"`
}

// ServerTLS names the certificate and key files of a TLS listener; both
// are required.
type ServerTLS struct {
	// Cert is the PEM certificate chain file.
	Cert string `yaml:"cert"`
	// Key is the PEM private key file.
	Key string `yaml:"key"`
}

// LogConfig is the logging setup.
type LogConfig struct {
	// Level is debug, info (the default), warn or error.
	Level string `yaml:"level"`
	// Format is json (the default) or console.
	Format string `yaml:"format"`
}

// ReflectionConfig tunes the descriptor cache shared by all upstreams.
type ReflectionConfig struct {
	// RefreshInterval is how often descriptors are re-fetched (jittered);
	// default 30s.
	RefreshInterval Duration `yaml:"refresh_interval"`
	// FetchTimeout bounds one fetch; default 10s.
	FetchTimeout Duration `yaml:"fetch_timeout"`
	// MaxFiles, MaxBytes and MaxMethods bound one upstream's descriptor
	// set (files with their dependencies, bytes of the reflection answers,
	// methods); MaxRoutes the routes built from it. A set over a limit is
	// refused and the last good one kept. Defaults 1000, 16 MiB, 5000 and
	// 10000.
	MaxFiles   int   `yaml:"max_files"`
	MaxBytes   int64 `yaml:"max_bytes"`
	MaxMethods int   `yaml:"max_methods"`
	MaxRoutes  int   `yaml:"max_routes"`
	// SnapshotDir, when set, is where each upstream's adopted descriptor
	// set is persisted and loaded from at start, so that a restart while
	// a backend's reflection is down serves its routes (marked stale).
	// Created when missing. Default none.
	SnapshotDir string `yaml:"snapshot_dir"`
	// History is how many schema versions each upstream keeps for the
	// admin API's history, diffs and downloads; default 10.
	History int `yaml:"history"`
	// Serve answers gRPC server reflection (v1 and v1alpha) on the public
	// listeners with the union of the published services, behind the
	// policies every route has, for grpcurl, buf curl and Postman. Default
	// false.
	Serve bool `yaml:"serve"`
}

// Upstream is one gRPC backend (a set of endpoints serving the same API).
type Upstream struct {
	// Name identifies the upstream in logs, errors and the admin API.
	Name string `yaml:"name"`
	// Static lists fixed endpoints, host:port. Exactly one of static,
	// consul, etcd and dns is required.
	Static []string `yaml:"static"`
	// Consul, Etcd and DNS discover the endpoints there.
	Consul *UpstreamConsul `yaml:"consul"`
	Etcd   *UpstreamEtcd   `yaml:"etcd"`
	DNS    *UpstreamDNS    `yaml:"dns"`
	// Timeout is the deadline of each call unless the client asks for a
	// shorter one with Grpc-Timeout. Default 30s.
	Timeout Duration `yaml:"timeout"`
	// Balancer is the grpc-go load-balancing policy: round_robin (default),
	// pick_first or least_request.
	Balancer string `yaml:"balancer"`
	// HealthCheck makes grpc-go check each endpoint with the standard
	// grpc.health.v1 service and send calls only to SERVING ones.
	HealthCheck bool `yaml:"health_check"`
	// UnaryTransport carries unary calls: "lean" (the default: refract's
	// own HTTP/2 client, a connection per endpoint beside grpc-go's, a
	// fraction of grpc-go's cost per call) or "grpc-go" (as streams always
	// are). Unary calls take grpc-go anyway with health_check, tracing or
	// grpc_compression on, and on traffic or schema subsets.
	UnaryTransport string `yaml:"unary_transport"`
	// TLS connects to the upstream over TLS (mTLS when cert and key are set);
	// plaintext HTTP/2 when absent.
	TLS *UpstreamTLS `yaml:"tls"`
	// DefaultRoutes gives methods without google.api.http rules the route
	// POST /{package.Service}/{Method}; default true.
	DefaultRoutes *bool `yaml:"default_routes"`
	// Strict turns unknown JSON fields and query parameters into 400 errors.
	Strict bool `yaml:"strict"`
	// JSON sets the response mapping options.
	JSON JSONConfig `yaml:"json"`
	// ForwardHeaders lists the request headers passed to the upstream as
	// metadata (Grpc-Metadata-* always are). Default: Authorization,
	// X-Request-Id, Traceparent, Tracestate.
	ForwardHeaders []string `yaml:"forward_headers"`
	// ResponseHeaders lists the headers a backend may set on successful
	// HTTP+JSON responses through response metadata of the same name
	// (Location, Set-Cookie, Cache-Control, ETag …), beside the
	// Grpc-Metadata-* copies. Default none.
	ResponseHeaders []string `yaml:"response_headers"`
	// GRPCCompression compresses the requests of HTTP+JSON calls to the
	// upstream: gzip, or identity (the default). Native gRPC calls keep
	// the client's own compression.
	GRPCCompression string `yaml:"grpc_compression"`
	// ETag gives successful responses of GET routes and NO_SIDE_EFFECTS
	// methods an ETag (the backend's, set through response_headers, else
	// a hash of the body) and answers a matching If-None-Match with 304
	// Not Modified. Default false.
	ETag bool `yaml:"etag"`
	// Cache keeps successful responses of GET routes and NO_SIDE_EFFECTS
	// methods (see CacheConfig); unset: none.
	Cache *CacheConfig `yaml:"cache"`
	// Rules add or replace HTTP rules by method full name (selector); a rule
	// here replaces the method's google.api.http annotation.
	Rules []HTTPRule `yaml:"rules"`
	// Optional upstreams do not hold /readyz at 503 while their descriptors
	// are missing.
	Optional bool `yaml:"optional"`
	// MayOverlap names other upstreams whose routes may overlap this
	// one's (either side naming the other is enough); the more specific
	// template then wins. Without it, a route that can match a path
	// another upstream's route matches is refused (docs/routes.md).
	MayOverlap []string `yaml:"may_overlap"`
	// UpstreamPolicyKeys publish methods and attach policies (see
	// UpstreamPolicyKeys).
	UpstreamPolicyKeys `yaml:",inline"`
	// Streams limits and shapes streaming calls (see StreamConfig).
	Streams StreamConfig `yaml:"streams"`
	// Compat is the wire dialect of the upstream's routes: "refract" (the
	// default) or "grpc-gateway", which answers as grpc-gateway v2 does
	// where safety is not at stake (docs/migrating-from-grpc-gateway.md).
	Compat string `yaml:"compat"`
	// SchemaKeys are the descriptor sources and the guard against
	// breaking schema changes (see SchemaKeys).
	SchemaKeys `yaml:",inline"`
}

// UpstreamTLS is how refract dials an upstream over TLS.
type UpstreamTLS struct {
	// CA is a PEM file of roots to verify the upstream with; the system
	// roots when empty.
	CA string `yaml:"ca"`
	// Cert and Key are the client certificate for mTLS.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ServerName overrides the name verified in the upstream's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables verification; for tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// JSONConfig is an upstream's proto3 JSON response mapping.
type JSONConfig struct {
	// UseProtoNames writes .proto field names instead of json_name.
	UseProtoNames bool `yaml:"use_proto_names"`
	// EmitUnpopulated writes fields at their zero value; default true.
	EmitUnpopulated *bool `yaml:"emit_unpopulated"`
}

// HTTPRule is a google.api.http rule in YAML, as in a Google service config's
// http.rules: one of get/put/post/delete/patch/custom, body, response_body
// and additional_bindings.
type HTTPRule struct {
	// Selector is the method's full name, package.Service.Method.
	Selector string `yaml:"selector"`
	// Get, Put, Post, Delete and Patch give the path template of that
	// HTTP method; a rule has exactly one of them or custom.
	Get    string `yaml:"get"`
	Put    string `yaml:"put"`
	Post   string `yaml:"post"`
	Delete string `yaml:"delete"`
	Patch  string `yaml:"patch"`
	// Custom is a rule with another HTTP method.
	Custom *CustomPattern `yaml:"custom"`
	// Body is the request field the body fills: "*" for the whole
	// message, a field name, or empty for none.
	Body string `yaml:"body"`
	// ResponseBody is the response field sent as the body; empty for the
	// whole message.
	ResponseBody string `yaml:"response_body"`
	// AdditionalBindings serve the method under more rules (which do not
	// nest).
	AdditionalBindings []HTTPRule `yaml:"additional_bindings"`
}

// CustomPattern is a rule with a custom HTTP method; both keys are
// required.
type CustomPattern struct {
	// Kind is the HTTP method, e.g. HEAD.
	Kind string `yaml:"kind"`
	// Path is the path template.
	Path string `yaml:"path"`
}

// Duration is a time.Duration written as "1.5s", "300ms", "2m"; never
// negative.
type Duration = yamlcheck.Duration

// Load reads, parses and validates the YAML file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse parses YAML strictly, applies defaults and validates the whole
// configuration. It reports every problem at once, in line order, each
// with its line and key path where the file has them: unknown keys (with
// the nearest known key as a suggestion), values of the wrong type, bad
// durations and everything Validate refuses, e.g.
//
//	line 7: upstreams[0].timeout: "10 seconds" is not a duration (e.g. 500ms, 10s, 1m)
//
// It reads nothing but data (and the secret and JWKS files the config
// names) and dials nothing.
func Parse(data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		if m := yamlSyntaxError.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("line %s: not valid YAML: %s", m[1], m[2])
		}
		return nil, fmt.Errorf("config: not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
		return nil, fmt.Errorf("config: empty file")
	}
	root := doc.Content[0]
	s := yamlcheck.New()
	if !s.Check(root, reflect.TypeFor[Config]()) || root.Kind != yaml.MappingNode {
		return nil, errors.Join(s.Errors()...)
	}
	var cfg Config
	if err := root.Decode(&cfg); err != nil { // check let through what decodes
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg.ApplyDefaults()
	if err := s.Locate(cfg.Validate()); err != nil {
		return nil, err
	}
	return &cfg, nil
}

var yamlSyntaxError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// ApplyDefaults fills every key left unset with its default (named on
// each field), in the config and its upstreams; Parse calls it.
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.Admin == "" {
		c.Admin = "127.0.0.1:9901"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 4 << 20
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = Duration(15 * time.Second)
	}
	if c.Reflection.RefreshInterval == 0 {
		c.Reflection.RefreshInterval = Duration(30 * time.Second)
	}
	if c.Reflection.FetchTimeout == 0 {
		c.Reflection.FetchTimeout = Duration(10 * time.Second)
	}
	r := &c.Reflection
	r.MaxFiles, r.MaxBytes = cmp.Or(r.MaxFiles, 1000), cmp.Or(r.MaxBytes, 16<<20)
	r.MaxMethods, r.MaxRoutes = cmp.Or(r.MaxMethods, 5000), cmp.Or(r.MaxRoutes, 10_000)
	if c.Consul != nil {
		c.Consul.ApplyDefaults()
		if a := c.Consul.AutoExpose; a != nil {
			a.Upstream.ApplyDefaults()
		}
	}
	for i := range c.Upstreams {
		c.Upstreams[i].ApplyDefaults()
	}
	c.applyLifecycleDefaults()
	// The defaults the runtime would apply anyway, written out so that the
	// effective config (GET /admin/config) shows what is in force. The
	// tracing collector, sample ratio and service name stay unset: their
	// defaults come from the OTEL_* environment when tracing starts.
	if c.AccessLog.Enabled == nil {
		c.AccessLog.Enabled = Ptr(true)
	}
	if c.AccessLog.Sample == 0 {
		c.AccessLog.Sample = 1
	}
	if c.AccessLog.QueueLines == 0 {
		c.AccessLog.QueueLines = logqueue.DefaultLines
	}
	if c.OpenAPI.Enabled == nil {
		c.OpenAPI.Enabled = Ptr(true)
	}
	if c.OpenAPI.Path == "" {
		c.OpenAPI.Path = "/openapi.json"
	}
	if c.Tracing.Protocol == "" {
		c.Tracing.Protocol = "grpc"
	}
	c.AdminSecurity.applyDefaults()
}

// ApplyDefaults fills the upstream's unset keys with their defaults.
func (u *Upstream) ApplyDefaults() {
	if u.Consul != nil {
		u.Consul.ApplyDefaults()
	}
	u.applyDiscoveryDefaults()
	if u.Timeout == 0 {
		u.Timeout = Duration(30 * time.Second)
	}
	if u.Balancer == "" {
		u.Balancer = "round_robin"
	}
	if u.UnaryTransport == "" {
		u.UnaryTransport = "lean"
	}
	if u.DefaultRoutes == nil {
		u.DefaultRoutes = Ptr(true)
	}
	if u.JSON.EmitUnpopulated == nil {
		u.JSON.EmitUnpopulated = Ptr(true)
	}
	u.Streams.ApplyDefaults()
	u.SchemaKeys.ApplyDefaults()
}

// Ptr returns a pointer to a copy of v, for the optional (pointer) keys.
func Ptr[T any](v T) *T { return &v }

// UpstreamName is the form of upstream, subset and product names: 1-64
// lower-case letters, digits, '.', '_' or '-', starting and ending with a
// letter or digit.
var UpstreamName = regexp.MustCompile(`^[a-z0-9]([a-z0-9_.-]{0,62}[a-z0-9])?$`)

// Validate checks the whole configuration, policy keys included, and
// reports every problem found, each as "config: key.path: what is wrong"
// (Parse puts the line of the key in front instead). What passes builds:
// the gateway refuses nothing Validate let through but for what only
// running can tell (an unreadable TLS file, a port in use). It reads the
// secret and JWKS files and variables the config names, constructs no
// client and dials nothing.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port", c.Listen)
	}
	if c.Admin != "off" {
		if _, _, err := net.SplitHostPort(c.Admin); err != nil {
			bad("admin", "%q is not host:port (or \"off\")", c.Admin)
		} else if _, port, _ := net.SplitHostPort(c.Admin); c.Admin == c.Listen && port != "0" {
			bad("admin", "must differ from listen: the admin API is never served on the public listener")
		}
	}
	if c.TLS != nil && (c.TLS.Cert == "" || c.TLS.Key == "") {
		bad("tls", "both cert and key are required")
	}
	c.AdminSecurity.validate(bad)
	c.Compression.validate(bad)
	c.validateCaches(bad)
	c.Runtime.validate(bad)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		bad("log.format", "%q is not json or console", c.Log.Format)
	}
	if c.MaxBodyBytes < 0 {
		bad("max_body_bytes", "must be positive")
	}
	for key, v := range map[string]int64{"max_files": int64(c.Reflection.MaxFiles), "max_bytes": c.Reflection.MaxBytes,
		"max_methods": int64(c.Reflection.MaxMethods), "max_routes": int64(c.Reflection.MaxRoutes)} {
		if v < 0 {
			bad("reflection."+key, "must be positive (or left out for the default), not %d", v)
		}
	}
	if h := c.Reflection.History; h < 0 || h > 1000 {
		bad("reflection.history", "must be 1-1000 (or left out for the default of 10), not %d", h)
	}
	if fi, err := os.Stat(c.Reflection.SnapshotDir); c.Reflection.SnapshotDir != "" && err == nil && !fi.IsDir() {
		bad("reflection.snapshot_dir", "%s is not a directory", c.Reflection.SnapshotDir)
	}
	if c.Consul != nil {
		c.Consul.validate(bad)
		if a := c.Consul.AutoExpose; a != nil {
			t := a.Upstream
			t.Name, t.Consul = "auto", &UpstreamConsul{Service: "auto"}
			t.validate("consul.auto_expose.upstream", c, bad)
		}
	}
	if c.Etcd != nil {
		c.Etcd.validate(bad)
	}
	if len(c.Upstreams) == 0 && (c.Consul == nil || c.Consul.AutoExpose == nil) {
		bad("upstreams", "at least one upstream is required (or consul.auto_expose)")
	}
	seen := map[string]bool{}
	for i, u := range c.Upstreams {
		key := fmt.Sprintf("upstreams[%d]", i)
		if seen[u.Name] {
			bad(key+".name", "%q is used twice", u.Name)
		}
		seen[u.Name] = true
		u.validate(key, c, bad)
	}
	errs = append(errs, c.validateLimits()...)
	errs = append(errs, c.validateDocsTracing()...)
	errs = append(errs, c.validatePolicies()...)
	c.validateAggregates(bad)
	return errors.Join(errs...)
}

// validate checks one upstream; key prefixes its problems.
func (u *Upstream) validate(key string, c *Config, bad func(key, format string, args ...any)) {
	if !UpstreamName.MatchString(u.Name) {
		bad(key+".name", "%q must be 1-64 lower-case letters, digits, '.', '_' or '-'", u.Name)
	}
	u.validateSource(key, c, bad)
	switch u.Balancer {
	case "round_robin", "pick_first", "least_request":
	default:
		bad(key+".balancer", "%q is not round_robin, pick_first or least_request", u.Balancer)
	}
	if t := u.UnaryTransport; t != "lean" && t != "grpc-go" {
		bad(key+".unary_transport", "%q is not lean or grpc-go", t)
	}
	if _, err := compat.ParseMode(u.Compat); err != nil {
		bad(key+".compat", "%q is not refract or grpc-gateway", u.Compat)
	}
	if u.TLS != nil && (u.TLS.Cert == "") != (u.TLS.Key == "") {
		bad(key+".tls", "cert and key go together")
	}
	if _, err := transcode.NewHeaderRules(u.ForwardHeaders); err != nil {
		bad(key+".forward_headers", "%v", err)
	}
	if _, err := httpmeta.NewRules(u.ResponseHeaders); err != nil {
		bad(key+".response_headers", "%v", err)
	}
	if c := u.GRPCCompression; c != "" && c != "gzip" && c != "identity" {
		bad(key+".grpc_compression", "%q is not gzip or identity", c)
	}
	u.Streams.validate(key+".streams", bad)
	u.SchemaKeys.validate(key, c.Reflection.SnapshotDir, bad)
	for j, o := range u.MayOverlap {
		if !UpstreamName.MatchString(o) || o == u.Name {
			bad(fmt.Sprintf("%s.may_overlap[%d]", key, j), "%q must name another upstream (1-64 lower-case letters, digits, '.', '_' or '-')", o)
		}
	}
	selectors := map[string]bool{}
	for j, r := range u.Rules {
		rk := fmt.Sprintf("%s.rules[%d]", key, j)
		if r.Selector == "" {
			bad(rk+".selector", "required: the method's full name, e.g. library.v1.LibraryService.GetShelf")
		} else if selectors[r.Selector] {
			bad(rk+".selector", "%q has two rules; use additional_bindings", r.Selector)
		}
		selectors[r.Selector] = true
		if _, err := r.Proto(true); err != nil {
			bad(rk, "%v", err)
		}
	}
}

// Proto converts the rule to the annotation type the transcoder compiles;
// top is false for an additional binding, which must not nest.
func (r HTTPRule) Proto(top bool) (*annotations.HttpRule, error) {
	out := &annotations.HttpRule{Selector: r.Selector, Body: r.Body, ResponseBody: r.ResponseBody}
	n := 0
	if r.Get != "" {
		n++
		out.Pattern = &annotations.HttpRule_Get{Get: r.Get}
	}
	if r.Put != "" {
		n++
		out.Pattern = &annotations.HttpRule_Put{Put: r.Put}
	}
	if r.Post != "" {
		n++
		out.Pattern = &annotations.HttpRule_Post{Post: r.Post}
	}
	if r.Delete != "" {
		n++
		out.Pattern = &annotations.HttpRule_Delete{Delete: r.Delete}
	}
	if r.Patch != "" {
		n++
		out.Pattern = &annotations.HttpRule_Patch{Patch: r.Patch}
	}
	if r.Custom != nil {
		n++
		if strings.TrimSpace(r.Custom.Kind) == "" || r.Custom.Path == "" {
			return nil, fmt.Errorf("custom needs kind and path")
		}
		if !methodName(r.Custom.Kind) {
			return nil, fmt.Errorf("custom.kind %q is not an HTTP method name: use letters, digits, '-' or '_' (such as PURGE); \"*\" would read as any method", r.Custom.Kind)
		}
		out.Pattern = &annotations.HttpRule_Custom{Custom: &annotations.CustomHttpPattern{Kind: r.Custom.Kind, Path: r.Custom.Path}}
	}
	if n != 1 {
		return nil, fmt.Errorf("exactly one of get, put, post, delete, patch, custom is required (found %d)", n)
	}
	for i, ab := range r.AdditionalBindings {
		if !top {
			return nil, fmt.Errorf("additional_bindings must not nest")
		}
		if ab.Selector != "" {
			return nil, fmt.Errorf("additional_bindings[%d]: selector belongs on the outer rule only", i)
		}
		p, err := ab.Proto(false)
		if err != nil {
			return nil, fmt.Errorf("additional_bindings[%d]: %w", i, err)
		}
		out.AdditionalBindings = append(out.AdditionalBindings, p)
	}
	return out, nil
}

// methodName reports an HTTP method name a custom rule may declare:
// letters, digits, '-' and '_', a subset of the RFC 9110 token that
// leaves out the symbols ("*" above all) that read as patterns elsewhere.
func methodName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
