package rpcstatus

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
)

// loggedWriter stands in for the access log's writer, which records the
// code through SetGRPCCode.
type loggedWriter struct {
	*httptest.ResponseRecorder
	code int32
}

func (w *loggedWriter) SetGRPCCode(c int32) { w.code = c }

func TestWriteStatus(t *testing.T) {
	w := &loggedWriter{ResponseRecorder: httptest.NewRecorder(), code: -1}
	w.Header().Set("Retry-After", "1")
	WriteStatus(w, http.StatusServiceUnavailable, codes.Unavailable, `try "later" <soon>`)
	const want = `{"code":14,"message":"try \"later\" \u003csoon\u003e","details":[]}`
	if got := w.Body.String(); got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
	h := w.Header()
	if w.Code != 503 || w.code != 14 || h.Get("Content-Type") != "application/json" || h.Get("Content-Length") != strconv.Itoa(len(want)) ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Retry-After") != "1" {
		t.Fatalf("status %d, recorded code %d, headers %v", w.Code, w.code, h)
	}
}

func TestWriteProto(t *testing.T) {
	w := httptest.NewRecorder()
	WriteProto(w, http.StatusNotFound, &spb.Status{Code: 5, Message: "gone"})
	if w.Code != 404 || w.Body.String() != `{"code":5,"message":"gone","details":[]}` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func TestWriteSuppliedBody(t *testing.T) {
	w := &loggedWriter{ResponseRecorder: httptest.NewRecorder()}
	body := []byte(`{"code":3,"message":"m","details":[{"@type":"x"}]}`)
	Write(w, http.StatusBadRequest, codes.InvalidArgument, body)
	if w.Code != 400 || w.code != 3 || w.Body.String() != string(body) || w.Header().Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("%d %d %s %v", w.Code, w.code, w.Body, w.Header())
	}
}
