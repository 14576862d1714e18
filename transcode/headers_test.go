package transcode

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"google.golang.org/grpc/metadata"
)

func TestHeaderRulesMetadata(t *testing.T) {
	h, err := NewHeaderRules(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "http://api.example/v1/x", nil)
	r.Header.Set("Authorization", "Bearer t")
	r.Header.Set("X-Request-Id", "r1")
	r.Header.Set("Traceparent", "00-abc-def-01")
	r.Header.Set("Grpc-Metadata-Tenant", "acme")
	r.Header.Set("Grpc-Metadata-Authorization", "Bearer FORGED") // owned by Authorization: dropped
	r.Header.Set("Grpc-Metadata-X-Request-Id", "r2")             // owned by X-Request-Id: dropped
	r.Header.Set("Grpc-Metadata-Blob-Bin", "AQID")
	r.Header.Set("Grpc-Metadata-Grpc-Timeout", "1S")  // reserved: dropped
	r.Header.Set("Grpc-Metadata-Content-Type", "x/y") // reserved: dropped
	r.Header.Set("Cookie", "session=secret")          // not allowed
	r.Header.Set("X-Forwarded-For", "6.6.6.6")        // spoofed: replaced
	r.Header.Set("Te", "trailers")
	r.Header.Set("X-Other", "nope")
	md, err := h.Metadata(r, "10.1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	want := metadata.MD{
		"authorization":     {"Bearer t"},
		"x-request-id":      {"r1"},
		"traceparent":       {"00-abc-def-01"},
		"tenant":            {"acme"},
		"blob-bin":          {"\x01\x02\x03"},
		"x-forwarded-for":   {"10.1.2.3"},
		"x-forwarded-host":  {"api.example"},
		"x-forwarded-proto": {"http"},
		"x-real-ip":         {"10.1.2.3"},
	}
	if !reflect.DeepEqual(md, want) {
		t.Fatalf("got  %v\nwant %v", md, want)
	}
}

func TestHeaderRulesConnectionListed(t *testing.T) {
	h, _ := NewHeaderRules([]string{"X-Api-Version"})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Connection", "keep-alive, X-Api-Version")
	r.Header.Set("X-Api-Version", "2")
	r.Header.Set("Authorization", "not in this allowlist")
	md, err := h.Metadata(r, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := md["x-api-version"]; ok {
		t.Fatal("a Connection-listed header was forwarded")
	}
	if _, ok := md["authorization"]; ok {
		t.Fatal("a header outside the allowlist was forwarded")
	}
}

func TestHeaderRulesRejects(t *testing.T) {
	for _, name := range []string{"Content-Length", "Te", "Grpc-Timeout", "X-Real-Ip", "Forwarded", "X-Forwarded-For", "Bad Header", "Connection"} {
		if _, err := NewHeaderRules([]string{name}); err == nil {
			t.Errorf("NewHeaderRules(%q) accepted", name)
		}
	}
	h, _ := NewHeaderRules(nil)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Grpc-Metadata-Key-Bin", "not base64!")
	if _, err := h.Metadata(r, ""); err == nil || err.Error() != "header Grpc-Metadata-Key-Bin: binary metadata must be base64: illegal base64 data at input byte 3" {
		t.Fatalf("error = %v", err)
	}
}

func TestWriteResponseMetadata(t *testing.T) {
	w := http.Header{}
	WriteResponseMetadata(w,
		metadata.MD{"x-served-by": {"b1"}, "content-type": {"application/grpc"}, "sig-bin": {"\x01\x02"}},
		metadata.MD{"x-cost": {"3"}, "grpc-status": {"0"}})
	want := http.Header{
		"Grpc-Metadata-X-Served-By": {"b1"},
		"Grpc-Metadata-Sig-Bin":     {"AQI="},
		"Grpc-Trailer-X-Cost":       {"3"},
	}
	if !reflect.DeepEqual(w, want) {
		t.Fatalf("got %v, want %v", w, want)
	}
}
