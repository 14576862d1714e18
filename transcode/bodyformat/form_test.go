package bodyformat

import (
	"bytes"

	"github.com/refract-gateway/refract/transcode"
	"mime/multipart"
	"strings"
	"testing"
)

func TestDecodeForm(t *testing.T) {
	rt := libraryRoute(t, "CreateBook", Options{Form: true, MaxFields: 5, CSRF: CSRF{Off: true}})
	for _, tc := range []struct{ name, body, want, err string }{
		{"fields", "title=T&tags=a&tags=b&labels%5Bk%5D=v", `{"title":"T","tags":["a","b"],"labels":{"k":"v"}}`, ""},
		{"json and proto names", "page_count=3&titleOriginal=O", `{"pageCount":"3","titleOriginal":"O"}`, ""},
		{"well-known", "rating=2.5&publish_time=2020-01-01T00:00:00Z", `{"rating":2.5,"publishTime":"2020-01-01T00:00:00Z"}`, ""},
		{"empty", "", `{}`, ""},
		{"unknown", "colour=red", "", `form field "colour": unknown field`},
		{"not a map", "title%5Bx%5D=1", "", `form field "title[x]"`},
		{"twice", "title=a&title=b", "", `form field "title": field library.v1.Book.title is not repeated`},
		{"bad escape", "title=%zz", "", "form body"},
		{"too many", "a=1&b=2&c=3&d=4&e=5&f=6", "", "6 fields, over the limit of 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, w, ok := convert(rt, formType, tc.body)
			if tc.err != "" {
				if ok || !strings.Contains(statusMessage(t, w.Body.Bytes()), tc.err) {
					t.Fatalf("ok %v, answer %d %s; want error %q", ok, w.Code, w.Body, tc.err)
				}
				return
			}
			if !ok || !jsonEqual(in.Body, []byte(tc.want)) {
				t.Fatalf("ok %v %s: got %s, want %s", ok, w.Body, in.Body, tc.want)
			}
		})
	}
	// A format the route did not opt into passes untouched, to be refused
	// by the decoder.
	in, _, ok := convert(rt, "application/xml", "<b/>")
	if !ok || in.ContentType != "application/xml" || string(in.Body) != "<b/>" {
		t.Fatalf("XML not opted in: %v %+v", ok, in)
	}
}

func TestDecodeMultipart(t *testing.T) {
	rt := libraryRoute(t, "CreateBook", Options{Multipart: true, MaxFields: 3, MaxPartHeaderBytes: 200, CSRF: CSRF{Off: true}})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("title", "T")
	fw, _ := mw.CreateFormFile("checksum", "c.bin")
	_, _ = fw.Write([]byte{0, 1, 2})
	_ = mw.Close()
	in, w, ok := convert(rt, mw.FormDataContentType(), buf.String())
	if !ok || !jsonEqual(in.Body, []byte(`{"title":"T","checksum":"AAEC"}`)) {
		t.Fatalf("%v %s %s", ok, w.Body, in.Body)
	}
	for _, tc := range []struct{ name, ct, body, err string }{
		{"no boundary", "multipart/form-data", "x", "no boundary parameter"},
		{"truncated", "multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nT", "multipart body"},
		{"no name", "multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data\r\n\r\nT\r\n--XX--\r\n", "has no name"},
		{"big header", "multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"title\"\r\nX-Pad: " + strings.Repeat("p", 300) + "\r\n\r\nT\r\n--XX--\r\n", "max_part_header_bytes"},
		{"too many", "multipart/form-data; boundary=XX", strings.Repeat("--XX\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nT\r\n", 4) + "--XX--\r\n", "more than 3 parts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, w, ok := convert(rt, tc.ct, tc.body)
			if ok || !strings.Contains(statusMessage(t, w.Body.Bytes()), tc.err) {
				t.Fatalf("ok %v, answer %d %s; want %q", ok, w.Code, w.Body, tc.err)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	rt := libraryRoute(t, "CreateBook", Options{Form: true, CSRF: CSRF{Header: "X-Csrf", TrustedOrigins: []string{"https://ok.example"}}})
	for _, tc := range []struct {
		hdr  []string
		pass bool
	}{
		{nil, true},
		{[]string{"Origin", "http://gw.example"}, true},
		{[]string{"Sec-Fetch-Site", "same-origin"}, true},
		{[]string{"Sec-Fetch-Site", "none"}, true},
		{[]string{"Origin", "https://ok.example", "Sec-Fetch-Site", "cross-site"}, true},
		{[]string{"Origin", "https://evil.example", "X-Csrf", "1"}, true},
		{[]string{"Origin", "https://evil.example"}, false},
		{[]string{"Origin", "http://gw.example.evil.example"}, false},
		{[]string{"Sec-Fetch-Site", "same-site"}, false},
		{[]string{"Sec-Fetch-Site", "cross-site", "Origin", "http://gw.example"}, false},
	} {
		_, w, ok := convert(rt, formType, "title=x", tc.hdr...)
		if ok != tc.pass {
			t.Errorf("%v: passed %v, want %v: %s", tc.hdr, ok, tc.pass, w.Body)
		}
		if !ok && (w.Code != 403 || !strings.Contains(statusMessage(t, w.Body.Bytes()), "X-Csrf")) {
			t.Errorf("%v: %d %s", tc.hdr, w.Code, w.Body)
		}
	}
	if _, err := New(rt.b, Options{Form: true, CSRF: CSRF{TrustedOrigins: []string{"not an origin"}}}, transcode.Options{}); err == nil {
		t.Fatal("a bad trusted origin compiled")
	}
}

func BenchmarkDecodeForm(b *testing.B) {
	rt := libraryRoute(b, "CreateBook", Options{Form: true, CSRF: CSRF{Off: true}})
	body := "title=Dune&author=Frank+Herbert&genre=FICTION&pageCount=412&tags=desert&tags=spice&labels%5Blang%5D=en&rating=4.5"
	b.ReportAllocs()
	for b.Loop() {
		if _, w, ok := convert(rt, formType, body); !ok {
			b.Fatal(w.Body)
		}
	}
}
