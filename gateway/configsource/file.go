package configsource

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// File is a config file, watched through its directory: editors
// save by writing a new file and renaming it over the old one, and a
// Kubernetes ConfigMap volume swaps a ..data symlink, so watching the
// file itself would lose it after the first change. Safe for concurrent
// use.
type File struct {
	// Path is the file.
	Path string
	// Debounce is how long the directory must stay quiet before the file
	// is read again (a save is several events); default 200ms.
	Debounce time.Duration

	mu sync.Mutex // writes, one at a time
}

// Read reads the file.
func (f *File) Read(context.Context) (Data, error) {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return Data{}, fmt.Errorf("config: %w", err)
	}
	return Data{Bytes: b, Source: f.Path}, nil
}

// Close does nothing.
func (f *File) Close() error { return nil }

func (f *File) String() string { return f.Path }

// Watch follows the file's directory, and the directory of the file a
// symlink points to when that is elsewhere, and pushes the file's bytes
// once events stop for Debounce.
func (f *File) Watch(ctx context.Context, log zerolog.Logger, push func(Data)) {
	debounce := f.Debounce
	if debounce <= 0 {
		debounce = 200 * time.Millisecond
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Error().Err(err).Str("config", f.Path).Msg("config file not watched; SIGHUP still reloads it")
		return
	}
	defer w.Close()
	watched := map[string]bool{}
	follow := func() {
		dirs := []string{filepath.Dir(f.Path)}
		if real, err := filepath.EvalSymlinks(f.Path); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		for _, d := range dirs {
			if abs, err := filepath.Abs(d); err == nil && !watched[abs] {
				if err := w.Add(abs); err != nil {
					log.Warn().Err(err).Str("dir", abs).Msg("config directory not watched")
					continue
				}
				watched[abs] = true
			}
		}
	}
	follow()
	timer := time.NewTimer(debounce)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-w.Events:
			if !ok {
				return
			}
			// Any event in the directory: the ConfigMap swap names ..data,
			// not the file. Reading an unchanged file costs little, and
			// the server skips bytes it has seen.
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			log.Warn().Err(err).Str("config", f.Path).Msg("config watch error")
		case <-timer.C:
			follow() // a symlink may point elsewhere now
			data, err := f.Read(ctx)
			if err != nil {
				// Between a remove and a create: the next event reads it.
				log.Debug().Err(err).Msg("config file not readable yet")
				continue
			}
			push(data)
		}
	}
}
