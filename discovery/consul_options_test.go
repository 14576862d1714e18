package discovery

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// The retry delay is jittered (draws differ) and grows with the failures,
// capped at RetryMax.
func TestBackoffIsJitteredAndGrows(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	draws := func(n int) (minD, maxD time.Duration, distinct int) {
		seen := map[time.Duration]bool{}
		minD = hi + 1
		for range 200 {
			d := backoff(lo, hi, n)
			minD, maxD = min(minD, d), max(maxD, d)
			seen[d] = true
		}
		return minD, maxD, len(seen)
	}
	if mn, mx, k := draws(1); mn < lo/2 || mx > lo || k < 100 {
		t.Errorf("first retry: %s..%s, %d distinct of 200; want within [%s, %s], jittered", mn, mx, k, lo/2, lo)
	}
	if _, mx, _ := draws(5); mx <= lo || mx > 16*lo {
		t.Errorf("fifth retry: up to %s; want above %s (grown) and at most %s", mx, lo, 16*lo)
	}
	if _, mx, _ := draws(30); mx <= 16*lo || mx > hi {
		t.Errorf("thirtieth retry: up to %s; want above %s and capped at %s", mx, 16*lo, hi)
	}
}

// Each blocking query carries the index, asks Consul to wait WaitTime, is
// scoped by datacenter, namespace and partition, and is bounded on our
// side too, so a silent network cannot hang the watch.
func TestQueryOptionsBoundTheWait(t *testing.T) {
	o := ConsulOptions{WaitTime: 10 * time.Second, Datacenter: "dc2", Namespace: "team-a", Partition: "part-a"}
	bound := 10*time.Second + 10*time.Second/16 + 5*time.Second
	before := time.Now()
	q, cancel := o.queryOptions(context.Background(), 42)
	after := time.Now()
	defer cancel()
	if q.WaitIndex != 42 || q.WaitTime != 10*time.Second || q.Datacenter != "dc2" || q.Namespace != "team-a" || q.Partition != "part-a" {
		t.Errorf("query options: %+v", q)
	}
	deadline, ok := q.Context().Deadline()
	if !ok || deadline.Before(before.Add(bound)) || deadline.After(after.Add(bound)) {
		t.Errorf("query deadline %v (set %v), want %s from the call", deadline, ok, bound)
	}
}

// The gRPC port is the service port unless the port-meta key holds one;
// a key that does not hold a port skips the instance with a reason.
func TestConsulEndpointPortFromMeta(t *testing.T) {
	client, err := api.NewClient(api.DefaultConfig()) // never dialled here
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConsul(ConsulOptions{Client: client, Service: "library", PortMetaKey: "grpc_port"})
	if err != nil {
		t.Fatal(err)
	}
	entry := func(addr string, port int, meta map[string]string) *api.ServiceEntry {
		return &api.ServiceEntry{
			Node:    &api.Node{Address: "10.0.0.9"},
			Service: &api.AgentService{ID: "lib-1", Address: addr, Port: port, Meta: meta},
		}
	}
	for _, tc := range []struct {
		name  string
		entry *api.ServiceEntry
		want  string // the address, or the error
	}{
		{"meta port", entry("10.0.0.1", 8080, map[string]string{"grpc_port": "9090"}), "10.0.0.1:9090"},
		{"service port", entry("10.0.0.1", 8080, nil), "10.0.0.1:8080"},
		{"node address", entry("", 8080, map[string]string{"grpc_port": "9090"}), "10.0.0.9:9090"},
		{"ipv6", entry("::1", 8080, nil), "[::1]:8080"},
		{"meta not a number", entry("10.0.0.1", 8080, map[string]string{"grpc_port": "grpc"}), `discovery: instance lib-1: meta grpc_port="grpc" is not a port`},
		{"meta out of range", entry("10.0.0.1", 8080, map[string]string{"grpc_port": "70000"}), `discovery: instance lib-1: meta grpc_port="70000" is not a port`},
		{"no port", entry("10.0.0.1", 0, nil), `discovery: instance lib-1 has no usable address ("10.0.0.1" port 0)`},
	} {
		ep, err := c.endpoint(tc.entry)
		got := ep.Addr
		if err != nil {
			got = err.Error()
		}
		if got != tc.want || (err == nil && ep.ID != "lib-1") {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
