package config

import "fmt"

// ProtocolKeys configure how HTTP+JSON responses travel: content coding.
type ProtocolKeys struct {
	// Compression compresses responses per Accept-Encoding.
	Compression CompressionConfig `yaml:"compression"`
}

// CompressionConfig is response compression. Request bodies sent with
// Content-Encoding gzip or zstd are always decoded (counted against
// max_body_bytes as decoded bytes), whatever this says.
type CompressionConfig struct {
	// Enabled compresses responses whose client accepts a coding offered
	// here. Default false: responses can carry secrets beside what an
	// attacker chose (BREACH), so it is a decision per deployment.
	Enabled bool `yaml:"enabled"`
	// MinBytes is the smallest response compressed; default 1024.
	// Streamed responses are compressed from their first message.
	MinBytes int `yaml:"min_bytes"`
	// Encodings offered, in order of preference: zstd, br, gzip (the
	// default, all three in that order).
	Encodings []string `yaml:"encodings"`
}

func (c CompressionConfig) validate(bad func(key, format string, args ...any)) {
	if c.MinBytes < 0 {
		bad("compression.min_bytes", "must not be negative, got %d", c.MinBytes)
	}
	seen := map[string]bool{}
	for i, e := range c.Encodings {
		key := fmt.Sprintf("compression.encodings[%d]", i)
		switch {
		case e != "zstd" && e != "br" && e != "gzip":
			bad(key, "%q is not zstd, br or gzip", e)
		case seen[e]:
			bad(key, "%q is listed twice", e)
		}
		seen[e] = true
	}
}
