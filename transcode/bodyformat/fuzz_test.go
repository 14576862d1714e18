package bodyformat

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	"google.golang.org/protobuf/encoding/protojson"
)

// FuzzDecodeXML: whatever the body, the decoder answers an error or JSON
// that the transcoder's JSON decoding accepts as a Book; it never panics.
func FuzzDecodeXML(f *testing.F) {
	for _, s := range []string{
		`<Book><title>t</title><tags>a</tags><labels><key>k</key><value>v</value></labels></Book>`,
		`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>`,
		`<!DOCTYPE x SYSTEM "http://evil.example/x.dtd"><x/>`,
		`<x><![CDATA[<title>]]></x>`,
		`<x><title><![CDATA[a]]>b</title><rating>NaN</rating><pageCount>-0</pageCount></x>`,
		`<a:x xmlns:a="urn:a"><a:title>t</a:title></a:x>`,
		`<x><checksum>====</checksum><genre>-1</genre><in_stock>true</in_stock><due_back>x</due_back></x>`,
		"<x>\xff\xfe</x>",
		`<x><labels><key/><value><x/></value></labels></x>`,
		`<x><title>&#0;</title></x>`,
		`<x><rating>1e400</rating></x>`,
		`<x><readTime>` + "\u2028" + `</readTime></x>`,
	} {
		f.Add(s)
	}
	rt := libraryRoute(f, "CreateBook", Options{XML: true, MaxDepth: 16, MaxFields: 200})
	f.Fuzz(func(t *testing.T, body string) {
		in, _, ok := convert(rt, "application/xml", body)
		if !ok {
			return
		}
		if !json.Valid(in.Body) {
			t.Fatalf("XML %q became invalid JSON %s", body, in.Body)
		}
		if err := (protojson.UnmarshalOptions{}).Unmarshal(in.Body, new(librarypb.Book)); err != nil && !textValueError(err) {
			t.Fatalf("XML %q became JSON %s that does not decode: %v", body, in.Body, err)
		}
	})
}

// FuzzDecodeForm: a urlencoded body is refused or becomes JSON of a Book.
func FuzzDecodeForm(f *testing.F) {
	for _, s := range []string{
		"title=Dune&tags=a&tags=b&labels%5Bk%5D=v&genre=FICTION&rating=4.5",
		"title[x]=1&labels=2&labels[]=3&labels[a][b]=4",
		"%zz=1&title=%",
		"checksum=!!&page_count=1e3&publish_time=yesterday",
		"book.title=x&.=&..=&title.x=1",
		"in_stock=true&due_back=2020-01-01T00:00:00Z",
		"a=" + string(make([]byte, 64)),
	} {
		f.Add(s)
	}
	rt := libraryRoute(f, "CreateBook", Options{Form: true, MaxFields: 100, CSRF: CSRF{Off: true}})
	f.Fuzz(func(t *testing.T, body string) {
		in, _, ok := convert(rt, formType, body)
		if !ok {
			return
		}
		if err := (protojson.UnmarshalOptions{}).Unmarshal(in.Body, new(librarypb.Book)); err != nil {
			t.Fatalf("form %q became JSON %s that does not decode: %v", body, in.Body, err)
		}
	})
}

// textValueError: the values the XML decoder passes on as text for
// protojson to parse (timestamps, durations) may still be refused there,
// with the type named; that is the transcoder's 400. Nothing else may be.
func textValueError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "google.protobuf.Timestamp") || strings.Contains(msg, "google.protobuf.Duration")
}

// FuzzDecodeMultipart: a multipart body (boundary XX) is refused or
// becomes JSON of a Book.
func FuzzDecodeMultipart(f *testing.F) {
	for _, s := range []string{
		"--XX\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nT\r\n--XX\r\nContent-Disposition: form-data; name=\"checksum\"; filename=\"c\"\r\n\r\n\x00\x01\r\n--XX--\r\n",
		"--XX\r\nContent-Disposition: form-data; name=\"labels[a]\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=41=\r\n\r\n--XX--\r\n",
		"--XX\r\nContent-Disposition: form-data; name*=UTF-8''t%69tle\r\n\r\nT\r\n--XX--",
		"--XX\r\n\r\n\r\n--XX--\r\n",
		"--XX--\r\n",
		"--XX\r\nContent-Disposition: form-data; name=\"title\"; filename=\"../../etc/passwd\"\r\n\r\n\xff\r\n--XX--\r\n",
	} {
		f.Add(s)
	}
	rt := libraryRoute(f, "CreateBook", Options{Multipart: true, MaxFields: 50, CSRF: CSRF{Off: true}})
	f.Fuzz(func(t *testing.T, body string) {
		in, _, ok := convert(rt, "multipart/form-data; boundary=XX", body)
		if !ok {
			return
		}
		if err := (protojson.UnmarshalOptions{}).Unmarshal(in.Body, new(librarypb.Book)); err != nil {
			t.Fatalf("multipart %q became JSON %s that does not decode: %v", body, in.Body, err)
		}
	})
}
