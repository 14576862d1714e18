package server

import (
	"io"
	"os"
	"time"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/rs/zerolog"
)

// NewLogger builds the process logger from the log config, writing to w
// (os.Stderr when nil).
func NewLogger(c config.LogConfig, w io.Writer) zerolog.Logger {
	return newLogger(c, logOutput(c, w))
}

// logOutput is where the log config writes: w (os.Stderr when nil) in the
// format it asks for.
func logOutput(c config.LogConfig, w io.Writer) io.Writer {
	if w == nil {
		w = os.Stderr
	}
	if c.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return w
}

// newLogger is the logger of a config writing to its formatted output.
func newLogger(c config.LogConfig, w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil || c.Level == "" {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}
