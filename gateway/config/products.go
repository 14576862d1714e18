package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
)

// ProductConfig is one product: a set of upstreams served on a listener of
// its own, or on the main listener for some host names, with its own
// policies (a level between the global and the upstreams' ones). Its
// routes are matched in a table of their own, so two products may serve
// the same paths.
type ProductConfig struct {
	// Name identifies the product in logs, metrics and the admin API.
	Name string `yaml:"name"`
	// Listen is host:port of the product's own listener (plain HTTP).
	Listen string `yaml:"listen"`
	// Hosts are the Host names (without port) that select the product on
	// the main listener.
	Hosts []string `yaml:"hosts"`
	// Upstreams are the product's upstreams; an upstream belongs to one
	// product at most. Upstreams in no product are served on the main
	// listener to requests no product's host claims.
	Upstreams []string `yaml:"upstreams"`
	// Policies apply to the product's routes: global < product < upstream
	// < route.
	Policies Policies `yaml:"policies"`
}

// PathPrefixPattern is the form of path_prefix: literal path segments,
// no trailing slash.
var PathPrefixPattern = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)

// ValidateProducts checks products and path prefixes; it returns the
// product of each upstream and the product of each host.
func ValidateProducts(cfg *Config, bad func(string, error)) (productOf, byHost map[string]string) {
	productOf, byHost = map[string]string{}, map[string]string{}
	known := map[string]bool{}
	for i, u := range cfg.Upstreams {
		known[u.Name] = true
		if p := u.PathPrefix; p != "" && !PathPrefixPattern.MatchString(p) {
			bad(fmt.Sprintf("upstreams[%d].path_prefix", i), fmt.Errorf("%q must be literal path segments such as /orders (no trailing slash, no variables)", p))
		}
	}
	names := map[string]bool{}
	listens := map[string]bool{cfg.Listen: true, cfg.Admin: true}
	for i, p := range cfg.Products {
		key := fmt.Sprintf("products[%d]", i)
		if !UpstreamName.MatchString(p.Name) || names[p.Name] {
			bad(key+".name", fmt.Errorf("%q must be distinct, 1-64 lower-case letters, digits, '.', '_' or '-'", p.Name))
		}
		names[p.Name] = true
		if p.Listen == "" && len(p.Hosts) == 0 {
			bad(key, errors.New("needs listen (its own port) or hosts (names on the main listener)"))
		}
		if p.Listen != "" {
			if _, _, err := net.SplitHostPort(p.Listen); err != nil {
				bad(key+".listen", fmt.Errorf("%q is not host:port", p.Listen))
			} else if listens[p.Listen] && !strings.HasSuffix(p.Listen, ":0") {
				bad(key+".listen", fmt.Errorf("%s is already used by another listener", p.Listen))
			}
			listens[p.Listen] = true
		}
		for _, h := range p.Hosts {
			h = strings.ToLower(h)
			if other, ok := byHost[h]; ok {
				bad(key+".hosts", fmt.Errorf("%q is already product %s's", h, other))
			}
			byHost[h] = p.Name
		}
		if len(p.Upstreams) == 0 {
			bad(key+".upstreams", errors.New("a product needs upstreams"))
		}
		for _, u := range p.Upstreams {
			switch {
			case !known[u]:
				bad(key+".upstreams", fmt.Errorf("%q is not a configured upstream", u))
			case productOf[u] != "":
				bad(key+".upstreams", fmt.Errorf("%q is already in product %s", u, productOf[u]))
			}
			productOf[u] = p.Name
		}
	}
	return productOf, byHost
}
