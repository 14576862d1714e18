package configsource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/rs/zerolog"
)

// Data is one reading of a config: its bytes and where they came
// from.
type Data struct {
	// Bytes is the YAML as read.
	Bytes []byte
	// Source names where it was read (a file path, consul://host/key).
	Source string
	// ModifyIndex is the Consul KV ModifyIndex of the key (0 for files).
	ModifyIndex uint64
	// Track is "candidate" when a gray release is in progress and this
	// instance runs its candidate, "stable" when a release is in progress
	// and it does not, "" when there is no release.
	Track string
}

// Version names the config's bytes: the first 12 hex digits of their
// SHA-256, the same on every instance that reads the same bytes.
func (d Data) Version() string {
	sum := sha256.Sum256(d.Bytes)
	return hex.EncodeToString(sum[:6])
}

// Source is where a Server reads its config and learns that it
// changed. Implementations must be safe for concurrent use: Read may run
// (SIGHUP, POST /admin/reload) while Watch runs.
type Source interface {
	// Read reads the config now.
	Read(ctx context.Context) (Data, error)
	// Watch calls push with the config each time it may have changed,
	// until ctx is done; pushing the same bytes twice is allowed (the
	// server skips bytes it has already tried). Problems reading are
	// logged to log and retried; they never end the watch.
	Watch(ctx context.Context, log zerolog.Logger, push func(Data))
	// Close releases what the source holds (connections); call it after
	// Watch has returned.
	Close() error
	// String names the source for logs and the admin API.
	String() string
}

// Open opens the config at location: a file path, or
// consul://HOST:PORT/KEY (optionally ?dc=DATACENTER) for a config shared
// in Consul KV; the ACL token comes from CONSUL_HTTP_TOKEN.
func Open(location string) (Source, error) { return OpenInstance(location, "") }

// OpenInstance is Open for the instance named instance: in a gray release
// of a Consul KV config, the instance's name decides whether it runs the
// candidate (see Release). An empty name always runs the stable config.
func OpenInstance(location, instance string) (Source, error) {
	if strings.HasPrefix(location, "consul://") {
		return newConsulKV(location, instance)
	}
	if location == "" {
		return nil, errors.New("config: no location given")
	}
	return &File{Path: location}, nil
}
