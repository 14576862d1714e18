package grpcproxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, url, ct, cpv string
		want                 Protocol
	}{
		{"POST", "/a.B/C", "application/grpc", "", GRPC},
		{"POST", "/a.B/C", "application/grpc+proto", "", GRPC},
		{"POST", "/a.B/C", "Application/GRPC; charset=utf-8", "", GRPC},
		{"POST", "/a.B/C", "application/grpc-web", "", GRPCWeb},
		{"POST", "/a.B/C", "application/grpc-web+proto", "", GRPCWeb},
		{"POST", "/a.B/C", "application/grpc-web-text", "", GRPCWebText},
		{"POST", "/a.B/C", "application/grpc-web-text+proto", "", GRPCWebText},
		{"POST", "/a.B/C", "application/connect+proto", "", Connect},
		{"POST", "/a.B/C", "application/connect+json", "", Connect},
		{"POST", "/a.B/C", "application/proto", "1", Connect},
		{"POST", "/a.B/C", "application/json", "1", Connect},
		{"GET", "/a.B/C?connect=v1&encoding=proto&message=CgA", "", "", Connect},
		// HTTP+JSON stays HTTP+JSON.
		{"POST", "/v1/shelves", "application/json", "", NotRPC},
		{"POST", "/v1/shelves", "application/proto", "", NotRPC},
		{"GET", "/v1/shelves?connect=v2", "", "", NotRPC},
		{"GET", "/v1/shelves?x=connect=v1", "", "", NotRPC},
		{"PUT", "/a.B/C", "application/grpc", "", NotRPC},
		{"POST", "/a.B/C", "text/plain", "", NotRPC},
	} {
		r := httptest.NewRequest(tc.method, tc.url, nil)
		if tc.ct != "" {
			r.Header.Set("Content-Type", tc.ct)
		}
		if tc.cpv != "" {
			r.Header.Set("Connect-Protocol-Version", tc.cpv)
		}
		if got := Classify(r); got != tc.want {
			t.Errorf("%s %s %q: %v, want %v", tc.method, tc.url, tc.ct, got, tc.want)
		}
	}
}

func TestRejectBecomesGRPCStatus(t *testing.T) {
	rec := httptest.NewRecorder()
	w, finish := Reject(rec)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "3")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"code":8,"message":"slow down: 100%","details":[]}`))
	finish()
	h := rec.Result().Header
	if rec.Code != 200 || h.Get("Content-Type") != "application/grpc" || h.Get("Grpc-Status") != "8" ||
		h.Get("Grpc-Message") != "slow down: 100%25" || h.Get("Retry-After") != "3" || rec.Body.Len() != 0 {
		t.Fatalf("%d %v %q", rec.Code, h, rec.Body.String())
	}
	// A gRPC answer passes untouched.
	rec = httptest.NewRecorder()
	w, finish = Reject(rec)
	w.Header().Set("Content-Type", "application/grpc")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte{0, 0, 0, 0, 0})
	finish()
	if rec.Code != 200 || rec.Body.Len() != 5 {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
}

func TestTextWriterRuns(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/grpc-web+proto")
	tw := &textWriter{ResponseWriter: rec}
	_, _ = tw.Write([]byte("abcd")) // "abc" encoded, "d" held
	tw.Flush()                      // "d" padded
	_, _ = tw.Write([]byte("ef"))
	tw.Flush()
	if got := rec.Body.String(); got != "YWJjZA==ZWY=" {
		t.Fatalf("body %q", got)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/grpc-web-text+proto" {
		t.Fatalf("content type %q", ct)
	}
}
