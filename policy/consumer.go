package policy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"regexp"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
)

// Consumer is a named API client: its keys, what it may call and its quota.
// Immutable once NewConsumers built it.
type Consumer struct {
	Name string
	// Allow lists the method full names (globs) or upstream names the
	// consumer may call; empty means everything.
	Allow Globs
	// Quota is the consumer's own rate limit, counted over every route it
	// calls; nil means none.
	Quota *Limit
	index int
	quota quotaStore
}

type quotaStore struct {
	store    Limiter
	failOpen bool
}

// ConsumerOptions describe one consumer. KeyHashes are SHA-256 digests of
// its API keys: the gateway never keeps the keys themselves.
type ConsumerOptions struct {
	Name      string
	KeyHashes [][sha256.Size]byte
	Allow     []string
	Quota     *Limit
	// QuotaStore counts the quota (a LocalLimiter or a RedisLimiter);
	// required with Quota. QuotaFailOpen admits requests when it fails.
	QuotaStore    Limiter
	QuotaFailOpen bool
}

// ConsumersOptions configure API-key authentication.
type ConsumersOptions struct {
	// Header carries the key (default X-Api-Key); Query, when set, names a
	// query parameter that may carry it instead (removed before the request
	// is transcoded, so it never reaches the upstream or the log).
	Header string
	Query  string
	// MetadataKey is the metadata key under which the upstream receives the
	// consumer's name; default x-consumer.
	MetadataKey string
	Consumers   []ConsumerOptions
}

// Consumers is the set of API consumers, looked up by key. Safe for
// concurrent use.
type Consumers struct {
	header, query, metaKey string
	list                   []*Consumer
	keys                   []consumerKey
}

type consumerKey struct {
	hash [sha256.Size]byte
	c    *Consumer
}

var consumerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Validate reports what NewConsumers would refuse in o, but for the
// quota stores (which config does not hold): a name that is not unique or
// not metadata-safe, a consumer without a key, a bad allow glob or quota,
// a key shared by two consumers.
func (o ConsumersOptions) Validate() error {
	if o.MetadataKey != "" && !rpcstatus.SettableMetadataKey(o.MetadataKey) {
		return fmt.Errorf("policy: %q is not a metadata key the gateway may set: use lower case letters, digits, '-', '_' or '.' (such as x-consumer), not a reserved or -bin key", o.MetadataKey)
	}
	seen := map[string]bool{}
	owner := map[[sha256.Size]byte]string{}
	for _, co := range o.Consumers {
		if !consumerName.MatchString(co.Name) {
			return fmt.Errorf("policy: consumer %q: a name is 1-64 letters, digits, '.', '_' or '-'", co.Name)
		}
		if seen[co.Name] {
			return fmt.Errorf("policy: consumer %q is declared twice", co.Name)
		}
		seen[co.Name] = true
		if len(co.KeyHashes) == 0 {
			return fmt.Errorf("policy: consumer %q has no API key", co.Name)
		}
		if _, err := NewGlobs(co.Allow); err != nil {
			return fmt.Errorf("policy: consumer %q: allow: %w", co.Name, err)
		}
		if co.Quota != nil {
			q := *co.Quota
			if err := q.validate(); err != nil {
				return fmt.Errorf("policy: consumer %q: quota: %w", co.Name, err)
			}
		}
		for _, h := range co.KeyHashes {
			if other, dup := owner[h]; dup {
				return fmt.Errorf("policy: consumers %q and %q share an API key", other, co.Name)
			}
			owner[h] = co.Name
		}
	}
	return nil
}

// NewConsumers validates the consumers (see Validate), each quota with its
// store, and indexes their keys.
func NewConsumers(o ConsumersOptions) (*Consumers, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Header == "" {
		o.Header = "X-Api-Key"
	}
	if o.MetadataKey == "" {
		o.MetadataKey = "x-consumer"
	}
	cs := &Consumers{header: http.CanonicalHeaderKey(o.Header), query: o.Query, metaKey: o.MetadataKey}
	for i, co := range o.Consumers {
		allow, _ := NewGlobs(co.Allow) // checked by Validate
		if co.Quota != nil {
			q := *co.Quota
			_ = q.validate() // checked by Validate; fills the default burst
			if co.QuotaStore == nil {
				return nil, fmt.Errorf("policy: consumer %q: quota without a store", co.Name)
			}
			co.Quota = &q
		}
		c := &Consumer{Name: co.Name, Allow: allow, Quota: co.Quota, index: i,
			quota: quotaStore{store: co.QuotaStore, failOpen: co.QuotaFailOpen}}
		cs.list = append(cs.list, c)
		for _, h := range co.KeyHashes {
			cs.keys = append(cs.keys, consumerKey{hash: h, c: c})
		}
	}
	return cs, nil
}

// HasQuotas reports whether any consumer has a quota.
func (cs *Consumers) HasQuotas() bool {
	for _, c := range cs.list {
		if c.Quota != nil {
			return true
		}
	}
	return false
}

// List returns the consumers in declaration order.
func (cs *Consumers) List() []*Consumer { return cs.list }

// MetadataKey is the key carrying the consumer's name to upstreams.
func (cs *Consumers) MetadataKey() string { return cs.metaKey }

// Header is the request header that carries API keys.
func (cs *Consumers) Header() string { return cs.header }

// Lookup finds the consumer owning key. Every stored digest is compared in
// constant time and the loop never stops early, so the answer's timing
// says nothing about which digest (or how much of it) matched.
func (cs *Consumers) Lookup(key string) *Consumer {
	h := sha256.Sum256([]byte(key))
	var found *Consumer
	for i := range cs.keys {
		if subtle.ConstantTimeCompare(h[:], cs.keys[i].hash[:]) == 1 {
			found = cs.keys[i].c
		}
	}
	return found
}

// credential extracts the API key from r (header first, then the query
// parameter, which it strips from the URL).
func (cs *Consumers) credential(r *http.Request) (string, bool) {
	if v := r.Header.Get(cs.header); v != "" {
		return v, true
	}
	if cs.query == "" || r.URL.RawQuery == "" {
		return "", false
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || !q.Has(cs.query) {
		return "", false
	}
	v := q.Get(cs.query)
	q.Del(cs.query)
	r.URL.RawQuery = q.Encode()
	return v, v != ""
}

// Allowed reports whether c may call method of upstream: its Allow globs
// match the method's full name or the upstream's name. Compile time only.
func (c *Consumer) Allowed(upstream, method string) bool {
	if len(c.Allow) == 0 {
		return true
	}
	if _, ok := c.Allow.Match(method); ok {
		return true
	}
	_, ok := c.Allow.Match(upstream)
	return ok
}

// QuotaLeft reads c's quota bucket without taking a token (Peek): what
// is left of it now. The zero Decision without a quota.
func (c *Consumer) QuotaLeft(ctx context.Context) (Decision, error) {
	if c.Quota == nil {
		return Decision{}, nil
	}
	return c.quota.store.Peek(ctx, "quota|"+limitKey(ByConsumer, &Info{Consumer: c}, "", 0), *c.Quota)
}

// HashKey is the digest under which a key is stored.
func HashKey(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }
