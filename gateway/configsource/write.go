package configsource

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ErrConflict is returned by Writer.Write when the source no longer
// holds the config the write was based on: someone else wrote it since.
var ErrConflict = errors.New("config: the source changed since it was read (another editor wrote it); read it again and retry")

// MaxHistory is how many versions a source keeps in its history.
const MaxHistory = 50

// Writer is a Source that changes can be written back to.
// Implementations are safe for concurrent use.
type Writer interface {
	// Write replaces the config with b, only if the source still holds
	// prev (a file: the same bytes; Consul KV: check-and-set on prev's
	// ModifyIndex); ErrConflict otherwise. It returns what is now stored.
	Write(ctx context.Context, b []byte, prev Data) (Data, error)
	// Record adds v to the source's history (keeping the last
	// MaxHistory); History returns it, newest first.
	Record(ctx context.Context, v Version) error
	History(ctx context.Context) ([]Version, error)
}

// Version is one entry of a config's history: the bytes, and who wrote
// them when, from where and why.
type Version struct {
	Version string    `json:"version"`
	At      time.Time `json:"at"`
	Who     string    `json:"who"`
	From    string    `json:"from"`
	Summary string    `json:"summary"`
	// Diff is the change against the version before, as its writer
	// described it (the source does not know what a config means).
	Diff json.RawMessage `json:"diff,omitempty"`
	YAML string          `json:"yaml"`
}
