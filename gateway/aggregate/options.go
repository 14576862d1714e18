package aggregate

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/refract-gateway/refract/router"
)

// Endpoint is one aggregate, as a runtime value.
type Endpoint struct {
	// Name names the aggregate in problems, logs and its policies' key.
	Name string
	// HTTPMethod and Template are the route it is served under.
	HTTPMethod string
	Template   *router.Template
	// Calls are the calls made; at most MaxCalls.
	Calls []Call
	// Pick shapes the answer; nil: a key per call with its whole response.
	Pick []Pick
	// Partial answers what succeeded with an errors member; false: the
	// first failure fails the request.
	Partial bool
	// MaxResponseBytes bounds the merged answer; default 4 MiB.
	MaxResponseBytes int
	// MaxBodyBytes bounds the request body the calls read from; default 4 MiB.
	MaxBodyBytes int64
}

// Call is one call of an aggregate.
type Call struct {
	// Name keys the response and names the call in errors.
	Name string
	// Method is the gRPC method's full name.
	Method string
	// Timeout bounds the call; 0: the method's route deadline.
	Timeout time.Duration
	// Fields set request fields.
	Fields []Field
}

// Field sets one request field from a value.
type Field struct {
	// Path is the field path (nested fields for more than one name).
	Path []string
	// Parts are the value: literal text and references, concatenated;
	// one reference alone keeps the source's type.
	Parts []Part
}

// Source is what a reference reads.
type Source string

// The sources of references.
const (
	FromPath     Source = "path"
	FromQuery    Source = "query"
	FromHeader   Source = "header"
	FromBody     Source = "body"
	FromClaims   Source = "claims"
	FromConsumer Source = "consumer"
	FromCall     Source = "calls"
)

// Part is literal text (Source "") or a reference.
type Part struct {
	Lit    string
	Source Source
	// Name is the variable, parameter, header, claim, or called call.
	Name string
	// Path is the field path of a body or call reference.
	Path []string
}

// Pick puts a response field (or a whole response, Path nil) under Key.
type Pick struct {
	Key  string
	Call string
	Path []string
}

// MaxCalls bounds the calls of one aggregate.
const MaxCalls = 16

// PolicyKey is the name an aggregate's route policies are kept under,
// the Upstream of its gateway.RouteRef: no upstream can be so named.
func PolicyKey(name string) string { return "aggregate " + name }

// plan is an endpoint with its calls' dependencies resolved.
type plan struct {
	Endpoint
	route string   // "GET /v1/dashboard/{shelf}"
	vars  []string // the template's variable names, in match order
	deps  [][]int  // per call, the calls it waits for
	order []int    // calls in dependency order
}

// newPlan checks e's structure (what config validation already reports
// with lines) and resolves its dependencies.
func newPlan(e Endpoint) (*plan, error) {
	if e.Name == "" || e.Template == nil || e.HTTPMethod == "" {
		return nil, errors.New("aggregate: name, method and template are required")
	}
	if len(e.Calls) == 0 || len(e.Calls) > MaxCalls {
		return nil, fmt.Errorf("aggregate %s: 1 to %d calls, not %d", e.Name, MaxCalls, len(e.Calls))
	}
	if e.MaxResponseBytes <= 0 {
		e.MaxResponseBytes = 4 << 20
	}
	if e.MaxBodyBytes <= 0 {
		e.MaxBodyBytes = 4 << 20
	}
	p := &plan{Endpoint: e, route: e.HTTPMethod + " " + e.Template.String(), deps: make([][]int, len(e.Calls))}
	for _, v := range e.Template.Variables() {
		p.vars = append(p.vars, strings.Join(v.FieldPath, "."))
	}
	index := map[string]int{}
	for i, c := range e.Calls {
		if _, dup := index[c.Name]; dup || c.Name == "" {
			return nil, fmt.Errorf("aggregate %s: call name %q is empty or used twice", e.Name, c.Name)
		}
		index[c.Name] = i
	}
	for i, c := range e.Calls {
		seen := map[int]bool{}
		for _, f := range c.Fields {
			for _, part := range f.Parts {
				if part.Source != FromCall {
					continue
				}
				j, ok := index[part.Name]
				if !ok {
					return nil, fmt.Errorf("aggregate %s: call %s reads call %s, which is not one of its calls", e.Name, c.Name, part.Name)
				}
				if !seen[j] {
					seen[j] = true
					p.deps[i] = append(p.deps[i], j)
				}
			}
		}
		sort.Ints(p.deps[i])
	}
	state := make([]int, len(e.Calls)) // 0 unseen, 1 open, 2 done
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return fmt.Errorf("aggregate %s: call %s depends on itself through other calls", e.Name, e.Calls[i].Name)
		case 2:
			return nil
		}
		state[i] = 1
		for _, j := range p.deps[i] {
			if err := visit(j); err != nil {
				return err
			}
		}
		state[i] = 2
		p.order = append(p.order, i)
		return nil
	}
	for i := range e.Calls {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	for _, pk := range e.Pick {
		if _, ok := index[pk.Call]; !ok || pk.Key == "" || pk.Key == "errors" {
			return nil, fmt.Errorf("aggregate %s: pick %q of call %q: no such call, or a key that cannot be used", e.Name, pk.Key, pk.Call)
		}
	}
	return p, nil
}
