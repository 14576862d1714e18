package configsource

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery"
	"github.com/rs/zerolog"
)

// consulKV is a config in a Consul KV key, shared by a fleet. Beside the
// key live its gray release (KEY.release, KEY.candidate): one recursive
// blocking query on the key's prefix sees all three, so an instance
// switches between stable and candidate at the index where the release
// changed. The history and the release's traffic reports, written often
// and large, live under another prefix (historyPrefix, statsPrefix) so
// that they never wake the fleet's watches.
type consulKV struct {
	location string
	instance string
	client   *api.Client
	dc       string
	key      string
	tr       *http.Transport
	wait     time.Duration
	retryMax time.Duration
}

func newConsulKV(location, instance string) (*consulKV, error) {
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
	// Retries are capped at 5s, not discovery's 15s: every instance
	// should take a config pushed after an outage within seconds.
	return &consulKV{location: location, instance: instance, key: key, tr: tr, client: client, dc: q.Get("dc"),
		wait: time.Minute, retryMax: 5 * time.Second}, nil
}

func (c *consulKV) String() string { return c.location }

// snapshot is one reading of the key and what lives beside it.
type snapshot struct {
	stable    *api.KVPair
	candidate *api.KVPair
	release   *api.KVPair
}

func (c *consulKV) list(ctx context.Context, index uint64) (snapshot, uint64, error) {
	opts := (&api.QueryOptions{Datacenter: c.dc, WaitIndex: index, WaitTime: c.wait}).WithContext(ctx)
	pairs, meta, err := c.client.KV().List(c.key, opts)
	if err != nil {
		return snapshot{}, 0, fmt.Errorf("config: %s: %w", c.location, err)
	}
	var s snapshot
	for _, p := range pairs {
		switch p.Key {
		case c.key:
			s.stable = p
		case c.key + candidateSuffix:
			s.candidate = p
		case c.key + releaseSuffix:
			s.release = p
		}
	}
	return s, meta.LastIndex, nil
}

// effective is the config this instance runs in s: the candidate when a
// release selects it, the stable key otherwise.
func (c *consulKV) effective(s snapshot) (Data, bool) {
	if s.stable == nil {
		return Data{}, false
	}
	d := Data{Bytes: s.stable.Value, Source: c.location, ModifyIndex: s.stable.ModifyIndex}
	if r, ok := s.releaseState(); ok {
		d.Track = "stable"
		if r.Selects(c.instance) {
			d.Bytes, d.ModifyIndex, d.Track = s.candidate.Value, s.candidate.ModifyIndex, "candidate"
		}
	}
	return d, true
}

func (c *consulKV) Read(ctx context.Context) (Data, error) {
	s, _, err := c.list(ctx, 0)
	if err != nil {
		return Data{}, err
	}
	d, ok := c.effective(s)
	if !ok {
		return Data{}, fmt.Errorf("config: %s: no such key", c.location)
	}
	return d, nil
}

// Watch follows the key's prefix with blocking queries; while Consul is
// down or the key is missing, the server keeps the config it runs. The
// wait index is reset when it goes backwards (a Consul restored or
// restarted) and after an error, and errors back off with jitter up to 5s.
func (c *consulKV) Watch(ctx context.Context, log zerolog.Logger, push func(Data)) {
	var index uint64
	var last Data
	backoff := 250 * time.Millisecond
	failed := false
	for ctx.Err() == nil {
		s, next, err := c.list(ctx, index)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failed {
				log.Warn().Err(err).Str("config", c.location).Msg("config watch failed; keeping the config in use and retrying")
			}
			// A restarted agent may count its indexes from 1 again: waiting
			// on the old index would block until it catches up.
			failed, index = true, 0
			t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, c.retryMax)
			continue
		}
		backoff = 250 * time.Millisecond
		if next < index {
			next = 0 // the agent's indexes went back: read afresh
		}
		index = max(next, 1)
		d, ok := c.effective(s)
		if !ok {
			log.Warn().Str("config", c.location).Msg("config key missing in consul; keeping the config in use")
			continue
		}
		if failed || d.ModifyIndex != last.ModifyIndex || d.Track != last.Track || string(d.Bytes) != string(last.Bytes) {
			failed, last = false, d
			push(d)
		}
	}
}

func (c *consulKV) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// Write is a check-and-set of the key on prev's ModifyIndex.
func (c *consulKV) historyDir() string { return historyPrefix + c.key + "/" }

func (c *consulKV) Write(ctx context.Context, b []byte, prev Data) (Data, error) {
	wo := (&api.WriteOptions{Datacenter: c.dc}).WithContext(ctx)
	ok, _, err := c.client.KV().CAS(&api.KVPair{Key: c.key, Value: b, ModifyIndex: prev.ModifyIndex}, wo)
	if err != nil {
		return Data{}, fmt.Errorf("config: %s: %w", c.location, err)
	}
	if !ok {
		return Data{}, ErrConflict
	}
	pair, _, err := c.client.KV().Get(c.key, (&api.QueryOptions{Datacenter: c.dc, RequireConsistent: true}).WithContext(ctx))
	if err != nil || pair == nil || string(pair.Value) != string(b) {
		// Written, but overwritten at once: the watch brings whatever won.
		return Data{Bytes: b, Source: c.location}, nil
	}
	return Data{Bytes: b, Source: c.location, ModifyIndex: pair.ModifyIndex}, nil
}

const (
	historyPrefix   = "refract-admin/history/"
	candidateSuffix = ".candidate"
	releaseSuffix   = ".release"
)

// Record writes v under refract-admin/history/KEY/, named by its time so the keys sort
// oldest first, and deletes the oldest beyond MaxHistory.
func (c *consulKV) Record(ctx context.Context, v Version) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("config: history: %w", err)
	}
	wo := (&api.WriteOptions{Datacenter: c.dc}).WithContext(ctx)
	name := fmt.Sprintf("%s%020d", c.historyDir(), v.At.UnixNano())
	if _, err := c.client.KV().Put(&api.KVPair{Key: name, Value: b}, wo); err != nil {
		return fmt.Errorf("config: history: %w", err)
	}
	keys, _, err := c.client.KV().Keys(c.historyDir(), "", (&api.QueryOptions{Datacenter: c.dc}).WithContext(ctx))
	if err != nil {
		return fmt.Errorf("config: history: %w", err)
	}
	sort.Strings(keys)
	for len(keys) > MaxHistory {
		if _, err := c.client.KV().Delete(keys[0], wo); err != nil {
			return fmt.Errorf("config: history: %w", err)
		}
		keys = keys[1:]
	}
	return nil
}

// History lists refract-admin/history/KEY/, newest first.
func (c *consulKV) History(ctx context.Context) ([]Version, error) {
	pairs, _, err := c.client.KV().List(c.historyDir(), (&api.QueryOptions{Datacenter: c.dc}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("config: history: %w", err)
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].Key > pairs[j].Key })
	out := make([]Version, 0, len(pairs))
	for _, p := range pairs {
		var v Version
		if err := json.Unmarshal(p.Value, &v); err != nil {
			return nil, fmt.Errorf("config: history %s: %w", p.Key, err)
		}
		out = append(out, v)
	}
	return out, nil
}
