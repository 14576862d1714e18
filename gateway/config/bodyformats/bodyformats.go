package bodyformats

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/refract-gateway/refract/transcode/bodyformat"
)

// Formats lets routes take form, multipart and XML request
// bodies and answer in XML (docs/body-formats.md). The most specific
// level's block replaces the others whole.
type Formats struct {
	// Form accepts application/x-www-form-urlencoded bodies: fields named
	// as query parameters are, under the route's body. Default false.
	Form bool `yaml:"form"`
	// Multipart accepts multipart/form-data bodies: text parts as form
	// fields, file parts into bytes or google.api.HttpBody fields.
	// Default false.
	Multipart bool `yaml:"multipart"`
	// XML accepts application/xml and text/xml bodies and answers in XML
	// when Accept prefers it. Default false.
	XML bool `yaml:"xml"`
	// MaxFields bounds the form fields, multipart parts or XML elements of
	// one body (413 past it); default 1000.
	MaxFields int `yaml:"max_fields"`
	// MaxPartHeaderBytes bounds the header of one multipart part; default
	// 8192.
	MaxPartHeaderBytes int `yaml:"max_part_header_bytes"`
	// MaxDepth bounds how deeply XML elements nest; default the JSON depth
	// limit (limits.max_json_depth).
	MaxDepth int `yaml:"max_depth"`
	// CSRF is the defence against cross-site form posts, on by default
	// for routes that take form or multipart bodies.
	CSRF CSRF `yaml:"csrf"`
}

// CSRF is the cross-site request defence of form and multipart
// bodies: such a body is taken from the gateway's own origin
// (Sec-Fetch-Site, else Origin against Host), from a trusted origin, or
// with Header set; other browser requests get 403.
type CSRF struct {
	// Enabled checks form and multipart bodies' origin; default true.
	Enabled *bool `yaml:"enabled"`
	// Header names a request header whose presence passes the check
	// (browsers send custom headers cross-origin only after a preflight),
	// e.g. X-Requested-With. Default none.
	Header string `yaml:"header"`
	// TrustedOrigins may post forms cross-origin, as scheme://host[:port].
	TrustedOrigins []string `yaml:"trusted_origins"`
}

// Options are the runtime options of bf.
func (bf *Formats) Options() bodyformat.Options {
	return bodyformat.Options{
		Form: bf.Form, Multipart: bf.Multipart, XML: bf.XML,
		MaxFields: bf.MaxFields, MaxPartHeaderBytes: bf.MaxPartHeaderBytes, MaxDepth: bf.MaxDepth,
		CSRF: bodyformat.CSRF{
			Off:            bf.CSRF.Enabled != nil && !*bf.CSRF.Enabled,
			Header:         bf.CSRF.Header,
			TrustedOrigins: bf.CSRF.TrustedOrigins,
		},
	}
}

// Check reports each bad key of bf, which is at key, through bad.
func (bf *Formats) Check(key string, bad func(string, error)) {
	key += ".body_formats"
	for _, n := range []struct {
		name string
		v    int
	}{{"max_fields", bf.MaxFields}, {"max_part_header_bytes", bf.MaxPartHeaderBytes}, {"max_depth", bf.MaxDepth}} {
		if n.v < 0 {
			bad(key+"."+n.name, errors.New("must be positive (0: the default)"))
		}
	}
	if h := bf.CSRF.Header; h != "" && !validHeaderName(h) {
		bad(key+".csrf.header", fmt.Errorf("%q is not a header name", h))
	}
	cop := http.NewCrossOriginProtection()
	for i, o := range bf.CSRF.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			bad(fmt.Sprintf("%s.csrf.trusted_origins[%d]", key, i), fmt.Errorf("%w: write scheme://host[:port]", err))
		}
	}
}

// validHeaderName reports whether s is an HTTP header field name (a token).
func validHeaderName(s string) bool {
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || c == ':' || c == '(' || c == ')' || c == ',' || c == '/' || c == ';' ||
			c == '<' || c == '=' || c == '>' || c == '?' || c == '@' || c == '[' || c == '\\' || c == ']' || c == '{' || c == '}' || c == '"' {
			return false
		}
	}
	return s != ""
}
