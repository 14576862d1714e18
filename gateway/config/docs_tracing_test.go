package config

import (
	"testing"
)

func TestOpenAPIConfigValidation(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"openapi: {path: openapi.json}", `line 5: openapi.path: "openapi.json" must be a plain absolute path such as /openapi.json`},
		{"openapi: {docs_path: docs}", `line 5: openapi.docs_path: "docs" must be a plain absolute path such as /docs`},
		{"openapi: {docs_path: /docs/}", `line 5: openapi.docs_path: "/docs/" must be a plain absolute path such as /docs`},
		{"openapi: {enabled: false, docs_path: /docs}", `line 5: openapi.docs_path: the documentation page needs the document: remove openapi.enabled: false, or docs_path`},
		{"openapi: {path: /docs/openapi.json, docs_path: /docs}", `line 5: openapi.docs_path: "/docs" would hide the document at /docs/openapi.json`},
		{"tracing: {protocol: udp}", `line 5: tracing.protocol: "udp" is not grpc or http`},
		{"tracing: {sample_ratio: 1.5}", `line 5: tracing.sample_ratio: 1.5 is not between 0 and 1`},
		{"tracing: {otlp_endpoint: collector}", `line 5: tracing.otlp_endpoint: "collector" is not host:port or an http(s):// URL`},
	} {
		_, err := Parse([]byte(libraryConfig("127.0.0.1:1", "") + c.yaml + "\n"))
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: error %v, want %s", c.yaml, err, c.want)
		}
	}
	if _, err := Parse([]byte(libraryConfig("127.0.0.1:1", "") + "tracing: {otlp_endpoint: http://127.0.0.1:4318, protocol: http, sample_ratio: 0.5}\nopenapi: {path: /v1/openapi.json, docs_path: /docs}\n")); err != nil {
		t.Errorf("a good config: %v", err)
	}
}
