package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/connectivity"
)

// Budgets on what an etcd registrant may write: a value larger than
// maxEtcdValue is skipped, and at most maxEtcdEndpoints keys of a prefix
// are kept, so that one bad writer cannot make the gateway hold or dial
// without bound.
const (
	maxEtcdValue     = 64 << 10
	maxEtcdEndpoints = 4096
)

// EtcdOptions configures an etcd source for one upstream.
type EtcdOptions struct {
	// Client talks to etcd; required. One client may serve many sources.
	Client *EtcdClient
	// Prefix is the target of grpc-go's etcd naming (endpoints.Manager):
	// every key under Prefix + "/" is one endpoint, its value the JSON
	// {"Addr": "host:port", "Metadata": …}; required.
	Prefix string
	// RequestTimeout bounds the read of the whole prefix that starts each
	// watch; default 5s.
	RequestTimeout time.Duration
	// RetryMin and RetryMax bound the jittered exponential backoff after a
	// failure; defaults 250ms and 15s.
	RetryMin, RetryMax time.Duration
	// Logger receives one line per change of state (errors, recoveries)
	// and per endpoint value skipped.
	Logger zerolog.Logger
}

// Etcd watches the endpoints registered under a key prefix in etcd, in
// grpc-go's etcd naming format. Metadata that is a JSON object becomes the
// endpoint's Meta (its string, number and boolean members, as text), so a
// schema version published there groups endpoints by schema as Consul
// service meta does. Immutable after NewEtcd; safe for concurrent use.
type Etcd struct {
	opts EtcdOptions
	key  string // Prefix + "/"
}

// NewEtcd validates opts and fills defaults.
func NewEtcd(opts EtcdOptions) (*Etcd, error) {
	if opts.Client == nil {
		return nil, errors.New("discovery: etcd source needs a client")
	}
	opts.Prefix = strings.TrimSuffix(opts.Prefix, "/")
	if opts.Prefix == "" {
		return nil, errors.New("discovery: etcd source needs a key prefix")
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 250 * time.Millisecond
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(15*time.Second, opts.RetryMin)
	}
	return &Etcd{opts: opts, key: opts.Prefix + "/"}, nil
}

func (s *Etcd) String() string { return "etcd(" + s.opts.Prefix + ")" }

// Watch reads the prefix, then follows it with an etcd watch from the
// revision read (no polling), until ctx is done. It pushes the first set at
// once and then only sets that differ. When etcd cannot be reached (the
// client's connection fails, a read times out, the member loses its
// leader, or the watch is compacted away) it pushes the last known set
// once with Err, so callers keep serving it, and starts over with a fresh
// read after a backoff; the first good read after a failure is pushed even
// when unchanged, so callers learn the set is fresh again.
func (s *Etcd) Watch(ctx context.Context, push func(Update)) {
	var (
		last     []Endpoint
		known    bool
		failures int
	)
	emit := func(eps []Endpoint) {
		if !known || failures > 0 || !sameEndpoints(last, eps) {
			push(Update{Endpoints: slices.Clone(eps)})
		}
		if failures > 0 {
			s.opts.Logger.Info().Str("source", s.String()).Msg("etcd answers again")
		}
		last, known, failures = eps, true, 0
	}
	streak := 0 // failed sessions in a row that did not last, for the backoff
	for ctx.Err() == nil {
		started := time.Now()
		err := s.session(ctx, emit)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			streak = 0
		}
		if errors.Is(err, errResync) {
			// Not an outage: the watch fell behind etcd's history, and a
			// fresh read catches up.
			s.opts.Logger.Info().Str("source", s.String()).Msg("etcd watch compacted away; reading the prefix again")
			if !sleep(ctx, s.opts.RetryMin) { // never a hot loop
				return
			}
			continue
		}
		failures++
		streak++
		if failures == 1 {
			s.opts.Logger.Warn().Err(err).Str("source", s.String()).Msg("etcd failed; keeping the last known endpoints")
			push(Update{Endpoints: slices.Clone(last), Err: err})
		}
		// A read that works before a watch that fails at once resets
		// failures; the streak still backs off.
		if !sleep(ctx, backoff(s.opts.RetryMin, s.opts.RetryMax, streak)) {
			return
		}
	}
}

// errResync ends a session whose watch can no longer follow (its revision
// was compacted): a fresh read is all it needs.
var errResync = errors.New("discovery: etcd watch compacted")

// session is one read of the prefix and the watch that follows it; it
// returns why it ended.
func (s *Etcd) session(ctx context.Context, emit func([]Endpoint)) error {
	// Linearizable (the default): a member cut off from its cluster must
	// not answer with an old set.
	client, err := s.opts.Client.get()
	if err != nil {
		return err
	}
	gctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	resp, err := client.Get(gctx, s.key, clientv3.WithPrefix(), clientv3.WithLimit(maxEtcdEndpoints))
	cancel()
	if err != nil {
		return fmt.Errorf("discovery: etcd read of %s: %w", s.key, err)
	}
	if resp.More {
		s.opts.Logger.Warn().Str("source", s.String()).Int("kept", maxEtcdEndpoints).Msg("too many endpoint keys; the rest are ignored")
	}
	byKey := make(map[string]*Endpoint, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		byKey[string(kv.Key)] = s.endpoint(kv.Key, kv.Value)
	}
	emit(endpointSet(byKey))

	// The watch is cancelled, with the reason as its cause, when etcd
	// becomes unreachable: the client would otherwise retry silently and
	// the set would look fresh while nothing can tell of changes.
	wctx, stop := context.WithCancelCause(clientv3.WithRequireLeader(ctx))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop(nil)
	wg.Add(1)
	go func() {
		defer wg.Done()
		watchConnection(wctx, client, stop)
	}()
	for wr := range client.Watch(wctx, s.key, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)) {
		if wr.CompactRevision != 0 {
			return errResync
		}
		if err := wr.Err(); err != nil {
			return fmt.Errorf("discovery: etcd watch of %s: %w", s.key, err)
		}
		if len(wr.Events) == 0 {
			continue // a progress notification
		}
		for _, ev := range wr.Events {
			k := string(ev.Kv.Key)
			switch {
			case ev.Type == clientv3.EventTypeDelete:
				delete(byKey, k)
			case byKey[k] == nil && len(byKey) >= maxEtcdEndpoints:
				s.opts.Logger.Warn().Str("source", s.String()).Str("key", k).Msg("too many endpoint keys; this one is ignored")
			default:
				byKey[k] = s.endpoint(ev.Kv.Key, ev.Kv.Value)
			}
		}
		emit(endpointSet(byKey))
	}
	if cause := context.Cause(wctx); cause != nil && ctx.Err() == nil {
		return cause
	}
	return fmt.Errorf("discovery: etcd watch of %s ended", s.key)
}

// watchConnection cancels the watch when the client's connection to etcd
// fails (every endpoint of the etcd cluster refuses or times out).
func watchConnection(ctx context.Context, client *clientv3.Client, stop context.CancelCauseFunc) {
	conn := client.ActiveConnection()
	for state := conn.GetState(); ; state = conn.GetState() {
		if state == connectivity.TransientFailure {
			stop(fmt.Errorf("discovery: etcd unreachable at %s", strings.Join(client.Endpoints(), ",")))
			return
		}
		if !conn.WaitForStateChange(ctx, state) {
			return
		}
	}
}

// etcdValue is an endpoint as grpc-go's etcd naming stores it. Op is 0
// (add) for every stored key; a stored delete is not an endpoint.
type etcdValue struct {
	Op       uint8
	Addr     string
	Metadata json.RawMessage
}

// endpoint decodes one key; nil (and a log line) when it is not a usable
// endpoint, which then counts as absent.
func (s *Etcd) endpoint(key, value []byte) *Endpoint {
	skip := func(why string, args ...any) *Endpoint {
		s.opts.Logger.Warn().Str("source", s.String()).Str("key", string(key)).Msgf("endpoint skipped: "+why, args...)
		return nil
	}
	if len(value) > maxEtcdValue {
		return skip("value of %d bytes is over the %d-byte budget", len(value), maxEtcdValue)
	}
	var v etcdValue
	if err := json.Unmarshal(value, &v); err != nil {
		return skip("value is not {\"Addr\": …, \"Metadata\": …}: %v", err)
	}
	if v.Op != 0 {
		return nil
	}
	if err := checkAddr(v.Addr); err != nil {
		return skip("%v", err)
	}
	return &Endpoint{Addr: v.Addr, ID: strings.TrimPrefix(string(key), s.key), Meta: flatMeta(v.Metadata)}
}

// flatMeta is the scalar members of a JSON object as text (strings
// unquoted, numbers and booleans as written); nil for anything else.
// Nested values are left out: meta is matched by exact value.
func flatMeta(raw json.RawMessage) map[string]string {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	meta := make(map[string]string, len(obj))
	for k, v := range obj {
		switch {
		case len(v) == 0 || v[0] == '{' || v[0] == '[' || bytes.Equal(v, []byte("null")):
		case v[0] == '"':
			var s string
			if json.Unmarshal(v, &s) == nil {
				meta[k] = s
			}
		default:
			meta[k] = string(v)
		}
	}
	return meta
}

// endpointSet is the usable endpoints of byKey, sorted by address, one
// per address (the first key's, in key order).
func endpointSet(byKey map[string]*Endpoint) []Endpoint {
	eps := make([]Endpoint, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		if e := byKey[k]; e != nil {
			eps = append(eps, *e)
		}
	}
	slices.SortStableFunc(eps, func(a, b Endpoint) int { return strings.Compare(a.Addr, b.Addr) })
	return slices.CompactFunc(eps, func(a, b Endpoint) bool { return a.Addr == b.Addr })
}
