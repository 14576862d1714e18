package resilience

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
)

// SplitOptions divides a route's traffic between named subsets of an
// upstream's endpoints (canary releases, A/B tests).
type SplitOptions struct {
	// Subsets and their weights (relative; at least one positive).
	Subsets []WeightedSubset
	// Header and Cookie, when set, name a request header or cookie whose
	// value, when it is one of the subsets' names, chooses that subset
	// outright (the header wins over the cookie). Other values fall back to
	// the weights.
	Header, Cookie string
	// Sticky keeps each client on one side of the split: "ip" (the client
	// address), "header:<Name>" or "cookie:<name>" is hashed onto the
	// weights instead of drawing at random. A request without the value
	// draws at random.
	Sticky string
}

// WeightedSubset is one side of a split.
type WeightedSubset struct {
	Name   string
	Weight int
}

// Request is what a Split reads of a request: the value of a header ("" when
// absent) and of a cookie (ok false when absent). The HTTP side adapts its
// requests to it, so that this package never sees one.
type Request interface {
	Header(name string) string
	Cookie(name string) (value string, ok bool)
}

// Split picks a subset per request. Immutable; safe for concurrent use.
type Split struct {
	names      []string
	cum        []int // cumulative weights
	total      int
	header     string
	cookie     string
	stickyKind string // "", "ip", "header", "cookie"
	stickyName string
}

// Validate reports what NewSplit would refuse in o: no subsets, names
// unset or repeated, negative weights or all 0, a sticky that is not ip,
// header:<Name> or cookie:<name>.
func (o SplitOptions) Validate() error {
	if len(o.Subsets) == 0 {
		return errors.New("policy: split needs subsets")
	}
	seen := map[string]bool{}
	total := 0
	for _, ws := range o.Subsets {
		if ws.Name == "" || seen[ws.Name] {
			return fmt.Errorf("policy: split subset names must be set and distinct (%q)", ws.Name)
		}
		if ws.Weight < 0 {
			return fmt.Errorf("policy: split weight of %s must not be negative", ws.Name)
		}
		seen[ws.Name] = true
		total += ws.Weight
	}
	if total == 0 {
		return errors.New("policy: split weights must not all be 0")
	}
	if kind, name, _ := strings.Cut(o.Sticky, ":"); o.Sticky != "" && o.Sticky != "ip" &&
		((kind != "header" && kind != "cookie") || name == "") {
		return fmt.Errorf("policy: split sticky %q is not ip, header:<Name> or cookie:<name>", o.Sticky)
	}
	return nil
}

// NewSplit validates o (see Validate).
func NewSplit(o SplitOptions) (*Split, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	s := &Split{header: o.Header, cookie: o.Cookie}
	for _, ws := range o.Subsets {
		s.total += ws.Weight
		s.names = append(s.names, ws.Name)
		s.cum = append(s.cum, s.total)
	}
	switch kind, name, _ := strings.Cut(o.Sticky, ":"); {
	case o.Sticky == "ip":
		s.stickyKind = "ip"
	case o.Sticky != "":
		s.stickyKind, s.stickyName = kind, name
	}
	return s, nil
}

// Names lists the subsets in the order Pick's index refers to.
func (s *Split) Names() []string { return s.names }

// Pick returns the index of r's subset; clientIP is the client's address
// as the gateway decided it.
func (s *Split) Pick(r Request, clientIP string) int {
	if s.header != "" {
		if i := s.index(r.Header(s.header)); i >= 0 {
			return i
		}
	}
	if s.cookie != "" {
		if v, ok := r.Cookie(s.cookie); ok {
			if i := s.index(v); i >= 0 {
				return i
			}
		}
	}
	var key string
	switch s.stickyKind {
	case "ip":
		key = clientIP
	case "header":
		key = r.Header(s.stickyName)
	case "cookie":
		if v, ok := r.Cookie(s.stickyName); ok {
			key = v
		}
	}
	var n int
	if key != "" {
		h := fnv.New64a()
		_, _ = h.Write([]byte(key))
		n = int(h.Sum64() % uint64(s.total))
	} else {
		n = rand.IntN(s.total)
	}
	for i, c := range s.cum {
		if n < c {
			return i
		}
	}
	return len(s.cum) - 1
}

func (s *Split) index(v string) int {
	if v == "" {
		return -1
	}
	for i, n := range s.names {
		if n == v {
			return i
		}
	}
	return -1
}
