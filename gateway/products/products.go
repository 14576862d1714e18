package products

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/refract-gateway/refract/router"
)

// Options is one product: upstreams whose routes are matched in a
// table of their own.
type Options struct {
	// Name names the product; required, distinct.
	Name string
	// Listen is host:port of the product's own listener, opened by the
	// server that serves the gateway (see State.SetAddrs); default none.
	Listen string
	// Hosts are the Host names (lower-case, without port) that select the
	// product on the main listener.
	Hosts []string
	// Upstreams are the product's upstreams; an upstream belongs to one
	// product at most.
	Upstreams []string
}

// State is what the request path needs to find a request's product and
// its table, and what the control path stores after each route build. Its
// methods are safe for concurrent use; Init is called once, before use.
type State[V any] struct {
	list   []Options
	of     map[string]string // upstream → its product
	byHost map[string]string // lower-case host → its product
	tables atomic.Pointer[map[string]*router.Table[V]]
	empty  router.Table[V] // what a product without routes yet matches against
	mu     sync.Mutex
	addrs  map[string]string // product → its listener's address
}

// Init indexes the products: the product of each upstream and of each
// host name.
func (s *State[V]) Init(list []Options) {
	s.list, s.of, s.byHost = list, map[string]string{}, map[string]string{}
	for _, p := range list {
		for _, u := range p.Upstreams {
			s.of[u] = p.Name
		}
		for _, h := range p.Hosts {
			s.byHost[strings.ToLower(h)] = p.Name
		}
	}
}

// List is the products, as given to Init.
func (s *State[V]) List() []Options { return s.list }

// Of is the product of an upstream; "" for the main table.
func (s *State[V]) Of(upstream string) string { return s.of[upstream] }

type productKey struct{}

// Handler serves a product's own listener: next sees every request as
// the product's, whatever its Host.
func Handler(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), productKey{}, name)))
	})
}

// OfRequest is the product r is for: its listener's, else the one its
// Host names; "" for the main table.
func (s *State[V]) OfRequest(r *http.Request) string {
	if len(s.list) == 0 {
		return ""
	}
	name, _ := r.Context().Value(productKey{}).(string)
	if name == "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		name = s.byHost[strings.ToLower(host)]
	}
	return name
}

// TableFor is the route table for r: its product's, else main.
func (s *State[V]) TableFor(r *http.Request, main *router.Table[V]) *router.Table[V] {
	if len(s.list) == 0 {
		return main
	}
	return s.Table(s.OfRequest(r), main)
}

// Table is a product's table ("" is main); an empty table while the
// product has none.
func (s *State[V]) Table(name string, main *router.Table[V]) *router.Table[V] {
	if name == "" {
		return main
	}
	if ts := s.tables.Load(); ts != nil {
		if t := (*ts)[name]; t != nil {
			return t
		}
	}
	return &s.empty
}

// Store swaps in the product tables of a route build (keyed by product
// name; the main table is the caller's).
func (s *State[V]) Store(tables map[string]*router.Table[V]) {
	if len(s.list) > 0 {
		s.tables.Store(&tables)
	}
}

// Entries lists the routes of main and of every product table.
func (s *State[V]) Entries(main *router.Table[V]) []router.Entry[V] {
	entries := main.Entries()
	if ts := s.tables.Load(); ts != nil {
		for _, p := range s.list {
			if t := (*ts)[p.Name]; t != nil {
				entries = append(entries, t.Entries()...)
			}
		}
	}
	return entries
}

// NoRouteMessage says why a request found no route: on the main table,
// when a product's host-selected table has the path, that no product
// matched the request's host (the host names themselves stay unsaid).
func (s *State[V]) NoRouteMessage(r *http.Request, path string) string {
	msg := fmt.Sprintf("no route for %s %s", r.Method, path)
	if len(s.byHost) == 0 || s.OfRequest(r) != "" {
		return msg
	}
	ts := s.tables.Load()
	if ts == nil {
		return msg
	}
	for _, p := range s.list {
		if t := (*ts)[p.Name]; len(p.Hosts) > 0 && t != nil {
			if _, found := t.Match(r.Method, path); found != router.NotFound {
				return fmt.Sprintf("%s: no product matched the host %q (a product serving this path is chosen by its Host header)", msg, r.Host)
			}
		}
	}
	return msg
}

// SetAddrs records the address each product's own listener serves on;
// the server that opened the listeners calls it.
func (s *State[V]) SetAddrs(addrs map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs = addrs
}

// Addr is the address a product's own listener serves on ("" when it has
// none or its listener is not open).
func (s *State[V]) Addr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[name]
}
