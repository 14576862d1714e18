package server

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
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
		// Colour codes only for a person at a terminal: in a file, a pipe
		// or journald they are noise around every field.
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !isTerminal(w)}
	}
	return w
}

// isTerminal reports whether w is a terminal, as opposed to a file, a
// pipe, a socket or /dev/null.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// newLogger is the logger of a config writing to its formatted output.
func newLogger(c config.LogConfig, w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil || c.Level == "" {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}
