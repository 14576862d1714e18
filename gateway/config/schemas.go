package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// SchemaKeys are an upstream's schema operations (inlined in Upstream):
// where its descriptors come from and what happens when they change in a
// way that breaks clients.
type SchemaKeys struct {
	// Descriptors are the upstream's descriptor sources; default
	// reflection alone.
	Descriptors DescriptorsConfig `yaml:"descriptors"`
	// SchemaChanges is the guard against breaking deploys.
	SchemaChanges SchemaChangesConfig `yaml:"schema_changes"`
}

// DescriptorsConfig says where an upstream's descriptors come from.
type DescriptorsConfig struct {
	// Sources are tried in this order on every fetch: reflection (the
	// gRPC server reflection protocol) and files (Files). A later source
	// is the fallback while the upstream has no descriptors from an
	// earlier one. Default [reflection], or [files] when only files are
	// set.
	Sources []string `yaml:"sources"`
	// Files are binary FileDescriptorSet files (protoc
	// --descriptor_set_out --include_imports, buf build -o x.binpb), read
	// when the gateway is built (a missing or malformed file refuses the
	// config then) and again on every refresh.
	Files []string `yaml:"files"`
	// Metadata is sent with every reflection call, e.g. authorization:
	// {env: LIBRARY_REFLECTION_TOKEN}; keys are lower-case metadata keys.
	Metadata map[string]SecretConfig `yaml:"metadata"`
	// Timeout bounds one fetch of the upstream's descriptors; default
	// reflection.fetch_timeout.
	Timeout Duration `yaml:"timeout"`
}

// SchemaChangesConfig is what to do with a new schema.
type SchemaChangesConfig struct {
	// Breaking is adopt (the default: routes follow the new schema at
	// once) or hold (routes keep the serving schema until POST
	// /admin/descriptors/{upstream}/approve, or until the change is
	// reverted; needs reflection.snapshot_dir, so that the serving schema
	// outlives restarts and reloads). Non-breaking changes are always
	// adopted at once.
	Breaking string `yaml:"breaking"`
}

// ApplyDefaults fills the unset schema keys with their defaults.
func (k *SchemaKeys) ApplyDefaults() {
	d := &k.Descriptors
	if len(d.Sources) == 0 {
		d.Sources = []string{"reflection"}
		if len(d.Files) > 0 {
			d.Sources = []string{"files"}
		}
	}
	if k.SchemaChanges.Breaking == "" {
		k.SchemaChanges.Breaking = "adopt"
	}
}

// metadataKey is a gRPC ASCII metadata key refract may send.
var metadataKey = regexp.MustCompile(`^[a-z0-9_.-]+$`)

// validate checks the schema keys of the upstream at key. The
// descriptor-set files are read when the gateway is built, like TLS files:
// a config is valid on another machine than the one serving it.
func (k *SchemaKeys) validate(key, snapshotDir string, bad func(key, format string, args ...any)) {
	d := &k.Descriptors
	for i, s := range d.Sources {
		switch {
		case s != "reflection" && s != "files":
			bad(fmt.Sprintf("%s.descriptors.sources[%d]", key, i), "%q is not reflection or files", s)
		case slices.Contains(d.Sources[:i], s):
			bad(fmt.Sprintf("%s.descriptors.sources[%d]", key, i), "%q is listed twice", s)
		}
	}
	if slices.Contains(d.Sources, "files") && len(d.Files) == 0 {
		bad(key+".descriptors.files", "required by the files source: binary FileDescriptorSet files")
	} else if len(d.Files) > 0 && !slices.Contains(d.Sources, "files") {
		bad(key+".descriptors.sources", "lists no files source, so descriptors.files would never be read; add files")
	}
	for i, f := range d.Files {
		if f == "" {
			bad(fmt.Sprintf("%s.descriptors.files[%d]", key, i), "empty path")
		}
	}
	for name, s := range d.Metadata {
		mk := key + ".descriptors.metadata." + name
		if !metadataKey.MatchString(name) || strings.HasPrefix(name, "grpc-") || strings.HasSuffix(name, "-bin") {
			bad(mk, "must be a lower-case gRPC metadata key (letters, digits, '-', '_', '.'), not grpc-* or *-bin")
		}
		if v, err := s.Read(); err != nil {
			bad(mk, "%v", err)
		} else if strings.ContainsFunc(string(v), func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			bad(mk, "the value must be printable ASCII")
		}
	}
	switch k.SchemaChanges.Breaking {
	case "adopt":
	case "hold":
		if snapshotDir == "" {
			bad(key+".schema_changes.breaking", "hold needs reflection.snapshot_dir: without a persisted serving schema, a restart or reload would adopt whatever the backend serves")
		}
	default:
		bad(key+".schema_changes.breaking", "%q is not adopt or hold", k.SchemaChanges.Breaking)
	}
}
