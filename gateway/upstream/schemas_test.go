package upstream

import (
	"testing"
	"time"

	"github.com/refract-gateway/refract/discovery"
	"github.com/refract-gateway/refract/reflection"
)

// While the upstream's own descriptors are not fetched yet (its first
// fetch found no endpoint and it is backing off), the groups reflected for
// its endpoints give the routes; an endpoint set that then empties keeps
// them, as the upstream's own cache entry would, so that calls are told
// "no healthy endpoint" rather than that no route exists.
func TestSchemaViewOutlivesTheGroupsBeforeOwnDescriptors(t *testing.T) {
	a, b := startFailing(t), startFailing(t)
	cache, err := reflection.NewCache(reflection.Options{RefreshInterval: time.Hour, RetryMin: time.Hour, RetryMax: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	// Never watched: the upstream's own connection has no endpoint, so its
	// own descriptors never arrive.
	u, err := New(Options{Name: "library", Source: newScripted()})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := cache.Add(u.Name(), u.Conn()); err != nil {
		t.Fatal(err)
	}

	u.TrackSchemas(cache, []discovery.Endpoint{{Addr: a.Addr}, {Addr: b.Addr}})
	deadline := time.Now().Add(10 * time.Second)
	var v *SchemaView
	for v = u.SchemaView(cache); v.Snap == nil; v = u.SchemaView(cache) {
		if time.Now().After(deadline) {
			t.Fatal("the groups' descriptors never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if cache.Snapshot(u.Name()) != nil {
		t.Fatal("the upstream's own descriptors arrived: the case is not exercised")
	}
	hash := v.Snap.Hash

	u.TrackSchemas(cache, []discovery.Endpoint{})
	if len(u.schemas.groups) != 0 {
		t.Fatalf("%d groups left for no endpoint", len(u.schemas.groups))
	}
	if got := u.SchemaView(cache); got.Snap == nil || got.Snap.Hash != hash {
		t.Fatalf("after the set emptied: view %+v, want the descriptors %s kept", got, hash)
	}

	u.ForgetSchemas(cache)
	if got := u.SchemaView(cache); got.Snap != nil {
		t.Fatalf("after ForgetSchemas: view %+v, want none", got)
	}
}
