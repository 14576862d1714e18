package discovery

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/consul/api"
)

// ConsulClientOptions say which Consul agent a client talks to. Empty
// fields keep what api.DefaultConfig reads from the environment
// (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN and friends) but for Address,
// Datacenter, Namespace and Partition, which are always taken as given.
type ConsulClientOptions struct {
	// Address is the agent's HTTP API, host:port.
	Address string
	// Token is the ACL token; CONSUL_HTTP_TOKEN when empty.
	Token string
	// Datacenter, Namespace and Partition scope the client's queries.
	Datacenter string
	Namespace  string
	Partition  string
}

// NewConsulClient builds the Consul API client every Consul source, watch
// and key of a process uses, over plain HTTP. It returns the client's
// transport too: close its idle connections when the client is done with.
// The client is safe for concurrent use.
func NewConsulClient(o ConsulClientOptions) (*api.Client, *http.Transport, error) {
	cfg := api.DefaultConfig() // reads CONSUL_HTTP_TOKEN and friends
	cfg.Address = o.Address
	cfg.Scheme = "http"
	if o.Token != "" {
		cfg.Token = o.Token
	}
	cfg.Datacenter = o.Datacenter
	cfg.Namespace = o.Namespace
	cfg.Partition = o.Partition
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	cfg.Transport = tr
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("consul: %w", err)
	}
	return client, tr, nil
}
