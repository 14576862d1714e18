package transcode

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func TestMetadataGatewayOwnedAndCookies(t *testing.T) {
	def, err := NewHeaderRules(nil)
	if err != nil {
		t.Fatal(err)
	}
	withCookie, err := NewHeaderRules([]string{"Cookie"})
	if err != nil {
		t.Fatalf("Cookie named in forward_headers: %v", err)
	}
	r := httptest.NewRequest("GET", "http://api.example/", nil)
	r.Header.Set("Cookie", "session=s")
	r.Header.Set("X-Real-Ip", "6.6.6.6")
	r.Header.Set("Grpc-Metadata-X-Real-Ip", "6.6.6.6")
	r.Header.Set("Grpc-Metadata-X-Forwarded-Prefix", "/admin")
	r.Header.Set("Grpc-Metadata-Forwarded", "for=6.6.6.6")
	r.Header.Set("Grpc-Metadata-Cookie", "session=s")
	r.Header.Set("X-Http-Method-Override", "DELETE")
	md, err := def.Metadata(r, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cookie", "x-forwarded-prefix", "forwarded", "x-http-method-override"} {
		if v, ok := md[k]; ok {
			t.Errorf("%s forwarded by default: %v", k, v)
		}
	}
	if got := md.Get("x-real-ip"); len(got) != 1 || got[0] != "10.0.0.1" {
		t.Errorf("x-real-ip = %v, want the gateway's [10.0.0.1]", got)
	}
	md, err = withCookie.Metadata(r, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if got := md.Get("cookie"); len(got) != 1 || got[0] != "session=s" {
		t.Errorf("cookie with Cookie configured = %v (Grpc-Metadata-Cookie must not add to it)", got)
	}
}

// TestMetadataText: UTF-8 header values reach the backend percent-encoded
// (what grpc-go can carry and the backend can decode), control bytes are
// refused, printable ASCII passes as it is.
func TestMetadataText(t *testing.T) {
	rules, err := NewHeaderRules(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want, err string }{
		{in: "Oslo", want: "Oslo"},
		{in: "50%", want: "50%"},
		{in: "Gjøvik 50%", want: "Gj%C3%B8vik 50%25"},
		{in: "\xff", want: "%FF"},
		{in: "a\tb", err: "header Grpc-Metadata-Location: value has control byte 0x09 at offset 1"},
		{in: "ø\x7f", err: "header Grpc-Metadata-Location: value has control byte 0x7F at offset 2"},
	} {
		r := httptest.NewRequest("GET", "http://h/", nil)
		r.Header.Set("Grpc-Metadata-Location", tc.in)
		md, err := rules.Metadata(r, "")
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || len(md["location"]) != 1 || md["location"][0] != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, md["location"], err, tc.want)
		}
		if got, _ := url.PathUnescape(md["location"][0]); tc.in != "50%" && got != tc.in {
			t.Errorf("%q does not decode back: %q", tc.in, got)
		}
	}
}

// A body bound to a scalar field is that field's value and nothing else: it
// cannot reach the message's other fields through the wrapping protojson
// needs.
func TestScalarBodyFieldIsOneValue(t *testing.T) {
	md := kitchenMethod(t, "Put")
	rule := &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/k"}, Body: "cs"}
	b := compileRule(t, md, rule, Options{})
	for _, tc := range []struct{ body, want string }{
		{`"x","ci":"7"`, `request body (the value of field cs): syntax error (line 1:4): unexpected data after the JSON value`},
		{`"x"}`, `request body (the value of field cs): syntax error (line 1:4): unexpected data after the JSON value`},
		{`1`, `request body: (line 1:1): invalid value for string field cs: 1`},
	} {
		_, err := b.DecodeRequest(Request{Body: []byte(tc.body)})
		if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != tc.want {
			t.Errorf("%s: error = %v\nwant %s", tc.body, err, tc.want)
		}
	}
	m, err := b.DecodeRequest(Request{Body: []byte(` "ok" `)})
	if err != nil {
		t.Fatal(err)
	}
	cs := md.Input().Fields().ByName("cs")
	if got := m.ProtoReflect().Get(cs).String(); got != "ok" {
		t.Fatalf("cs = %q", got)
	}
	if m.ProtoReflect().Has(md.Input().Fields().ByName(protoreflect.Name("ci"))) {
		t.Fatal("ci set from a scalar body")
	}
}

// Both decoders refuse a body nested deeper than MaxDepth, with the same
// message naming the limit.
func TestMaxDepthBothPaths(t *testing.T) {
	md := kitchenMethod(t, "Put")
	deep := `{"mv":{"a":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}}`
	shallow := `{"mv":{"a":` + strings.Repeat(`[`, 5) + strings.Repeat(`]`, 5) + `}}`
	for _, fast := range []bool{true, false} {
		b := compileRule(t, md, DefaultRule(md), Options{DisableFastPath: !fast, MaxDepth: 20})
		if _, err := b.DecodeCall(Request{Body: []byte(shallow)}, mustCodec(t)); err != nil {
			t.Fatalf("fast=%v: shallow body: %v", fast, err)
		}
		_, err := b.DecodeCall(Request{Body: []byte(deep)}, mustCodec(t))
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "JSON nested deeper than the limit of 20 levels") {
			t.Fatalf("fast=%v: deep body: %v", fast, err)
		}
	}
}

func mustCodec(t *testing.T) *Codec {
	t.Helper()
	c, err := NewCodec(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
