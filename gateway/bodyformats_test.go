package gateway_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"sort"
	"strings"
	"testing"
)

// bodyFormatsConfig opts CreateBook into every body format (CSRF passes
// with X-Requested-With), UploadBookCover into multipart (within 4 KiB) and GetBook into
// XML answers; other routes stay JSON only.
func bodyFormatsConfig(addr string) string {
	return libraryConfig(addr, `    routes:
      - method: library.v1.LibraryService.CreateBook
        policies:
          body_formats:
            form: true
            multipart: true
            xml: true
            max_fields: 20
            max_depth: 8
            csrf: {header: X-Requested-With}
      - method: library.v1.LibraryService.UploadBookCover
        policies:
          body_formats: {multipart: true}
          max_body_bytes: 4096
      - method: library.v1.LibraryService.GetBook
        policies:
          body_formats: {xml: true}
`)
}

const formType = "application/x-www-form-urlencoded"

// multipartBody lays out parts: a text field is name=value, a file
// name@filename:content-type=content.
func multipartBody(t *testing.T, parts ...string) (body, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		name, value, _ := strings.Cut(p, "=")
		if n, file, ok := strings.Cut(name, "@"); ok {
			fn, ct, _ := strings.Cut(file, ":")
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, n, fn))
			h.Set("Content-Type", ct)
			w, err := mw.CreatePart(h)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write([]byte(value))
			continue
		}
		if err := mw.WriteField(name, value); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), mw.FormDataContentType()
}

func TestBodyFormatForm(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, bodyFormatsConfig(lib.Addr))
	form := "title=Dune&author=Frank+Herbert&genre=FICTION&pageCount=412&tags=desert&tags=spice&labels%5Blang%5D=en" +
		"&rating=4.5&publish_time=1965-08-01T00:00:00Z&read_time=3600s&in_stock=true&titleOriginal=Dune"
	r := h.do(t, "POST", "/v1/shelves/1/books?book_id=form-dune", form, "Content-Type", formType).expect(t, 200)
	jsonEq(t, r.body, `{"name":"shelves/1/books/form-dune","title":"Dune","author":"Frank Herbert","genre":"FICTION","pageCount":"412",
		"publishTime":"1965-08-01T00:00:00Z","readTime":"3600s","tags":["desert","spice"],"labels":{"lang":"en"},"rating":4.5,
		"checksum":"","titleOriginal":"Dune","inStock":true,"locked":false}`)

	t.Run("unknown field", func(t *testing.T) {
		r := h.do(t, "POST", "/v1/shelves/1/books", "title=x&colour=red", "Content-Type", formType).expect(t, 400)
		if field(t, r.body, "code") != 3.0 || !strings.Contains(field(t, r.body, "message").(string), `form field "colour"`) {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("bad value", func(t *testing.T) {
		r := h.do(t, "POST", "/v1/shelves/1/books", "title=x&genre=OPERA", "Content-Type", formType).expect(t, 400)
		if msg := field(t, r.body, "message").(string); !strings.Contains(msg, `form field "genre"`) || !strings.Contains(msg, "OPERA") {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("too many fields", func(t *testing.T) {
		r := h.do(t, "POST", "/v1/shelves/1/books", "title=x"+strings.Repeat("&tags=t", 20), "Content-Type", formType).expect(t, 413)
		if msg := field(t, r.body, "message").(string); !strings.Contains(msg, "body_formats.max_fields") {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("route not opted in", func(t *testing.T) {
		h.do(t, "POST", "/v1/shelves/1/books/1:move", "otherShelfName=shelves/2", "Content-Type", formType).expect(t, 415)
	})
}

func TestBodyFormatMultipart(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, bodyFormatsConfig(lib.Addr))
	sum := "\x00\x01\xfe\xffbinary"
	body, ct := multipartBody(t, "title=Multipart", "tags=a", "tags=b", "checksum@sum.bin:application/octet-stream="+sum)
	r := h.do(t, "POST", "/v1/shelves/1/books?book_id=mp", body, "Content-Type", ct).expect(t, 200)
	if got := field(t, r.body, "checksum"); got != base64.StdEncoding.EncodeToString([]byte(sum)) {
		t.Fatalf("checksum %v: %s", got, r.body)
	}
	if got := fmt.Sprint(field(t, r.body, "tags")); got != "[a b]" {
		t.Fatalf("tags %s", got)
	}

	t.Run("file into HttpBody", func(t *testing.T) {
		png := "\x89PNG\r\n\x1a\nnot really"
		body, ct := multipartBody(t, "cover@c.png:image/png="+png)
		h.do(t, "PUT", "/v1/shelves/1/books/1/cover", body, "Content-Type", ct).expect(t, 200)
		r := h.do(t, "GET", "/v1/shelves/1/books/1/cover", "").expect(t, 200)
		if string(r.body) != png || r.header.Get("Content-Type") != "image/png" {
			t.Fatalf("cover %q %v", r.body, r.header)
		}
		// The whole multipart body counts against max_body_bytes.
		body, ct = multipartBody(t, "cover@c.png:image/png="+strings.Repeat("x", 4096))
		h.do(t, "PUT", "/v1/shelves/1/books/1/cover", body, "Content-Type", ct).expect(t, 413)
		body, ct = multipartBody(t, "picture@c.png:image/png="+png)
		r = h.do(t, "PUT", "/v1/shelves/1/books/1/cover", body, "Content-Type", ct).expect(t, 400)
		if msg := field(t, r.body, "message").(string); !strings.Contains(msg, `form field "picture"`) {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("unknown part", func(t *testing.T) {
		body, ct := multipartBody(t, "title=x", "scan@s.pdf:application/pdf=%PDF")
		r := h.do(t, "POST", "/v1/shelves/1/books", body, "Content-Type", ct).expect(t, 400)
		if msg := field(t, r.body, "message").(string); !strings.Contains(msg, `form field "scan"`) || !strings.Contains(msg, "unknown field") {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("too many parts", func(t *testing.T) {
		parts := []string{"title=x"}
		for range 20 {
			parts = append(parts, "tags=t")
		}
		body, ct := multipartBody(t, parts...)
		r := h.do(t, "POST", "/v1/shelves/1/books", body, "Content-Type", ct).expect(t, 413)
		if msg := field(t, r.body, "message").(string); !strings.Contains(msg, "more than 20 parts") {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("part header too large", func(t *testing.T) {
		body, ct := multipartBody(t, "checksum@"+strings.Repeat("n", 9000)+".bin:application/octet-stream=x")
		r := h.do(t, "POST", "/v1/shelves/1/books", body, "Content-Type", ct).expect(t, 413)
		if msg := field(t, r.body, "message").(string); !strings.Contains(msg, "max_part_header_bytes") {
			t.Fatalf("%s", r.body)
		}
	})
}

func TestBodyFormatXML(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, bodyFormatsConfig(lib.Addr))
	in := `<?xml version="1.0" encoding="UTF-8"?>
<Book xmlns="urn:example">
  <title>XML &amp; you</title>
  <genre>SCIENCE</genre>
  <pageCount>120</pageCount>
  <tags>a</tags><tags>b</tags>
  <labels><key>lang</key><value>en</value></labels>
  <rating>3.5</rating>
  <checksum>AAE=</checksum>
  <due_back>2030-01-02T03:04:05Z</due_back>
</Book>`
	r := h.do(t, "POST", "/v1/shelves/1/books?book_id=xml", in, "Content-Type", "application/xml", "Accept", "application/xml").expect(t, 200)
	if ct := r.header.Get("Content-Type"); ct != "application/xml; charset=utf-8" {
		t.Fatalf("Content-Type %q: %s", ct, r.body)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Book><name>shelves/1/books/xml</name><title>XML &amp; you</title><author></author>` +
		`<genre>SCIENCE</genre><pageCount>120</pageCount><tags>a</tags><tags>b</tags><labels><key>lang</key><value>en</value></labels>` +
		`<rating>3.5</rating><checksum>AAE=</checksum><titleOriginal></titleOriginal><dueBack>2030-01-02T03:04:05Z</dueBack><locked>false</locked></Book>`
	if string(r.body) != want {
		t.Fatalf("XML answer\n got %s\nwant %s", r.body, want)
	}
	// The XML answer reads back as the same book.
	var back struct {
		Title string   `xml:"title"`
		Tags  []string `xml:"tags"`
	}
	if err := xml.Unmarshal(r.body, &back); err != nil || back.Title != "XML & you" || len(back.Tags) != 2 {
		t.Fatalf("%v %+v", err, back)
	}
	r = h.do(t, "GET", "/v1/shelves/1/books/xml", "", "Accept", "application/xml").expect(t, 200)
	if !strings.Contains(string(r.body), "<title>XML &amp; you</title>") || r.header.Get("Vary") != "Accept" {
		t.Fatalf("%v %s", r.header, r.body)
	}
	r = h.do(t, "GET", "/v1/shelves/1/books/xml", "", "Accept", "application/json, application/xml").expect(t, 200)
	if field(t, r.body, "title") != "XML & you" {
		t.Fatalf("JSON wins ties: %s", r.body)
	}
	h.do(t, "GET", "/v1/shelves/1/books/xml", "", "Accept", "image/png").expect(t, 406)
	// A route without XML keeps answering JSON only.
	h.do(t, "GET", "/v1/shelves/1", "", "Accept", "application/xml").expect(t, 406)

	bad := func(t *testing.T, body, want string) {
		t.Helper()
		r := h.do(t, "POST", "/v1/shelves/1/books", body, "Content-Type", "text/xml", "Accept", "application/xml").expect(t, 400)
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("errors stay JSON: %q", ct)
		}
		if msg := field(t, r.body, "message").(string); !strings.Contains(msg, want) {
			t.Fatalf("message %q, want %q", msg, want)
		}
	}
	t.Run("unknown element", func(t *testing.T) {
		bad(t, `<Book><title>x</title><colour>red</colour></Book>`, "XML element Book/colour")
	})
	t.Run("too deep", func(t *testing.T) {
		bad(t, strings.Repeat("<a>", 9)+strings.Repeat("</a>", 9), "deeper than 8 levels")
	})
	t.Run("doctype", func(t *testing.T) {
		bad(t, `<!DOCTYPE Book [<!ENTITY x SYSTEM "file:///etc/passwd">]><Book><title>&x;</title></Book>`, "DOCTYPE")
	})
	t.Run("oneof twice", func(t *testing.T) {
		bad(t, `<Book><title>x</title><in_stock>true</in_stock><dueBack>2030-01-01T00:00:00Z</dueBack></Book>`, "oneof availability")
	})
	t.Run("bad number", func(t *testing.T) {
		bad(t, `<Book><title>x</title><pageCount>12x</pageCount></Book>`, "Book/pageCount")
	})
}

func TestBodyFormatCSRF(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, bodyFormatsConfig(lib.Addr))
	post := func(hdr ...string) response {
		return h.do(t, "POST", "/v1/shelves/1/books", "title=CSRF", append([]string{"Content-Type", formType}, hdr...)...)
	}
	for _, hdr := range [][]string{
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "null"},
	} {
		r := post(hdr...).expect(t, 403)
		msg := field(t, r.body, "message").(string)
		if field(t, r.body, "code") != 7.0 || !strings.Contains(msg, "X-Requested-With") || !strings.Contains(msg, "trusted_origins") {
			t.Fatalf("%v: %s", hdr, r.body)
		}
	}
	post("Origin", "https://evil.example", "X-Requested-With", "fetch").expect(t, 200)
	post("Origin", h.base).expect(t, 200)
	post("Sec-Fetch-Site", "same-origin", "Origin", h.base).expect(t, 200)
	post().expect(t, 200) // no browser
	// JSON needs a preflight cross-origin: not checked here.
	h.do(t, "POST", "/v1/shelves/1/books", `{"title":"json"}`, "Origin", "https://evil.example").expect(t, 200)

	// Off, the same cross-site post passes; trusted origins pass too.
	off := startGateway(t, libraryConfig(lib.Addr, `    policies:
      body_formats:
        form: true
        csrf: {enabled: false}
`))
	off.do(t, "POST", "/v1/shelves/1/books", "title=off", "Content-Type", formType, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example").expect(t, 200)
	trusted := startGateway(t, libraryConfig(lib.Addr, `    policies:
      body_formats:
        form: true
        csrf: {trusted_origins: ["https://app.example.org"]}
`))
	trusted.do(t, "POST", "/v1/shelves/1/books", "title=t", "Content-Type", formType, "Sec-Fetch-Site", "cross-site", "Origin", "https://app.example.org").expect(t, 200)
	trusted.do(t, "POST", "/v1/shelves/1/books", "title=t", "Content-Type", formType, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example").expect(t, 403)
}

// TestBodyFormatOpenAPI: the live document offers the extra media types of
// the routes that opted in, and only theirs.
func TestBodyFormatOpenAPI(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, bodyFormatsConfig(lib.Addr))
	_, r := loadOpenAPI(t, h, h.base)
	var doc struct {
		Paths map[string]map[string]struct {
			Method      string `json:"x-grpc-method"`
			RequestBody *struct {
				Content map[string]any `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]any `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, item := range doc.Paths {
		for _, op := range item {
			var req, resp []string
			if op.RequestBody != nil {
				for ct := range op.RequestBody.Content {
					req = append(req, ct)
				}
			}
			for ct := range op.Responses["200"].Content {
				resp = append(resp, ct)
			}
			sort.Strings(req)
			sort.Strings(resp)
			types[strings.TrimPrefix(op.Method, "library.v1.LibraryService.")] = fmt.Sprint(req, resp)
		}
	}
	for method, want := range map[string]string{
		"CreateBook":      "[application/json application/x-www-form-urlencoded application/xml multipart/form-data text/xml] [application/json application/xml]",
		"GetBook":         "[] [application/json application/xml]",
		"UploadBookCover": "[*/*] [application/json]",
		"MoveBook":        "[application/json] [application/json]",
	} {
		if types[method] != want {
			t.Errorf("%s: %s, want %s", method, types[method], want)
		}
	}
}

// TestBodyFormatXMLCached: the response cache keeps the JSON answer; a
// hit is rendered as XML for the client that prefers it, and as JSON for
// the next one.
func TestBodyFormatXMLCached(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, libraryConfig(lib.Addr, "    cache: {ttl: 1h}\n    policies:\n      body_formats: {xml: true}\n"))
	r := h.do(t, "GET", "/v1/shelves/1", "", "Accept", "application/xml").expect(t, 200)
	first := string(r.body)
	if r.header.Get("X-Refract-Cache") != "miss" || !strings.HasPrefix(first, `<?xml`) || !strings.Contains(first, "<theme>Fiction</theme>") {
		t.Fatalf("%v %s", r.header, r.body)
	}
	r = h.do(t, "GET", "/v1/shelves/1", "", "Accept", "application/xml").expect(t, 200)
	if r.header.Get("X-Refract-Cache") != "hit" || string(r.body) != first || r.header.Get("Content-Type") != "application/xml; charset=utf-8" {
		t.Fatalf("%v %s", r.header, r.body)
	}
	r = h.do(t, "GET", "/v1/shelves/1", "").expect(t, 200)
	if r.header.Get("X-Refract-Cache") != "hit" || field(t, r.body, "theme") != "Fiction" {
		t.Fatalf("%v %s", r.header, r.body)
	}
}
