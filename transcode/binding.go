package transcode

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/refract-gateway/refract/transcode/wirejson"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Resolver finds message and extension types for google.protobuf.Any and
// error details: a reflection snapshot's TypeResolver in production. The
// same interface as rpcstatus.Resolver, so one value serves both.
type Resolver = rpcstatus.Resolver

// Options are one upstream's JSON mapping choices. The zero value matches
// grpc-gateway's defaults: json_name in responses, unpopulated fields
// emitted, unknown fields and query parameters ignored.
type Options struct {
	// UseProtoNames writes responses with the .proto field names instead of
	// their json_name. Requests accept both forms either way.
	UseProtoNames bool
	// OmitUnpopulated leaves fields at their zero value out of responses.
	OmitUnpopulated bool
	// Strict rejects unknown JSON fields and unknown query parameters with
	// 400, naming them.
	Strict bool
	// Resolver resolves Any and error-detail types; nil uses the linked-in
	// registry only.
	Resolver Resolver
	// DisableFastPath makes every call go through dynamicpb and protojson
	// instead of direct JSON↔wire transcoding (for comparison and as an
	// escape hatch).
	DisableFastPath bool
	// UnpopulatedDetails writes the zero-valued fields of error details
	// too, as grpc-gateway does (rpcstatus.EncodeUnpopulated).
	UnpopulatedDetails bool
	// MaxDepth bounds how deeply a request body's messages may nest (JSON
	// objects for messages, and Struct/Value/ListValue levels); deeper
	// bodies are INVALID_ARGUMENT. 0 means DefaultMaxDepth.
	MaxDepth int
}

const (
	httpBodyName  protoreflect.FullName = "google.api.HttpBody"
	fieldMaskName protoreflect.FullName = "google.protobuf.FieldMask"
)

// Binding is one compiled HTTP mapping of a method: an HTTP method and path
// template, with the fields that path variables, the body and the response
// body bind to. Immutable once compiled; safe for concurrent use.
type Binding struct {
	// Method is the gRPC method the binding calls.
	Method protoreflect.MethodDescriptor
	// FullMethod is the method's gRPC path, "/pkg.Service/Method".
	FullMethod string
	// HTTPMethod is GET, POST, …, or a custom rule's kind.
	HTTPMethod string
	// Template is the parsed path template.
	Template *router.Template
	// Default reports a route made for a method without google.api.http rules.
	Default bool
	// ClientStreaming and ServerStreaming report which sides of the call
	// stream (both: bidi). A streaming request side takes one message per
	// element of the body (see MessageDecoder); a streaming response side is
	// written with a Framing.
	ClientStreaming, ServerStreaming bool

	pathFields [][]protoreflect.FieldDescriptor // one field path per template variable
	body       []protoreflect.FieldDescriptor   // nil with bodyStar: the whole message
	hasBody    bool
	bodyStar   bool
	response   []protoreflect.FieldDescriptor // response_body field path, nil for the whole message
	updateMask protoreflect.FieldDescriptor   // PATCH update_mask to fill from the body, or nil

	fast     *fastPath       // direct JSON↔wire plan (compileFastPath); nil when disabled
	fastBody *wirejson.Field // the body field's plan when the body is not "*"

	strict             bool
	unpopulatedDetails bool
	maxDepth           int // Options.MaxDepth, defaulted
	unmarshal          protojson.UnmarshalOptions
	marshal            protojson.MarshalOptions
	resolver           Resolver
}

// Rules returns a copy of the google.api.http rule a method's descriptor
// carries, or nil when it has none. The copy is the caller's to change: the
// descriptor's own options are shared by everything that uses it.
func Rules(md protoreflect.MethodDescriptor) *annotations.HttpRule {
	opts := md.Options()
	if opts == nil || !proto.HasExtension(opts, annotations.E_Http) {
		return nil
	}
	rule, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	if rule == nil {
		return nil
	}
	return proto.Clone(rule).(*annotations.HttpRule)
}

// DefaultRule is the route of a method without rules:
// POST /{package.Service}/{Method} with the whole body as the request.
func DefaultRule(md protoreflect.MethodDescriptor) *annotations.HttpRule {
	return &annotations.HttpRule{
		Selector: string(md.FullName()),
		Pattern:  &annotations.HttpRule_Post{Post: "/" + string(md.Parent().FullName()) + "/" + string(md.Name())},
		Body:     "*",
	}
}

// Compile turns rule and its additional_bindings into bindings for md. It
// checks everything the HTTP side will rely on: the template parses, every
// variable and the body and response_body name existing fields of the right
// kind, a GET or DELETE has no body, and additional bindings do not nest.
// Errors name the method and the offending rule.
func Compile(md protoreflect.MethodDescriptor, rule *annotations.HttpRule, opts Options) ([]*Binding, error) {
	if rule == nil {
		return nil, fmt.Errorf("transcode: method %s: no http rule", md.FullName())
	}
	out := make([]*Binding, 0, 1+len(rule.GetAdditionalBindings()))
	b, err := compileOne(md, rule, opts)
	if err != nil {
		return nil, err
	}
	out = append(out, b)
	for _, ab := range rule.GetAdditionalBindings() {
		if len(ab.GetAdditionalBindings()) > 0 {
			return nil, fmt.Errorf("transcode: method %s: additional_bindings must not nest", md.FullName())
		}
		b, err := compileOne(md, ab, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func compileOne(md protoreflect.MethodDescriptor, rule *annotations.HttpRule, opts Options) (*Binding, error) {
	verb, path := rulePattern(rule)
	errf := func(format string, args ...any) error {
		return fmt.Errorf("transcode: method %s: rule %s %s: %s", md.FullName(), verb, path, fmt.Sprintf(format, args...))
	}
	if verb == "" || path == "" {
		return nil, fmt.Errorf("transcode: method %s: rule has no HTTP method and path", md.FullName())
	}
	tmpl, err := router.ParseTemplate(path)
	if err != nil {
		return nil, fmt.Errorf("transcode: method %s: %w", md.FullName(), err)
	}
	b := &Binding{
		Method:             md,
		FullMethod:         "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		HTTPMethod:         verb,
		Template:           tmpl,
		strict:             opts.Strict,
		unpopulatedDetails: opts.UnpopulatedDetails,
		maxDepth:           effectiveDepth(opts.MaxDepth),
		resolver:           opts.Resolver,
		unmarshal:          protojson.UnmarshalOptions{DiscardUnknown: !opts.Strict, RecursionLimit: effectiveDepth(opts.MaxDepth)},
		marshal: protojson.MarshalOptions{
			UseProtoNames:   opts.UseProtoNames,
			EmitUnpopulated: !opts.OmitUnpopulated,
		},
	}
	b.ClientStreaming, b.ServerStreaming = md.IsStreamingClient(), md.IsStreamingServer()
	if opts.Resolver != nil {
		b.unmarshal.Resolver = opts.Resolver
		b.marshal.Resolver = opts.Resolver
	}
	in := md.Input()
	for _, v := range tmpl.Variables() {
		fields, err := fieldPath(in, v.Path())
		if err != nil {
			return nil, errf("path variable %s: %v", v.Path(), err)
		}
		// A repeated scalar takes comma-separated elements, as in grpc-gateway.
		if last := fields[len(fields)-1]; last.IsMap() || last.Kind() == protoreflect.MessageKind || last.Kind() == protoreflect.GroupKind {
			return nil, errf("path variable %s: field must be a scalar, not %s", v.Path(), kindName(last))
		}
		b.pathFields = append(b.pathFields, fields)
	}
	switch body := rule.GetBody(); body {
	case "":
	case "*":
		b.hasBody, b.bodyStar = true, true
	default:
		fields, err := fieldPath(in, body)
		if err != nil {
			return nil, errf("body %q: %v", body, err)
		}
		if b.boundBy(fields) != nil {
			return nil, errf("body %q: field is also bound by the path", body)
		}
		b.hasBody, b.body = true, fields
	}
	if b.ClientStreaming && !b.hasBody {
		// The request messages can only arrive in the body: whole messages,
		// as grpc-gateway reads a client stream whatever the rule's body.
		b.hasBody, b.bodyStar = true, true
	}
	if b.hasBody && verb == http.MethodGet {
		// GET carries no body in HTTP semantics; caches and proxies drop it.
		return nil, errf("GET must not have a body")
	}
	if rb := rule.GetResponseBody(); rb != "" {
		fields, err := fieldPath(md.Output(), rb)
		if err != nil {
			return nil, errf("response_body %q: %v", rb, err)
		}
		if len(fields) != 1 {
			return nil, errf("response_body %q: must name a top-level field", rb)
		}
		b.response = fields
	}
	if verb == http.MethodPatch && len(b.body) == 1 && b.body[0].Message() != nil && !b.body[0].IsList() && !b.body[0].IsMap() {
		// Only a message body has keys that are field names.
		if f := in.Fields().ByName("update_mask"); f != nil && !f.IsList() && f.Message() != nil && f.Message().FullName() == fieldMaskName {
			b.updateMask = f
		}
	}
	if !opts.DisableFastPath {
		b.fast = compileFastPath(b)
	}
	return b, nil
}

// boundBy returns the path variable's or body's field path that fields
// lies under (is equal to or nested in), or nil: such fields are set by the
// path or body and not taken from the query.
func (b *Binding) boundBy(fields []protoreflect.FieldDescriptor) []protoreflect.FieldDescriptor {
	for _, p := range b.pathFields {
		if hasPrefix(fields, p) {
			return p
		}
	}
	if b.body != nil && hasPrefix(fields, b.body) {
		return b.body
	}
	return nil
}

func hasPrefix(fields, prefix []protoreflect.FieldDescriptor) bool {
	if len(prefix) > len(fields) {
		return false
	}
	for i, f := range prefix {
		if fields[i] != f {
			return false
		}
	}
	return true
}

// FromRuleOwnPattern reports whether b was compiled from rule's own
// pattern rather than from one of its additional_bindings (the same path
// template); false for a nil rule.
func (b *Binding) FromRuleOwnPattern(rule *annotations.HttpRule) bool {
	if rule == nil {
		return false
	}
	_, path := rulePattern(rule)
	t, err := router.ParseTemplate(path)
	return err == nil && t.String() == b.Template.String()
}

func rulePattern(rule *annotations.HttpRule) (verb, path string) {
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "", ""
}

// fieldPath resolves a dotted path of proto or JSON names ("a.b.c") from
// md down through singular message fields (a body may name a nested field).
func fieldPath(md protoreflect.MessageDescriptor, path string) ([]protoreflect.FieldDescriptor, error) {
	out := make([]protoreflect.FieldDescriptor, 0, strings.Count(path, ".")+1)
	for rest := path; ; {
		name, tail, more := strings.Cut(rest, ".")
		f := lookupField(md, name)
		if f == nil {
			return nil, fmt.Errorf("message %s has no field %q", md.FullName(), name)
		}
		if more && (f.IsList() || f.IsMap() || f.Message() == nil) {
			return nil, fmt.Errorf("field %s is not a singular message", f.FullName())
		}
		out = append(out, f)
		if !more {
			return out, nil
		}
		md, rest = f.Message(), tail
	}
}

// lookupField finds a field by its .proto name or its JSON name.
func lookupField(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fs := md.Fields()
	if f := fs.ByName(protoreflect.Name(name)); f != nil {
		return f
	}
	return fs.ByJSONName(name)
}

func protoPath(fields []protoreflect.FieldDescriptor) string {
	var sb strings.Builder
	for i, f := range fields {
		if i > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(string(f.Name()))
	}
	return sb.String()
}

func kindName(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return "a map"
	case f.IsList():
		return "a repeated field"
	case f.Message() != nil:
		return "message " + string(f.Message().FullName())
	}
	return f.Kind().String()
}

// String describes the binding for logs and errors: "GET /v1/{name=shelves/*} → library.v1.LibraryService.GetShelf".
func (b *Binding) String() string {
	return b.HTTPMethod + " " + b.Template.String() + " → " + string(b.Method.FullName())
}

// BodyField names the field the request body binds to: "*" for the whole
// message, "" when the binding takes no body.
func (b *Binding) BodyField() string {
	switch {
	case b.bodyStar:
		return "*"
	case b.hasBody:
		return protoPath(b.body)
	}
	return ""
}

// ResponseField names the response_body field, or "" for the whole message.
func (b *Binding) ResponseField() string { return protoPath(b.response) }

// UseProtoNames reports whether responses use the .proto field names
// (Options.UseProtoNames) instead of json_name.
func (b *Binding) UseProtoNames() bool { return b.marshal.UseProtoNames }

// PathFields returns, for each variable of Template in order, the field
// path it binds to (a.b.c as three descriptors). A fresh slice of the
// binding's paths: the outer slice is the caller's, the paths are shared
// and must not be changed.
func (b *Binding) PathFields() [][]protoreflect.FieldDescriptor {
	return append([][]protoreflect.FieldDescriptor(nil), b.pathFields...)
}

// BodyPath returns the field path the body binds to when it names a
// field; nil when the body is the whole message ("*") or there is none
// (BodyField tells them apart). Shared: must not be changed.
func (b *Binding) BodyPath() []protoreflect.FieldDescriptor { return b.body }

// ResponsePath returns the response_body field path; nil when the whole
// response message is the body. Shared: must not be changed.
func (b *Binding) ResponsePath() []protoreflect.FieldDescriptor { return b.response }

// BoundBy returns the path variable's or body field's path that fields
// lies under (is equal to or nested in), or nil: fields under one are set
// by the path or body and are not taken from the query.
func (b *Binding) BoundBy(fields []protoreflect.FieldDescriptor) []protoreflect.FieldDescriptor {
	return b.boundBy(fields)
}

// StreamingKind names which sides of b's method stream: "server",
// "client", "bidi", or "" for a unary method.
func (b *Binding) StreamingKind() string {
	switch {
	case b.ClientStreaming && b.ServerStreaming:
		return "bidi"
	case b.ClientStreaming:
		return "client"
	case b.ServerStreaming:
		return "server"
	}
	return ""
}
