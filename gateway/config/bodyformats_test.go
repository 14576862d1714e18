package config

import (
	"testing"
)

// TestBodyFormatsKeys: body_formats loads at every level and its bad keys
// are reported with their lines.
func TestBodyFormatsKeys(t *testing.T) {
	cfg, err := Parse([]byte(libraryConfig("127.0.0.1:1", `    routes:
      - method: library.v1.LibraryService.CreateBook
        policies:
          body_formats:
            form: true
            xml: true
            max_fields: 10
            csrf: {enabled: false, header: X-Requested-With, trusted_origins: ["https://app.example.org"]}
`)))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Upstreams[0].Routes[0].Policies.BodyFormats.Options()
	if !o.Form || o.Multipart || !o.XML || o.MaxFields != 10 || !o.CSRF.Off || o.CSRF.Header != "X-Requested-With" || len(o.CSRF.TrustedOrigins) != 1 {
		t.Fatalf("%+v", o)
	}
	_, err = Parse([]byte("policies:\n  body_formats:\n    max_fields: -1\n    csrf: {header: 'X Bad', trusted_origins: ['app.example.org']}\n" + libraryConfig("127.0.0.1:1", "")))
	want := "line 3: policies.body_formats.max_fields: must be positive (0: the default)\n" +
		`line 4: policies.body_formats.csrf.header: "X Bad" is not a header name` + "\n" +
		`line 4: policies.body_formats.csrf.trusted_origins[0]: invalid origin "app.example.org": scheme is required: write scheme://host[:port]`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
