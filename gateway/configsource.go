package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/gateway/config"
	"github.com/rs/zerolog"
)

// ConfigData is one reading of a config: its bytes and where they came
// from.
type ConfigData struct {
	// Bytes is the YAML as read.
	Bytes []byte
	// Source names where it was read (a file path, consul://host/key).
	Source string
	// ModifyIndex is the Consul KV ModifyIndex of the key (0 for files).
	ModifyIndex uint64
}

// Version names the config's bytes: the first 12 hex digits of their
// SHA-256, the same on every instance that reads the same bytes.
func (d ConfigData) Version() string {
	sum := sha256.Sum256(d.Bytes)
	return hex.EncodeToString(sum[:6])
}

// ConfigSource is where a Server reads its config and learns that it
// changed. Implementations must be safe for concurrent use: Read may run
// (SIGHUP, POST /admin/reload) while Watch runs.
type ConfigSource interface {
	// Read reads the config now.
	Read(ctx context.Context) (ConfigData, error)
	// Watch calls push with the config each time it may have changed,
	// until ctx is done; pushing the same bytes twice is allowed (the
	// server skips bytes it has already tried). Problems reading are
	// logged to log and retried; they never end the watch.
	Watch(ctx context.Context, log zerolog.Logger, push func(ConfigData))
	// Close releases what the source holds (connections); call it after
	// Watch has returned.
	Close() error
	// String names the source for logs and the admin API.
	String() string
}

// OpenConfigSource opens the config at location: a file path, or
// consul://HOST:PORT/KEY (optionally ?dc=DATACENTER) for a config shared
// in Consul KV; the ACL token comes from CONSUL_HTTP_TOKEN.
func OpenConfigSource(location string) (ConfigSource, error) {
	if strings.HasPrefix(location, "consul://") {
		return newConsulKVConfig(location)
	}
	if location == "" {
		return nil, errors.New("config: no location given")
	}
	return &FileConfig{Path: location}, nil
}

// ReadConfig reads the config at location (see OpenConfigSource) and
// parses and validates it as a reload would.
func ReadConfig(ctx context.Context, location string) (*config.Config, ConfigData, error) {
	src, err := OpenConfigSource(location)
	if err != nil {
		return nil, ConfigData{}, err
	}
	defer src.Close()
	data, err := src.Read(ctx)
	if err != nil {
		return nil, ConfigData{}, err
	}
	cfg, err := parseConfigData(data, nil)
	return cfg, data, err
}

// parseConfigData is the one validation every config goes through, at
// start and on every reload: strict parse, defaults, override (command
// line flags), then the whole config validated again.
func parseConfigData(data ConfigData, override func(*config.Config)) (*config.Config, error) {
	cfg, err := config.Parse(data.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", data.Source, err)
	}
	if override != nil {
		override(cfg)
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", data.Source, err)
		}
	}
	return cfg, nil
}

// StaticConfig is a config held in memory: it never changes on its own.
// Safe for concurrent use.
type StaticConfig struct {
	// Name names it in logs; Bytes is the YAML.
	Name  string
	Bytes []byte
}

// Read returns the bytes.
func (s *StaticConfig) Read(context.Context) (ConfigData, error) {
	return ConfigData{Bytes: s.Bytes, Source: s.Name}, nil
}

// Watch waits for ctx: the bytes never change.
func (s *StaticConfig) Watch(ctx context.Context, _ zerolog.Logger, _ func(ConfigData)) {
	<-ctx.Done()
}

// Close does nothing.
func (s *StaticConfig) Close() error { return nil }

func (s *StaticConfig) String() string { return s.Name }

// FileConfig is a config file, watched through its directory: editors
// save by writing a new file and renaming it over the old one, and a
// Kubernetes ConfigMap volume swaps a ..data symlink, so watching the
// file itself would lose it after the first change. Safe for concurrent
// use.
type FileConfig struct {
	// Path is the file.
	Path string
	// Debounce is how long the directory must stay quiet before the file
	// is read again (a save is several events); default 200ms.
	Debounce time.Duration
}

// Read reads the file.
func (f *FileConfig) Read(context.Context) (ConfigData, error) {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return ConfigData{}, fmt.Errorf("config: %w", err)
	}
	return ConfigData{Bytes: b, Source: f.Path}, nil
}

// Close does nothing.
func (f *FileConfig) Close() error { return nil }

func (f *FileConfig) String() string { return f.Path }

// Watch follows the file's directory, and the directory of the file a
// symlink points to when that is elsewhere, and pushes the file's bytes
// once events stop for Debounce.
func (f *FileConfig) Watch(ctx context.Context, log zerolog.Logger, push func(ConfigData)) {
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

// consulKVConfig is a config in a Consul KV key, shared by a fleet.
type consulKVConfig struct {
	location string
	opts     discovery.ConsulOptions
	key      string
	tr       *http.Transport
}

func newConsulKVConfig(location string) (*consulKVConfig, error) {
	u, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", location, err)
	}
	key := strings.TrimPrefix(u.Path, "/")
	if _, _, err := net.SplitHostPort(u.Host); err != nil || key == "" {
		return nil, fmt.Errorf("config: %q: want consul://HOST:PORT/KEY[?dc=DATACENTER]", location)
	}
	q := u.Query()
	for k := range q {
		if k != "dc" {
			return nil, fmt.Errorf("config: %q: unknown parameter %q (only dc)", location, k)
		}
	}
	// The same client as the top-level consul: key builds; the token comes
	// from CONSUL_HTTP_TOKEN.
	client, tr, err := newConsulClient(&config.ConsulConfig{Address: u.Host, Datacenter: q.Get("dc")})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &consulKVConfig{location: location, key: key, tr: tr,
		// Retries are capped at 5s, not discovery's 15s: every instance
		// should take a config pushed after an outage within seconds.
		opts: discovery.ConsulOptions{Client: client, Datacenter: q.Get("dc"), WaitTime: time.Minute, RetryMax: 5 * time.Second}}, nil
}

func (c *consulKVConfig) String() string { return c.location }

func (c *consulKVConfig) watch(log zerolog.Logger) *discovery.ConsulKey {
	o := c.opts
	o.Logger = log
	w, _ := discovery.NewConsulKey(o, c.key) // the key and client were checked in newConsulKVConfig
	return w
}

func (c *consulKVConfig) Read(ctx context.Context) (ConfigData, error) {
	kv, err := c.watch(zerolog.Nop()).Get(ctx)
	if err != nil {
		return ConfigData{}, fmt.Errorf("config: %w", err)
	}
	if !kv.Found {
		return ConfigData{}, fmt.Errorf("config: %s: no such key", c.location)
	}
	return ConfigData{Bytes: kv.Value, Source: c.location, ModifyIndex: kv.ModifyIndex}, nil
}

// Watch follows the key with blocking queries; while Consul is down or the
// key is missing, the server keeps the config it runs.
func (c *consulKVConfig) Watch(ctx context.Context, log zerolog.Logger, push func(ConfigData)) {
	c.watch(log).Watch(ctx, func(kv discovery.KeyValue, err error) {
		switch {
		case err != nil: // logged by the watch
		case !kv.Found:
			log.Warn().Str("config", c.location).Msg("config key missing in consul; keeping the config in use")
		default:
			push(ConfigData{Bytes: kv.Value, Source: c.location, ModifyIndex: kv.ModifyIndex})
		}
	})
}

func (c *consulKVConfig) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}
