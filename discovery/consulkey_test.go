package discovery

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery/consultest"
)

type keyPush struct {
	kv  KeyValue
	err error
}

// The key watch pushes each write and the deletion, with the key's
// ModifyIndex; Get reads once.
func TestConsulKeyWatch(t *testing.T) {
	agent := consultest.Start(t)
	client := agent.Client()
	const key = "refract/test/config"
	if _, err := NewConsulKey(ConsulOptions{Client: client}, ""); err == nil {
		t.Fatal("an empty key was accepted")
	}
	w, err := NewConsulKey(ConsulOptions{Client: client, WaitTime: 10 * time.Second}, key)
	if err != nil {
		t.Fatal(err)
	}
	if kv, err := w.Get(t.Context()); err != nil || kv.Found {
		t.Fatalf("Get of a missing key: %+v, %v", kv, err)
	}
	put := func(v string) uint64 {
		t.Helper()
		if _, err := client.KV().Put(&api.KVPair{Key: key, Value: []byte(v)}, nil); err != nil {
			t.Fatal(err)
		}
		p, _, err := client.KV().Get(key, nil)
		if err != nil || p == nil {
			t.Fatalf("get: %v", err)
		}
		return p.ModifyIndex
	}
	i1 := put("one")

	pushes := make(chan keyPush, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Watch(ctx, func(kv KeyValue, err error) { pushes <- keyPush{kv, err} })
	}()
	t.Cleanup(func() { cancel(); <-done })
	next := func() KeyValue {
		t.Helper()
		select {
		case p := <-pushes:
			if p.err != nil {
				t.Fatalf("push error: %v", p.err)
			}
			return p.kv
		case <-time.After(30 * time.Second):
			t.Fatal("no push")
		}
		return KeyValue{}
	}
	if kv := next(); !kv.Found || string(kv.Value) != "one" || kv.ModifyIndex != i1 {
		t.Fatalf("first push: %+v", kv)
	}
	i2 := put("two")
	if kv := next(); !kv.Found || string(kv.Value) != "two" || kv.ModifyIndex != i2 || i2 <= i1 {
		t.Fatalf("after a write: %+v (index %d after %d)", kv, i2, i1)
	}
	if _, err := client.KV().Delete(key, nil); err != nil {
		t.Fatal(err)
	}
	if kv := next(); kv.Found || kv.Value != nil {
		t.Fatalf("after the delete: %+v", kv)
	}
	if kv, err := w.Get(t.Context()); err != nil || kv.Found {
		t.Fatalf("Get after the delete: %+v, %v", kv, err)
	}
}
