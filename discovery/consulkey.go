package discovery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// KeyValue is one reading of a Consul KV key.
type KeyValue struct {
	// Found is false when the key does not exist (never written, or
	// deleted); Value and ModifyIndex are then empty.
	Found bool
	// Value is the key's bytes.
	Value []byte
	// ModifyIndex is the Raft index of the key's last write: it names the
	// version an instance runs, the same on every instance of a fleet.
	ModifyIndex uint64
}

// ConsulKey watches one Consul KV key with blocking queries: the shared
// config of a fleet of gateways. Immutable after NewConsulKey; safe for
// concurrent use.
type ConsulKey struct {
	opts ConsulOptions // Service holds the key
}

// NewConsulKey returns a watch of key. Only Client, Datacenter, Namespace,
// Partition, WaitTime, Retry* and Logger of opts are used.
func NewConsulKey(opts ConsulOptions, key string) (*ConsulKey, error) {
	if key == "" {
		return nil, errors.New("discovery: consul key watch needs a key")
	}
	opts.Service = key
	c, err := NewConsul(opts)
	if err != nil {
		return nil, err
	}
	return &ConsulKey{opts: c.opts}, nil
}

func (k *ConsulKey) String() string {
	s := "consul(key " + k.opts.Service
	if k.opts.Datacenter != "" {
		s += ",dc=" + k.opts.Datacenter
	}
	return s + ")"
}

// Get reads the key once, without blocking.
func (k *ConsulKey) Get(ctx context.Context) (KeyValue, error) {
	kv, _, err := k.query(ctx, 0)
	return kv, err
}

// Watch pushes the key whenever its value or ModifyIndex changes, starting
// with the first answer, until ctx is done. On errors it pushes the last
// reading once with the error (callers keep what they have) and retries
// with jittered backoff; the first answer after a failure is pushed even
// when unchanged. The wait index is carried as NextIndex says, so a Consul
// restored with older indexes is read afresh rather than waited on.
func (k *ConsulKey) Watch(ctx context.Context, push func(KeyValue, error)) {
	blockingWatch(ctx, k.opts.blocking(k.String()), k.query, sameKeyValue, func(kv KeyValue, err error) {
		kv.Value = bytes.Clone(kv.Value)
		push(kv, err)
	})
}

func sameKeyValue(a, b KeyValue) bool {
	return a.Found == b.Found && a.ModifyIndex == b.ModifyIndex && bytes.Equal(a.Value, b.Value)
}

func (k *ConsulKey) query(ctx context.Context, index uint64) (KeyValue, uint64, error) {
	q, cancel := k.opts.queryOptions(ctx, index)
	defer cancel()
	pair, meta, err := k.opts.Client.KV().Get(k.opts.Service, q)
	if err != nil {
		return KeyValue{}, 0, fmt.Errorf("discovery: consul key %q: %w", k.opts.Service, err)
	}
	if pair == nil {
		return KeyValue{}, meta.LastIndex, nil
	}
	return KeyValue{Found: true, Value: pair.Value, ModifyIndex: pair.ModifyIndex}, meta.LastIndex, nil
}
