package policy

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// ok is the upstream call stand-in: it counts calls and answers 200 "ok".
type ok struct{ calls int }

func (o *ok) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.calls++
	_, _ = w.Write([]byte("ok"))
}

// serve runs one request from remote through h.
func serve(h http.Handler, method, target, remote string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// wantStatus checks the HTTP status and the google.rpc.Status body.
func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int, code int, msg string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	want, _ := json.Marshal(msg)
	body := `{"code":` + itoa(code) + `,"message":` + string(want) + `,"details":[]}`
	if got := w.Body.String(); got != body {
		t.Fatalf("body\n got %s\nwant %s", got, body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func readAll(r *http.Request) ([]byte, error) { return io.ReadAll(r.Body) }

func asMaxBytes(err error, target **http.MaxBytesError) bool { return errors.As(err, target) }
