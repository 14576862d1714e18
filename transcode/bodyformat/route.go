package bodyformat

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const (
	formType      = "application/x-www-form-urlencoded"
	multipartType = "multipart/form-data"
	httpBodyName  = protoreflect.FullName("google.api.HttpBody")
)

// Route is the body formats of one route, compiled against its binding.
// Immutable once built; safe for concurrent use.
type Route struct {
	b *transcode.Binding
	o Options
	// target is the message the request body fills (the whole request for
	// body "*", else the body field's message); nil when the body is not
	// a message, which no form or XML body can fill.
	target protoreflect.MessageDescriptor
	prefix string // the body field's path and a dot, "" for body "*": form keys live under it
	raw    bool   // target is a google.api.HttpBody: it takes one file part's bytes as they are
	// twin binds the same method with no body and strict query rules: a
	// form's fields, prefixed, decode through it exactly as query
	// parameters do.
	twin *transcode.Binding
	csrf *http.CrossOriginProtection
}

// New compiles o for the route of b; t is the upstream's transcoding
// options (their MaxDepth is the default XML depth). It returns nil when o
// accepts no format, and an error when a trusted origin does not parse.
func New(b *transcode.Binding, o Options, t transcode.Options) (*Route, error) {
	if !o.Form && !o.Multipart && !o.XML {
		return nil, nil
	}
	if o.MaxFields <= 0 {
		o.MaxFields = DefaultMaxFields
	}
	if o.MaxPartHeaderBytes <= 0 {
		o.MaxPartHeaderBytes = DefaultMaxPartHeaderBytes
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = t.MaxDepth
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = transcode.DefaultMaxDepth
	}
	rt := &Route{b: b, o: o, csrf: http.NewCrossOriginProtection()}
	for _, origin := range o.CSRF.TrustedOrigins {
		if err := rt.csrf.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("bodyformat: trusted origin: %w", err)
		}
	}
	switch body := b.BodyField(); body {
	case "":
	case "*":
		rt.target = b.Method.Input()
	default:
		path := b.BodyPath()
		if f := path[len(path)-1]; f.Message() != nil && !f.IsList() && !f.IsMap() {
			rt.target, rt.prefix = f.Message(), body+"."
		}
	}
	rt.raw = rt.target != nil && rt.target.FullName() == httpBodyName
	if (o.Form || o.Multipart) && rt.target != nil && !rt.raw {
		rule := &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/form"}}
		twins, err := transcode.Compile(b.Method, rule, transcode.Options{Strict: true, DisableFastPath: true, MaxDepth: t.MaxDepth})
		if err != nil {
			return nil, fmt.Errorf("bodyformat: %w", err)
		}
		rt.twin = twins[0]
	}
	return rt, nil
}

// Request turns a form, multipart or XML body of *in into the JSON body
// the binding decodes (or, for a google.api.HttpBody body, into the one
// file part's bytes), after the CSRF check of form bodies, replacing *in.
// Other bodies pass unchanged. When it returns false it has answered the
// error (400, 403, 413 or 415 as a google.rpc.Status).
func (rt *Route) Request(w http.ResponseWriter, r *http.Request, req *transcode.Request) bool {
	out, ok := rt.request(w, r, *req)
	if ok {
		*req = out
	}
	return ok
}

func (rt *Route) request(w http.ResponseWriter, r *http.Request, in transcode.Request) (transcode.Request, bool) {
	if in.ContentType == "" || strings.HasPrefix(in.ContentType, "application/json") {
		return in, true // JSON, the common case, without parsing its type
	}
	mt, params, err := mime.ParseMediaType(in.ContentType)
	if err != nil {
		return in, true // not ours: the decoder names what is wrong with it
	}
	isForm := mt == formType || mt == multipartType
	if isForm && (rt.o.Form || rt.o.Multipart) && !rt.sameOrigin(w, r) {
		return in, false
	}
	var out transcode.Request
	switch {
	case mt == multipartType && rt.o.Multipart, mt == formType && rt.o.Form && !rt.raw:
		if rt.target == nil {
			return in, rt.fail(w, rt.noMessage(mt))
		}
		out, err = rt.decodeForm(in, mt, params["boundary"])
	case (mt == "application/xml" || mt == "text/xml") && rt.o.XML && !rt.raw:
		if rt.target == nil {
			return in, rt.fail(w, rt.noMessage(mt))
		}
		out, err = rt.decodeXML(in)
	default:
		return in, true
	}
	if err != nil {
		return in, rt.fail(w, err)
	}
	return out, true
}

// noMessage refuses a form or XML body on a route whose body is a scalar,
// repeated or map field: those formats describe messages.
func (rt *Route) noMessage(mt string) error {
	if rt.b.BodyField() == "" {
		return &failure{http.StatusUnsupportedMediaType, codes.InvalidArgument, fmt.Sprintf(
			"request body: this route's rule has no body, so a %q body would be ignored; send the fields in the path and query string", mt)}
	}
	return &failure{http.StatusUnsupportedMediaType, codes.InvalidArgument, fmt.Sprintf(
		"request body: this route's body is the field %s, which is not a message; a %q body cannot fill it: send JSON", rt.b.BodyField(), mt)}
}

// failure is a rejection with its own HTTP status (413, 415 and 403 do
// not follow from the gRPC code).
type failure struct {
	status int
	code   codes.Code
	msg    string
}

func (f *failure) Error() string { return f.msg }

func invalid(format string, args ...any) error {
	return &failure{http.StatusBadRequest, codes.InvalidArgument, fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) error {
	return &failure{http.StatusRequestEntityTooLarge, codes.InvalidArgument, fmt.Sprintf(format, args...)}
}

// fail answers err as a google.rpc.Status and returns false.
func (rt *Route) fail(w http.ResponseWriter, err error) bool {
	var f *failure
	if errors.As(err, &f) {
		rpcstatus.WriteStatus(w, f.status, f.code, f.msg)
		return false
	}
	st := status.Convert(err)
	rpcstatus.WriteStatus(w, rpcstatus.HTTPStatus(st.Code()), st.Code(), st.Message())
	return false
}

// RequestTypes are the media types the route takes besides JSON, for the
// OpenAPI document; nil for a nil route. The multipart and form types are
// offered where the body is a message; XML where it is not raw bytes.
func (rt *Route) RequestTypes() []string {
	if rt == nil || rt.target == nil || rt.raw && !rt.o.Multipart {
		return nil
	}
	var out []string
	if rt.o.Form && !rt.raw {
		out = append(out, formType)
	}
	if rt.o.Multipart {
		out = append(out, multipartType)
	}
	if rt.o.XML && !rt.raw {
		out = append(out, "application/xml", "text/xml")
	}
	return out
}

// ResponseTypes are the media types the route answers with besides JSON;
// nil for a nil route.
func (rt *Route) ResponseTypes() []string {
	if rt == nil || !rt.o.XML || rt.b.RawResponse() {
		return nil
	}
	return []string{"application/xml"}
}
