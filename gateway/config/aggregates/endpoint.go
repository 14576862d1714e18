package aggregates

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/refract-gateway/refract/gateway/config/yamlcheck"
	"github.com/refract-gateway/refract/router"
)

// Endpoint is one aggregation endpoint: an HTTP route answered by calling
// several gRPC methods, in parallel but for calls that wait on another
// call's response, and merging their responses into one JSON object.
type Endpoint struct {
	// Name names the aggregate in errors, logs and the admin API;
	// required, distinct, letters, digits, '_' and '-'.
	Name string `yaml:"name"`
	// Route is the HTTP method, one space and the path template the
	// aggregate is served under ("GET /v1/dashboard/{shelf}"); required.
	// A path an upstream's route also matches is served by that route.
	Route string `yaml:"route"`
	// Calls are the gRPC methods called; 1 to 16, names distinct.
	Calls []Call `yaml:"calls"`
	// Pick shapes the response: each key of the answer takes the value of
	// a response field, written call.field (or call.field.subfield; the
	// call alone for its whole response). Default none: a key per call
	// holding its whole response.
	Pick map[string]string `yaml:"pick"`
	// OnError is what a failed call does: fail (the default) answers the
	// first failure's status with the call named; partial answers what
	// succeeded with an errors member naming each failed call, its code
	// and message.
	OnError string `yaml:"on_error"`
	// MaxResponseBytes bounds the merged JSON answer; larger gets 502.
	// Default 4 MiB.
	MaxResponseBytes int `yaml:"max_response_bytes"`
}

// Call is one gRPC call of an aggregate.
type Call struct {
	// Name keys the call's response in the answer and names the call in
	// errors and references; required, letters, digits and '_'.
	Name string `yaml:"name"`
	// Method is the gRPC method's full name
	// (library.v1.LibraryService.GetShelf); required, unary, published
	// by an upstream. The call runs the method's own route policies.
	Method string `yaml:"method"`
	// Timeout bounds the call; default: the method's own route deadline.
	Timeout yamlcheck.Duration `yaml:"timeout"`
	// Request sets request fields (a dotted path for a nested one) from a
	// value: literal text, or references in braces, {path.VAR},
	// {query.NAME}, {header.NAME}, {body.FIELD}, {claims.NAME},
	// {consumer} or {calls.CALL.FIELD} (which makes the call wait for
	// that one). A value that is one reference keeps the source's type.
	Request map[string]string `yaml:"request"`
}

// MaxCalls bounds the calls of one aggregate.
const MaxCalls = 16

// DefaultMaxResponseBytes is max_response_bytes' default.
const DefaultMaxResponseBytes = 4 << 20

// The sources a reference may name.
const (
	SourcePath     = "path"
	SourceQuery    = "query"
	SourceHeader   = "header"
	SourceBody     = "body"
	SourceClaims   = "claims"
	SourceConsumer = "consumer"
	SourceCalls    = "calls"
)

// Part is a piece of a request value: literal text, or a reference.
type Part struct {
	// Lit is literal text when Source is "".
	Lit string
	// Source is what a reference reads (SourcePath …).
	Source string
	// Name is the variable, parameter, header or claim, or the call of a
	// calls reference; "" for consumer.
	Name string
	// Path is the field path of a body or calls reference.
	Path []string
}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	callRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	fieldRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	identRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// ParseValue splits a request value into literal text and references.
func ParseValue(v string) ([]Part, error) {
	var parts []Part
	for v != "" {
		i := strings.IndexByte(v, '{')
		if i < 0 {
			if strings.Contains(v, "}") {
				return nil, fmt.Errorf("%q has a } without {", v)
			}
			parts = append(parts, Part{Lit: v})
			break
		}
		if i > 0 {
			if strings.Contains(v[:i], "}") {
				return nil, fmt.Errorf("%q has a } without {", v)
			}
			parts = append(parts, Part{Lit: v[:i]})
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("%q has a { without }", v)
		}
		p, err := parseRef(v[i+1 : i+j])
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
		v = v[i+j+1:]
	}
	return parts, nil
}

func parseRef(ref string) (Part, error) {
	src, rest, _ := strings.Cut(ref, ".")
	switch src {
	case SourceConsumer:
		if rest != "" {
			return Part{}, fmt.Errorf("{%s}: consumer takes no name", ref)
		}
		return Part{Source: src}, nil
	case SourcePath, SourceQuery, SourceHeader, SourceClaims:
		if !identRE.MatchString(rest) {
			return Part{}, fmt.Errorf("{%s}: write {%s.NAME}", ref, src)
		}
		return Part{Source: src, Name: rest}, nil
	case SourceBody:
		if !fieldRE.MatchString(rest) {
			return Part{}, fmt.Errorf("{%s}: write {body.FIELD} (a dotted field path)", ref)
		}
		return Part{Source: src, Path: strings.Split(rest, ".")}, nil
	case SourceCalls:
		call, field, _ := strings.Cut(rest, ".")
		if !callRE.MatchString(call) || !fieldRE.MatchString(field) {
			return Part{}, fmt.Errorf("{%s}: write {calls.CALL.FIELD}", ref)
		}
		return Part{Source: src, Name: call, Path: strings.Split(field, ".")}, nil
	}
	return Part{}, fmt.Errorf("{%s}: the source is one of path, query, header, body, claims, consumer, calls", ref)
}

// ParseRoute splits a route into its HTTP method and template.
func ParseRoute(route string) (string, *router.Template, error) {
	method, path, ok := strings.Cut(route, " ")
	if !ok || method == "" || strings.ToUpper(method) != method || !strings.HasPrefix(path, "/") {
		return "", nil, fmt.Errorf("%q is not a route: write the HTTP method, one space and the path template (\"GET /v1/dashboard/{shelf}\")", route)
	}
	t, err := router.ParseTemplate(path)
	if err != nil {
		return "", nil, fmt.Errorf("%q: %w", path, err)
	}
	return method, t, nil
}

// ParsePick splits a pick into its call and field path (nil: the whole
// response).
func ParsePick(v string) (string, []string, error) {
	if !fieldRE.MatchString(v) {
		return "", nil, fmt.Errorf("%q is not call.field (a call's name, then a dotted field path)", v)
	}
	parts := strings.Split(v, ".")
	return parts[0], parts[1:], nil
}

// Order lists the indexes of calls so that every call comes after the
// calls it references, or fails naming a cycle. References to unknown
// calls are left to Validate.
func (e *Endpoint) Order() ([]int, error) {
	index := map[string]int{}
	for i, c := range e.Calls {
		index[c.Name] = i
	}
	deps := make([][]int, len(e.Calls))
	for i, c := range e.Calls {
		for _, d := range c.Deps() {
			if j, ok := index[d]; ok {
				deps[i] = append(deps[i], j)
			}
		}
	}
	const (
		unseen = iota
		open
		done
	)
	state := make([]int, len(e.Calls))
	var order []int
	var visit func(i int, path []string) error
	visit = func(i int, path []string) error {
		path = append(path, e.Calls[i].Name)
		switch state[i] {
		case open:
			return fmt.Errorf("calls depend on each other in a cycle: %s", strings.Join(path, " → "))
		case done:
			return nil
		}
		state[i] = open
		for _, j := range deps[i] {
			if err := visit(j, path); err != nil {
				return err
			}
		}
		state[i] = done
		order = append(order, i)
		return nil
	}
	for i := range e.Calls {
		if err := visit(i, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Deps lists the calls c references, sorted, once each.
func (c *Call) Deps() []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range c.Request {
		parts, _ := ParseValue(v)
		for _, p := range parts {
			if p.Source == SourceCalls && !seen[p.Name] {
				seen[p.Name] = true
				out = append(out, p.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Validate reports every problem of e under key (aggregates[0]).
func (e *Endpoint) Validate(key string, bad func(key, format string, args ...any)) {
	if !nameRE.MatchString(e.Name) {
		bad(key+".name", "required: letters, digits, '_' and '-' (%q)", e.Name)
	}
	var vars map[string]bool
	if e.Route == "" {
		bad(key+".route", "required: the HTTP method and path template (\"GET /v1/dashboard/{shelf}\")")
	} else if _, t, err := ParseRoute(e.Route); err != nil {
		bad(key+".route", "%v", err)
	} else {
		vars = map[string]bool{}
		for _, v := range t.Variables() {
			vars[strings.Join(v.FieldPath, ".")] = true
		}
	}
	switch e.OnError {
	case "", "fail", "partial":
	default:
		bad(key+".on_error", "%q is not fail or partial", e.OnError)
	}
	if e.MaxResponseBytes < 0 {
		bad(key+".max_response_bytes", "must be positive (or left out for the default of 4 MiB)")
	}
	if len(e.Calls) == 0 || len(e.Calls) > MaxCalls {
		bad(key+".calls", "1 to %d calls, not %d", MaxCalls, len(e.Calls))
	}
	names := map[string]bool{}
	for i, c := range e.Calls {
		ck := fmt.Sprintf("%s.calls[%d]", key, i)
		if !callRE.MatchString(c.Name) {
			bad(ck+".name", "required: letters, digits and '_', not starting with a digit (%q)", c.Name)
		} else if names[c.Name] {
			bad(ck+".name", "%q is used twice", c.Name)
		} else if c.Name == "errors" && len(e.Pick) == 0 {
			bad(ck+".name", "\"errors\" keys the failed calls in an answer: name the call otherwise")
		}
		names[c.Name] = true
		if !methodRE.MatchString(c.Method) {
			bad(ck+".method", "required: the method's full name, package.Service.Method (%q)", c.Method)
		}
	}
	for i, c := range e.Calls {
		ck := fmt.Sprintf("%s.calls[%d].request", key, i)
		fields := make([]string, 0, len(c.Request))
		for f := range c.Request {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			if !fieldRE.MatchString(f) {
				bad(ck+"."+f, "%q is not a field path (name or name.sub)", f)
				continue
			}
			parts, err := ParseValue(c.Request[f])
			if err != nil {
				bad(ck+"."+f, "%v", err)
				continue
			}
			for _, p := range parts {
				switch {
				case p.Source == SourcePath && vars != nil && !vars[p.Name]:
					bad(ck+"."+f, "{path.%s}: the route %s has no variable %s", p.Name, e.Route, p.Name)
				case p.Source == SourceCalls && !names[p.Name]:
					bad(ck+"."+f, "{calls.%s…}: no call is named %s", p.Name, p.Name)
				case p.Source == SourceCalls && p.Name == c.Name:
					bad(ck+"."+f, "{calls.%s…}: a call cannot read its own response", p.Name)
				}
			}
		}
	}
	if _, err := e.Order(); err != nil {
		bad(key+".calls", "%v", err)
	}
	outs := make([]string, 0, len(e.Pick))
	for k := range e.Pick {
		outs = append(outs, k)
	}
	sort.Strings(outs)
	for _, k := range outs {
		if k == "" || k == "errors" {
			bad(key+".pick."+k, "%q cannot name an answer's key (errors holds failed calls)", k)
		}
		call, _, err := ParsePick(e.Pick[k])
		if err != nil {
			bad(key+".pick."+k, "%v", err)
		} else if !names[call] {
			bad(key+".pick."+k, "no call is named %s", call)
		}
	}
}

var methodRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$`)
