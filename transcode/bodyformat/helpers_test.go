package bodyformat

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// libraryRoute compiles o for the first binding of a library method
// (CreateBook: body "book"; UploadBookCover: an HttpBody body field).
func libraryRoute(t testing.TB, method string, o Options) *Route {
	t.Helper()
	md := librarypb.File_library_v1_library_proto.Services().Get(0).Methods().ByName(protoreflect.Name(method))
	if md == nil {
		t.Fatalf("no method %s", method)
	}
	bs, err := transcode.Compile(md, transcode.Rules(md), transcode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := New(bs[0], o, transcode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// convert runs a body through the route; it returns the converted
// request, or the answered status and body.
func convert(rt *Route, contentType, body string, hdr ...string) (transcode.Request, *httptest.ResponseRecorder, bool) {
	r := httptest.NewRequest(http.MethodPost, "http://gw.example/v1/shelves/1/books", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	in := transcode.Request{Body: []byte(body), ContentType: contentType}
	ok := rt.Request(w, r, &in)
	return in, w, ok
}

// statusMessage is the message of a google.rpc.Status JSON answer.
func statusMessage(t testing.TB, body []byte) string {
	t.Helper()
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("not a status: %s", body)
	}
	return st.Message
}

// jsonEqual compares JSON documents as values.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
