package config

import (
	"fmt"
	"net/textproto"
	"strings"
)

// ProtocolKeys configure how HTTP+JSON responses travel: content coding.
// (Per-upstream caching is CacheConfig.)
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

// CacheConfig is an upstream's response cache.
type CacheConfig struct {
	// TTL keeps a response this long unless the backend's Cache-Control
	// (metadata) says max-age or s-maxage; default 60s.
	TTL Duration `yaml:"ttl"`
	// MaxBytes bounds what the in-process store holds (least recently used
	// go first); default 16 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxEntryBytes bounds one cached body; default 1 MiB.
	MaxEntryBytes int `yaml:"max_entry_bytes"`
	// Vary are request headers whose values are part of the key
	// (Accept-Language …). The caller's identity always is.
	Vary []string `yaml:"vary"`
	// Shared keeps entries in Redis (the top-level redis key), for every
	// instance, instead of in process.
	Shared bool `yaml:"shared"`
}

func (c *Config) validateCaches(bad func(key, format string, args ...any)) {
	for i, u := range c.Upstreams {
		cc := u.Cache
		if cc == nil {
			continue
		}
		key := fmt.Sprintf("upstreams[%d].cache", i)
		if cc.TTL < 0 || cc.MaxBytes < 0 || cc.MaxEntryBytes < 0 {
			bad(key, "ttl, max_bytes and max_entry_bytes must not be negative")
		}
		if cc.Shared && c.Redis == nil {
			bad(key+".shared", "a shared cache needs the redis key")
		}
		for j, h := range cc.Vary {
			if h == "" || strings.ContainsAny(h, " :\t\r\n") || textproto.CanonicalMIMEHeaderKey(h) == "" {
				bad(fmt.Sprintf("%s.vary[%d]", key, j), "%q is not a header name", h)
			}
		}
	}
}
