package policy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// longBody is a body longer than the request's declared Content-Length,
// as a policy that replaced the body without fixing the length would
// leave it.
type longBody struct{ io.Reader }

func (longBody) Close() error { return nil }

func TestReadBodyIntoHoldsTheLimitPastADeclaredLength(t *testing.T) {
	r := httptest.NewRequest("POST", "/", nil)
	r.Body = longBody{strings.NewReader(strings.Repeat("x", 2000))}
	r.ContentLength = 10 // declared within the limit; the body is not
	_, err := ReadBodyInto(nil, httptest.NewRecorder(), r, 1000, BodyPace{})
	var tooBig *http.MaxBytesError
	if !errors.As(err, &tooBig) || tooBig.Limit != 1000 {
		t.Fatalf("err %v, want a *http.MaxBytesError at 1000", err)
	}
	// A declared length over the limit is refused before reading.
	r = httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 2000)))
	if _, err := ReadBodyInto(nil, httptest.NewRecorder(), r, 1000, BodyPace{}); !errors.As(err, &tooBig) {
		t.Fatalf("err %v, want a *http.MaxBytesError", err)
	}
	// A body of unknown length is counted as it is read.
	r = httptest.NewRequest("POST", "/", io.NopCloser(strings.NewReader(strings.Repeat("x", 2000))))
	r.ContentLength = -1
	if _, err := ReadBodyInto(nil, httptest.NewRecorder(), r, 1000, BodyPace{}); !errors.As(err, &tooBig) {
		t.Fatalf("err %v, want a *http.MaxBytesError", err)
	}
}
