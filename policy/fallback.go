package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// FallbackHeader marks a response served by a fallback instead of the
// upstream; its value says why ("breaker_open" or "unavailable").
const FallbackHeader = "X-Refract-Fallback"

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

// Fallback serves a fixed response. Immutable; safe for concurrent use.
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
		if k == "" || http.CanonicalHeaderKey(k) == "" || !validHeaderName(k) {
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
		o.Status = http.StatusOK
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

// Serve writes the fallback response, marked with FallbackHeader: reason.
func (f *Fallback) Serve(w http.ResponseWriter, reason string) {
	h := w.Header()
	for _, kv := range f.headers {
		h.Set(kv[0], kv[1])
	}
	h.Set(FallbackHeader, reason)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(f.status)
	_, _ = w.Write(f.body)
}
