package configsource

import (
	"context"

	"github.com/rs/zerolog"
)

// Static is a config held in memory: it never changes on its own.
// Safe for concurrent use.
type Static struct {
	// Name names it in logs; Bytes is the YAML.
	Name  string
	Bytes []byte
}

// Read returns the bytes.
func (s *Static) Read(context.Context) (Data, error) {
	return Data{Bytes: s.Bytes, Source: s.Name}, nil
}

// Watch waits for ctx: the bytes never change.
func (s *Static) Watch(ctx context.Context, _ zerolog.Logger, _ func(Data)) {
	<-ctx.Done()
}

// Close does nothing.
func (s *Static) Close() error { return nil }

func (s *Static) String() string { return s.Name }
