package resilience

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
)

// FallbackOptions is a static response for when the upstream cannot
// answer (degradation).
type FallbackOptions struct {
	// Status is the HTTP status; default 200.
	Status int
	// Body is the JSON body, sent as is; default {}.
	Body []byte
	// Headers are added to the response.
	Headers map[string]string
}

// Fallback is a fixed response, validated once and held as plain data
// (status, body, headers): the call plan decides when it is served, the
// HTTP side writes it. Immutable; safe for concurrent use.
type Fallback struct {
	status  int
	body    []byte
	headers [][2]string
}

// Validate reports what NewFallback would refuse in o: a body that is not
// JSON, a status outside 100–599 (0 means 200), a header name that is not
// a valid token.
func (o FallbackOptions) Validate() error {
	if o.Status != 0 && (o.Status < 100 || o.Status > 599) {
		return fmt.Errorf("policy: fallback status %d is not an HTTP status", o.Status)
	}
	if len(o.Body) != 0 && !json.Valid(o.Body) {
		return errors.New("policy: fallback body is not JSON")
	}
	for k := range o.Headers {
		if k == "" || !validHeaderName(k) {
			return fmt.Errorf("policy: fallback header %q is not a valid name", k)
		}
	}
	return nil
}

// NewFallback validates o (see Validate).
func NewFallback(o FallbackOptions) (*Fallback, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Status == 0 {
		o.Status = 200
	}
	if len(o.Body) == 0 {
		o.Body = []byte("{}")
	}
	f := &Fallback{status: o.Status, body: o.Body}
	for k, v := range o.Headers {
		f.headers = append(f.headers, [2]string{k, v})
	}
	return f, nil
}

func validHeaderName(k string) bool {
	for _, c := range k {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// Status is the response's HTTP status (200 unless set).
func (f *Fallback) Status() int { return f.status }

// Body is the response's JSON body ({} unless set). It is shared: callers
// must not modify it.
func (f *Fallback) Body() []byte { return f.body }

// Headers yields the response's extra headers, name and value, in no
// particular order.
func (f *Fallback) Headers() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, kv := range f.headers {
			if !yield(kv[0], kv[1]) {
				return
			}
		}
	}
}
