package transcode

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// FuzzDecodeBody feeds arbitrary bodies to a body-"*" binding and checks the
// decoder against protojson on the same descriptor: the same accept/reject
// decision, the same message when accepted, and only INVALID_ARGUMENT when
// rejected. It must never panic.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{}`, ``, `{"title":"x","pageCount":"9","labels":{"a":"b"}}`, `{"pageCount":1e3}`,
		`{"rating":"NaN"}`, `{"rating":"Infinity"}`, `{"checksum":"-_8"}`, `{"publishTime":"1970-01-01T00:00:00Z"}`,
		`{"title":"a","title":"b"}`, `{"inStock":true,"dueBack":"2020-01-01T00:00:00Z"}`, `[`, `{"tags":[null]}`,
		`{"genre":"POETRY"}`, `{"genre":3}`, `{"readTime":"-1.5s"}`, strings.Repeat(`{"a":`, 200),
		`{"title":"\ud800"}`, `{"pageCount":"9223372036854775808"}`, "{\"title\":\"a\"}\x00",
	} {
		f.Add(s)
	}
	bmd := libraryMethod(f, "CreateBook")
	rule := DefaultRule(bmd)
	bs, err := Compile(bmd, rule, Options{})
	if err != nil {
		f.Fatal(err)
	}
	star := bs[0]
	f.Fuzz(func(t *testing.T, body string) {
		got, err := star.DecodeRequest(Request{Body: []byte(body), ContentType: "application/json"})
		want := dynamicpb.NewMessage(bmd.Input())
		trimmed := strings.TrimSpace(body)
		var werr error
		if trimmed != "" {
			werr = protojson.UnmarshalOptions{DiscardUnknown: true, RecursionLimit: DefaultMaxDepth}.Unmarshal([]byte(trimmed), want)
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("decoder err=%v, protojson err=%v for %q", err, werr, body)
		}
		if err != nil {
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("rejection with code %v: %v", status.Code(err), err)
			}
			return
		}
		if !proto.Equal(got, want) {
			t.Fatalf("decoded %v, protojson %v", got, want)
		}
	})
}

// FuzzHeaderMetadata checks the header sanitizer: whatever the client
// sends, no reserved or invalid key and no CR, LF or NUL reaches the
// upstream, and the gateway's x-forwarded-* values are the only ones.
func FuzzHeaderMetadata(f *testing.F) {
	for _, s := range [][2]string{
		{"Grpc-Metadata-Grpc-Timeout", "1n"}, {"Grpc-Metadata-X", "a\r\nb"}, {"Grpc-Metadata-Bin-Bin", "%%%"},
		{"Connection", "Authorization"}, {"X-Forwarded-For", "1.2.3.4"}, {"Grpc-Metadata-", "x"},
		{"Grpc-Metadata-:authority", "evil"}, {"Authorization", "Bearer \x00"}, {"Grpc-Metadata-Content-Type", "x"},
		{"grpc-metadata-te", "trailers"}, {"Grpc-Metadata-Ü", "x"},
		{"X-Real-Ip", "6.6.6.6"}, {"Grpc-Metadata-X-Real-Ip", "6.6.6.6"}, {"Grpc-Metadata-X-Forwarded-Host", "evil"},
		{"Grpc-Metadata-Cookie", "s=1"}, {"Cookie", "s=1"}, {"Authorization", "caf\xc3\xa9"}, {"Authorization", "a\x7f"},
		{"Grpc-Metadata-Forwarded", "for=1.2.3.4"}, {"Connection", "Grpc-Metadata-A"}, {"X_Forwarded_For", "1.2.3.4"},
	} {
		f.Add(s[0], s[1])
	}
	rules, err := NewHeaderRules(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		r := httptest.NewRequest("GET", "http://h/", nil)
		r.Header[name] = []string{value}
		md, err := rules.Metadata(r, "10.0.0.1")
		if err != nil {
			return // a clear rejection is fine
		}
		for k, vs := range md {
			if !rpcstatus.ValidMetadataKey(k) || rpcstatus.ReservedMetadataKey(k) {
				t.Fatalf("key %q forwarded", k)
			}
			for _, v := range vs {
				if !strings.HasSuffix(k, "-bin") && strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
					t.Fatalf("value %q forwarded for %q", v, k)
				}
			}
		}
		for _, k := range []string{"x-forwarded-for", "x-real-ip"} {
			if got := md.Get(k); len(got) != 1 || got[0] != "10.0.0.1" {
				t.Fatalf("%s = %v", k, got)
			}
		}
		for k := range md {
			if gatewayOwnedKey(k) && k != "x-forwarded-for" && k != "x-real-ip" && k != "x-forwarded-host" && k != "x-forwarded-proto" || k == "cookie" {
				t.Fatalf("client-sent %q forwarded", k)
			}
		}
	})
}
