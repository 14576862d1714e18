package bodyformat

// Options are the body formats one route accepts and their budgets. The
// zero value accepts none: New returns nil for it.
type Options struct {
	// Form accepts application/x-www-form-urlencoded bodies.
	Form bool
	// Multipart accepts multipart/form-data bodies.
	Multipart bool
	// XML accepts application/xml and text/xml bodies and answers in XML
	// when the client's Accept prefers it.
	XML bool
	// MaxFields bounds the form fields, multipart parts or XML elements of
	// one body; default DefaultMaxFields.
	MaxFields int
	// MaxPartHeaderBytes bounds the header of one multipart part (names,
	// values and their separators); default DefaultMaxPartHeaderBytes.
	MaxPartHeaderBytes int
	// MaxDepth bounds how deeply an XML body's elements nest; 0: the
	// transcoder's depth (its Options.MaxDepth).
	MaxDepth int
	// CSRF is the cross-site request defence of form and multipart bodies.
	CSRF CSRF
}

// CSRF is the defence against cross-site form posts. A form or multipart
// request passes when it carries Header (any value: a browser sends a
// custom header cross-origin only after a preflight), or when it comes
// from the same origin or a trusted one (Sec-Fetch-Site, else Origin
// against Host); requests that carry neither Sec-Fetch-Site nor Origin are
// not from a browser and pass.
type CSRF struct {
	// Off turns the defence off. Default false: on.
	Off bool
	// Header, when set, names a request header whose presence passes the
	// check.
	Header string
	// TrustedOrigins may post forms cross-origin ("https://app.example.org").
	TrustedOrigins []string
}

const (
	// DefaultMaxFields is Options.MaxFields' default.
	DefaultMaxFields = 1000
	// DefaultMaxPartHeaderBytes is Options.MaxPartHeaderBytes' default.
	DefaultMaxPartHeaderBytes = 8 << 10
)
