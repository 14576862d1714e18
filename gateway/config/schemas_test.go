package config

import (
	"strings"
	"testing"
	"time"
)

func TestSchemaKeysDefaults(t *testing.T) {
	cfg, err := Parse([]byte("upstreams:\n  - name: a\n    static: [\"127.0.0.1:1\"]\n  - name: b\n    static: [\"127.0.0.1:2\"]\n    descriptors: {files: [b.binpb]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Upstreams[0], cfg.Upstreams[1]
	if strings.Join(a.Descriptors.Sources, ",") != "reflection" || a.SchemaChanges.Breaking != "adopt" {
		t.Fatalf("defaults %+v", a.SchemaKeys)
	}
	if strings.Join(b.Descriptors.Sources, ",") != "files" {
		t.Fatalf("files alone default to the files source: %+v", b.Descriptors)
	}
}

func TestSchemaKeys(t *testing.T) {
	t.Setenv("LIB_TOKEN", "Bearer t0ken")
	cfg, err := Parse([]byte(`reflection: {snapshot_dir: ` + t.TempDir() + `, history: 20}
upstreams:
  - name: library
    static: ["127.0.0.1:1"]
    descriptors:
      sources: [reflection, files]
      files: [library.binpb]
      metadata: {authorization: {env: LIB_TOKEN}}
      timeout: 3s
    schema_changes: {breaking: hold}
`))
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.Upstreams[0]
	if time.Duration(u.Descriptors.Timeout) != 3*time.Second || u.SchemaChanges.Breaking != "hold" || cfg.Reflection.History != 20 {
		t.Fatalf("%+v %+v", u.SchemaKeys, cfg.Reflection)
	}
}

func TestSchemaKeysErrors(t *testing.T) {
	const head = "upstreams:\n  - name: a\n    static: [\"127.0.0.1:1\"]\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown source", "    descriptors: {sources: [consul]}\n", `line 4: upstreams[0].descriptors.sources[0]: "consul" is not reflection or files`},
		{"twice", "    descriptors: {sources: [reflection, reflection]}\n", `line 4: upstreams[0].descriptors.sources[1]: "reflection" is listed twice`},
		{"files source without files", "    descriptors: {sources: [files]}\n", "line 4: upstreams[0].descriptors.files: required by the files source"},
		{"files never read", "    descriptors: {sources: [reflection], files: [x.binpb]}\n", "line 4: upstreams[0].descriptors.sources: lists no files source"},
		{"metadata key", "    descriptors: {metadata: {Authorization: {value: x}}}\n", "upstreams[0].descriptors.metadata.Authorization: must be a lower-case gRPC metadata key"},
		{"reserved metadata", "    descriptors: {metadata: {grpc-timeout: {value: 1S}}}\n", "upstreams[0].descriptors.metadata.grpc-timeout: must be a lower-case gRPC metadata key"},
		{"unset env", "    descriptors: {metadata: {authorization: {env: REFRACT_TEST_UNSET}}}\n", "environment variable REFRACT_TEST_UNSET is not set"},
		{"guard", "    schema_changes: {breaking: ignore}\n", `line 4: upstreams[0].schema_changes.breaking: "ignore" is not adopt or hold`},
		{"hold without a snapshot", "    schema_changes: {breaking: hold}\n", "line 4: upstreams[0].schema_changes.breaking: hold needs reflection.snapshot_dir"},
		{"history", "reflection: {history: -1}\n", "reflection.history: must be 1-1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(head + tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
