package setup

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/jwt"
	"github.com/rs/zerolog"
)

// State is the policy state that outlives configs: the rate-limit buckets
// and consumers' quotas counted in this process, the circuit breakers and
// retry budgets, and the key sets fetched by URL. Give every config of one
// process the same State (Extra.State), so that a reload keeps them, each
// keyed by what defines it:
//   - a bucket by its rule's name and the client it counts; it starts full
//     again when its rule's limit changes (policy.LocalLimiter);
//   - a breaker by its upstream (and method, per_method) and its settings,
//     a retry budget by its upstream and its ratio and reserve: new
//     settings start a new one, closed and full;
//   - a JWKS by its URL and refresh interval;
//   - the Redis client and the external authorizer's connection by their
//     settings: configs with the same ones share them, and the last config
//     using one closes it.
//
// Breakers and budgets no config uses any more are kept (a few bytes each)
// so that a reload back to earlier settings finds them as they were.
// Buckets in Redis live in Redis and survive anyway. Safe for concurrent
// use.
type State struct {
	local *policy.LocalLimiter
	res   *resilienceState

	mu     sync.Mutex
	jwks   map[jwksKey]*jwt.JWKS
	shared map[string]*sharedConn
}

// sharedConn is a connection the configs with the same settings share.
type sharedConn struct {
	val   any
	refs  int
	close func() error
}

type jwksKey struct {
	url     string
	refresh time.Duration
}

// NewState makes the state of one process, empty. log receives the
// breakers' state changes.
func NewState(log zerolog.Logger) *State {
	return &State{
		local: policy.NewLocalLimiter(time.Minute, nil),
		res: newResilienceState(func(name, from, to string) {
			log.Warn().Str("component", "breaker").Str("breaker", name).Str("from", from).Str("to", to).Msg("circuit breaker state changed")
		}),
		jwks:   map[jwksKey]*jwt.JWKS{},
		shared: map[string]*sharedConn{},
	}
}

// acquire is the connection of kind whose settings are settings: the one
// a config of the process holds already, or a new one made by mk. Give it
// back with release (once; it closes with its last user).
func acquire[T any](s *State, kind string, settings any, mk func() (T, func() error, error)) (v T, release func() error, err error) {
	b, err := json.Marshal(settings)
	if err != nil {
		return v, nil, err
	}
	key := kind + "\x00" + string(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.shared[key]
	if sc == nil {
		val, closeFn, err := mk()
		if err != nil {
			return v, nil, err
		}
		sc = &sharedConn{val: val, close: closeFn}
		s.shared[key] = sc
	}
	sc.refs++
	var once sync.Once
	return sc.val.(T), func() (err error) {
		once.Do(func() {
			s.mu.Lock()
			sc.refs--
			last := sc.refs == 0
			if last {
				delete(s.shared, key)
			}
			s.mu.Unlock()
			if last {
				err = sc.close()
			}
		})
		return err
	}, nil
}

// keyset is the JWKS of url and refresh: the one an earlier config
// fetched, or a new one made by mk.
func (s *State) keyset(url string, refresh time.Duration, mk func() (*jwt.JWKS, error)) (*jwt.JWKS, error) {
	k := jwksKey{url, refresh}
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.jwks[k]; j != nil {
		return j, nil
	}
	j, err := mk()
	if err == nil {
		s.jwks[k] = j
	}
	return j, err
}
