package compat

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"google.golang.org/grpc/metadata"
)

// TestUnaryWriter: only the grpc-gateway dialect, and only for a client
// that accepts trailers, sends trailing metadata as trailers; unsafe
// values never reach a header either way.
func TestUnaryWriter(t *testing.T) {
	header := metadata.Pairs("x-a", "1", "x-b-bin", "ø", "x-evil", "a\r\nb")
	trailer := metadata.Pairs("x-cost", "3", "x-raw-bin", "\x00", "grpc-status", "0")
	for _, tc := range []struct {
		mode   Mode
		te     string
		header http.Header
	}{
		{Refract, "trailers", http.Header{"Grpc-Metadata-X-A": {"1"}, "Grpc-Metadata-X-B-Bin": {"w7g="}, "Grpc-Trailer-X-Cost": {"3"}, "Grpc-Trailer-X-Raw-Bin": {"AA=="}}},
		{GRPCGateway, "", http.Header{"Grpc-Metadata-X-A": {"1"}, "Grpc-Metadata-X-B-Bin": {"ø"}}},
		{GRPCGateway, "deflate, trailers", http.Header{"Grpc-Metadata-X-A": {"1"}, "Grpc-Metadata-X-B-Bin": {"ø"},
			"Trailer:Grpc-Trailer-X-Cost": {"3"}, "Trailer:Grpc-Trailer-X-Raw-Bin": {"AA=="}, "Trailer": {"Grpc-Trailer-X-Cost", "Grpc-Trailer-X-Raw-Bin"}}},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.te != "" {
			r.Header.Set("TE", tc.te)
		}
		rec := httptest.NewRecorder()
		w := tc.mode.UnaryWriter(rec, r, header, trailer)
		got := rec.Header()
		if v := got["Trailer"]; len(v) == 2 && v[0] > v[1] {
			v[0], v[1] = v[1], v[0] // map order
		}
		if !reflect.DeepEqual(got, tc.header) {
			t.Errorf("%v, TE %q: headers\n%v\nwant %v", tc.mode, tc.te, got, tc.header)
		}
		if _, wrapped := w.(*trailerWriter); wrapped != (tc.mode == GRPCGateway && tc.te != "") {
			t.Errorf("%v, TE %q: writer %T", tc.mode, tc.te, w)
		}
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(200)
		if rec.Header().Get("Content-Length") != "" && w != http.ResponseWriter(rec) {
			t.Errorf("Content-Length kept with trailers")
		}
	}
}
