package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/gateway/config"
)

// The console format writes no colour codes into a buffer, a file, a pipe
// or /dev/null: only a terminal gets them.
func TestConsoleLogColourOnlyOnATerminal(t *testing.T) {
	console := config.LogConfig{Level: "info", Format: "console"}
	var buf bytes.Buffer
	log := NewLogger(console, &buf)
	log.Info().Str("upstream", "library").Msg("hello")
	if out := buf.String(); strings.Contains(out, "\x1b[") || !strings.Contains(out, "hello upstream=library") {
		t.Fatalf("console log into a buffer: %q", out)
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "refract.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatal("a regular file reads as a terminal")
	}
	flog := NewLogger(console, f)
	flog.Info().Msg("to a file")
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "\x1b[") || !strings.Contains(string(data), "to a file") {
		t.Fatalf("console log into a file: %q", data)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) {
		t.Fatal("a pipe reads as a terminal")
	}
	// /dev/null is a character device, but no terminal.
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if isTerminal(null) {
		t.Fatalf("%s reads as a terminal", os.DevNull)
	}
}
