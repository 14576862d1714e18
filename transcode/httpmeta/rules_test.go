package httpmeta

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

func TestNewRulesRefuses(t *testing.T) {
	for name, want := range map[string]string{
		"Content-Type": "the gateway's to set", "Content-Length": "the gateway's to set", "grpc-status": "the gateway's to set",
		"Transfer-Encoding": "the gateway's to set", "X-Token-Bin": "not a text metadata key", "Bad Header": "not a text metadata key",
		"X-Http-Code": "sets the status",
	} {
		if _, err := NewRules([]string{name}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	if r, err := NewRules(nil); r != nil || err != nil {
		t.Fatalf("no headers: %v %v", r, err)
	}
}

func TestApply(t *testing.T) {
	r, err := NewRules([]string{"Location", "set-cookie", "Cache-Control"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Headers(); !reflect.DeepEqual(got, []string{"Cache-Control", "Location", "Set-Cookie"}) {
		t.Fatalf("headers %v", got)
	}
	h := http.Header{}
	status := r.Apply(h,
		metadata.Pairs("x-http-code", "201", "location", "/v1/shelves/9", "set-cookie", "a=1", "x-other", "no"),
		metadata.Pairs("set-cookie", "b=2", "cache-control", "bad\r\nInjected: 1"))
	if status != 201 {
		t.Fatalf("status %d", status)
	}
	want := http.Header{"Location": {"/v1/shelves/9"}, "Set-Cookie": {"a=1", "b=2"}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("headers %v, want %v", h, want)
	}
	// A nil *Rules maps nothing but honours the status.
	h = http.Header{}
	if s := (*Rules)(nil).Apply(h, nil, metadata.Pairs("x-http-code", "204")); s != 204 || len(h) != 0 {
		t.Fatalf("nil rules: %d %v", s, h)
	}
}

func TestStatus(t *testing.T) {
	for v, want := range map[string]int{"201": 201, " 302 ": 302, "399": 399, "200": 200,
		"404": 200, "500": 200, "199": 200, "abc": 200, "": 200, "2e2": 200} {
		if got := Status(metadata.Pairs("x-http-code", v), nil); got != want {
			t.Errorf("%q: %d, want %d", v, got, want)
		}
	}
	// The header's value wins over the trailer's.
	if got := Status(metadata.Pairs("x-http-code", "202"), metadata.Pairs("x-http-code", "201")); got != 202 {
		t.Fatalf("header and trailer: %d", got)
	}
	if BodyAllowed(204) || BodyAllowed(304) || !BodyAllowed(201) {
		t.Fatal("BodyAllowed")
	}
}

func TestNotModified(t *testing.T) {
	tag := ETag([]byte(`{"a":1}`))
	if tag != ETag([]byte(`{"a":1}`)) || tag == ETag([]byte(`{"a":2}`)) || !strings.HasPrefix(tag, `"`) {
		t.Fatalf("ETag %s", tag)
	}
	for inm, want := range map[string]bool{
		tag: true, "W/" + tag: true, `"x", ` + tag: true, "*": true, `"x"`: false, "": false,
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		if got := NotModified(r, tag); got != want {
			t.Errorf("If-None-Match %q: %v", inm, got)
		}
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("If-None-Match", tag)
	if !NotModified(r, "W/"+tag) {
		t.Fatal("a weakened tag must still match")
	}
}
