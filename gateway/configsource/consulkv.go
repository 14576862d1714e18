package configsource

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"github.com/rs/zerolog"
)

// consulKV is a config in a Consul KV key, shared by a fleet.
type consulKV struct {
	location string
	opts     discovery.ConsulOptions
	key      string
	tr       *http.Transport
}

func newConsulKV(location string) (*consulKV, error) {
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
	client, tr, err := discovery.NewConsulClient(discovery.ConsulClientOptions{Address: u.Host, Datacenter: q.Get("dc")})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &consulKV{location: location, key: key, tr: tr,
		// Retries are capped at 5s, not discovery's 15s: every instance
		// should take a config pushed after an outage within seconds.
		opts: discovery.ConsulOptions{Client: client, Datacenter: q.Get("dc"), WaitTime: time.Minute, RetryMax: 5 * time.Second}}, nil
}

func (c *consulKV) String() string { return c.location }

func (c *consulKV) watch(log zerolog.Logger) *discovery.ConsulKey {
	o := c.opts
	o.Logger = log
	w, _ := discovery.NewConsulKey(o, c.key) // the key and client were checked in newConsulKV
	return w
}

func (c *consulKV) Read(ctx context.Context) (Data, error) {
	kv, err := c.watch(zerolog.Nop()).Get(ctx)
	if err != nil {
		return Data{}, fmt.Errorf("config: %w", err)
	}
	if !kv.Found {
		return Data{}, fmt.Errorf("config: %s: no such key", c.location)
	}
	return Data{Bytes: kv.Value, Source: c.location, ModifyIndex: kv.ModifyIndex}, nil
}

// Watch follows the key with blocking queries; while Consul is down or the
// key is missing, the server keeps the config it runs.
func (c *consulKV) Watch(ctx context.Context, log zerolog.Logger, push func(Data)) {
	c.watch(log).Watch(ctx, func(kv discovery.KeyValue, err error) {
		switch {
		case err != nil: // logged by the watch
		case !kv.Found:
			log.Warn().Str("config", c.location).Msg("config key missing in consul; keeping the config in use")
		default:
			push(Data{Bytes: kv.Value, Source: c.location, ModifyIndex: kv.ModifyIndex})
		}
	})
}

func (c *consulKV) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}
