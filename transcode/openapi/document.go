package openapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/wirejson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Route is one served route to describe in an OpenAPI document.
type Route struct {
	// Binding is the route's compiled binding: method, fields bound by the
	// path and body, response_body and JSON naming.
	Binding *transcode.Binding
	// Path is the template the route is served under when it differs from
	// Binding.Template (mounted under a prefix); nil: Binding.Template.
	// Its variables must be the binding's, in the same order.
	Path *router.Template
	// Composite, when set, describes an aggregate route instead (Binding
	// and Path unused).
	Composite *Composite
}

// Info is the document's info object.
type Info struct {
	// Title names the API; default "refract".
	Title string
	// Description is Markdown shown above the operations.
	Description string
	// Version is the document's version; default a hash of the paths and
	// schemas, so it changes exactly when the described API does.
	Version string
}

// Document describes routes as an OpenAPI 3.1 document (JSON): one
// operation per route under its path in OpenAPI notation, path and query
// parameters, request and response bodies in the proto3 JSON mapping,
// stream framings, a google.rpc.Status default response, and a component
// schema per message and enum type reached. Descriptions come from proto
// comments when the descriptors carry source info.
//
// A route whose HTTP method OpenAPI 3.1 has no field for (a custom rule's
// kind, e.g. LOCK) is listed under the path item's
// "x-additional-operations" (OpenAPI 3.2's additionalOperations).
// Routes with the same path shape share a path item and its parameter
// names; a second route with a path and method already described is left
// out. Operation IDs are the gRPC method's full name, numbered _2, _3 …
// for its further routes in the order routes lists them; apart from those
// numbers the document does not depend on the routes' order. Safe for
// concurrent use.
func Document(info Info, routes []Route) ([]byte, error) {
	g := &oaBuilder{schemas: newSchemaSet(), shapes: map[string]oaPath{}, opIDs: map[string]int{}}
	type item struct {
		r    Route
		path oaPath
		tmpl *router.Template
		id   string
	}
	items := make([]item, 0, len(routes))
	var composites []*Composite
	for _, r := range routes {
		if r.Composite != nil {
			composites = append(composites, r.Composite)
			continue
		}
		id := string(r.Binding.Method.FullName())
		if k := g.opIDs[id]; k > 0 {
			g.opIDs[id] = k + 1
			id += "_" + strconv.Itoa(k+1)
		} else {
			g.opIDs[id] = 1
		}
		t := r.Path
		if t == nil {
			t = r.Binding.Template
		}
		if len(t.Variables()) != len(r.Binding.PathFields()) {
			return nil, fmt.Errorf("openapi: %s served as %s: the path's variables are not the binding's", r.Binding, t)
		}
		items = append(items, item{r: r, path: openAPIPath(t), tmpl: t, id: id})
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.path.path != b.path.path {
			return a.path.path < b.path.path
		}
		if a.r.Binding.HTTPMethod != b.r.Binding.HTTPMethod {
			return a.r.Binding.HTTPMethod < b.r.Binding.HTTPMethod
		}
		return a.r.Binding.Method.FullName() < b.r.Binding.Method.FullName()
	})
	doc := &oaDocument{OpenAPI: "3.1.0", Paths: map[string]*oaPathItem{}}
	tags := map[string]*oaTag{}
	for _, it := range items {
		p := it.path
		if prev, ok := g.shapes[p.shape]; ok {
			// Same URLs as an earlier route: OpenAPI wants one path item
			// with one set of parameter names.
			for i := range p.params {
				p.params[i].name = prev.params[i].name
			}
			p.path = prev.path
		} else {
			g.shapes[p.shape] = p
		}
		pi := doc.Paths[p.path]
		if pi == nil {
			pi = &oaPathItem{}
			doc.Paths[p.path] = pi
		}
		if pi.get(it.r.Binding.HTTPMethod) != nil {
			continue
		}
		pi.set(it.r.Binding.HTTPMethod, g.operation(it.r.Binding, it.tmpl, p, it.id))
		sd := it.r.Binding.Method.Parent()
		if _, ok := tags[string(sd.FullName())]; !ok {
			tags[string(sd.FullName())] = &oaTag{Name: string(sd.FullName()), Description: comments(sd)}
		}
	}
	for _, c := range composites {
		p := openAPIPath(c.Template)
		pi := doc.Paths[p.path]
		if pi == nil {
			pi = &oaPathItem{}
			doc.Paths[p.path] = pi
		}
		if pi.get(c.HTTPMethod) == nil {
			pi.set(c.HTTPMethod, g.compositeOperation(c, p))
			tags["aggregates"] = &oaTag{Name: "aggregates", Description: "Routes answered by several calls merged into one object."}
		}
	}
	for _, t := range tags {
		doc.Tags = append(doc.Tags, t)
	}
	sort.Slice(doc.Tags, func(i, j int) bool { return doc.Tags[i].Name < doc.Tags[j].Name })
	doc.Components.Schemas = g.schemas.components
	doc.Info = oaInfo{Title: info.Title, Description: info.Description, Version: info.Version}
	if doc.Info.Title == "" {
		doc.Info.Title = "refract"
	}
	if doc.Info.Version == "" {
		body, err := json.Marshal(struct {
			P any
			C any
		}{doc.Paths, doc.Components})
		if err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
		sum := sha256.Sum256(body)
		doc.Info.Version = hex.EncodeToString(sum[:6])
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return out, nil
}

type oaDocument struct {
	OpenAPI    string                 `json:"openapi"`
	Info       oaInfo                 `json:"info"`
	Tags       []*oaTag               `json:"tags,omitempty"`
	Paths      map[string]*oaPathItem `json:"paths"`
	Components struct {
		Schemas map[string]*oaSchema `json:"schemas"`
	} `json:"components"`
}

type oaInfo struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Version     string `json:"version"`
}

type oaTag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

type oaPathItem struct {
	Get     *oaOperation            `json:"get,omitempty"`
	Put     *oaOperation            `json:"put,omitempty"`
	Post    *oaOperation            `json:"post,omitempty"`
	Delete  *oaOperation            `json:"delete,omitempty"`
	Options *oaOperation            `json:"options,omitempty"`
	Head    *oaOperation            `json:"head,omitempty"`
	Patch   *oaOperation            `json:"patch,omitempty"`
	Trace   *oaOperation            `json:"trace,omitempty"`
	Extra   map[string]*oaOperation `json:"x-additional-operations,omitempty"`
}

// get returns the path item's operation of an HTTP method, or nil.
func (pi *oaPathItem) get(method string) *oaOperation {
	if f := pi.field(method); f != nil {
		return *f
	}
	return pi.Extra[method]
}

// set stores op as the operation of an HTTP method.
func (pi *oaPathItem) set(method string, op *oaOperation) {
	if f := pi.field(method); f != nil {
		*f = op
		return
	}
	if pi.Extra == nil {
		pi.Extra = map[string]*oaOperation{}
	}
	pi.Extra[method] = op
}

// field is the path item's field for an HTTP method, nil for a method
// OpenAPI 3.1 has no field for.
func (pi *oaPathItem) field(method string) **oaOperation {
	switch method {
	case http.MethodGet:
		return &pi.Get
	case http.MethodPut:
		return &pi.Put
	case http.MethodPost:
		return &pi.Post
	case http.MethodDelete:
		return &pi.Delete
	case http.MethodOptions:
		return &pi.Options
	case http.MethodHead:
		return &pi.Head
	case http.MethodPatch:
		return &pi.Patch
	case http.MethodTrace:
		return &pi.Trace
	}
	return nil
}

type oaOperation struct {
	Tags        []string               `json:"tags,omitempty"`
	Summary     string                 `json:"summary,omitempty"`
	Description string                 `json:"description,omitempty"`
	OperationID string                 `json:"operationId"`
	Parameters  []*oaParameter         `json:"parameters,omitempty"`
	RequestBody *oaRequestBody         `json:"requestBody,omitempty"`
	Responses   map[string]*oaResponse `json:"responses"`
	GRPCMethod  string                 `json:"x-grpc-method"`
	Streaming   string                 `json:"x-grpc-streaming,omitempty"`
}

type oaParameter struct {
	Name        string    `json:"name"`
	In          string    `json:"in"`
	Description string    `json:"description,omitempty"`
	Required    bool      `json:"required,omitempty"`
	Style       string    `json:"style,omitempty"`
	Explode     *bool     `json:"explode,omitempty"`
	Schema      *oaSchema `json:"schema"`
}

type oaRequestBody struct {
	Description string                  `json:"description,omitempty"`
	Content     map[string]*oaMediaType `json:"content"`
}

type oaMediaType struct {
	Schema *oaSchema `json:"schema,omitempty"`
}

type oaResponse struct {
	Description string                  `json:"description"`
	Content     map[string]*oaMediaType `json:"content,omitempty"`
}

// oaBuilder holds what one document's operations share.
type oaBuilder struct {
	schemas *schemaSet
	shapes  map[string]oaPath // path shape → the first path built for it
	opIDs   map[string]int    // method full name → operations numbered
}

func (g *oaBuilder) operation(b *transcode.Binding, t *router.Template, p oaPath, id string) *oaOperation {
	n := naming(b.UseProtoNames())
	md := b.Method
	op := &oaOperation{
		Tags:        []string{string(md.Parent().FullName())},
		OperationID: id,
		GRPCMethod:  string(md.FullName()),
		Responses:   map[string]*oaResponse{},
	}
	desc := comments(md)
	op.Summary = string(md.Name())
	if first, _, _ := strings.Cut(desc, "\n"); first != "" {
		op.Summary = strings.TrimSuffix(first, ".")
	}
	op.Description = desc
	switch {
	case b.ClientStreaming && b.ServerStreaming:
		op.Streaming = "bidi"
	case b.ClientStreaming:
		op.Streaming = "client"
	case b.ServerStreaming:
		op.Streaming = "server"
	}
	op.Parameters = append(g.pathParams(b, t, p, n), g.queryParams(b, n)...)
	op.RequestBody = g.requestBody(b, n)
	op.Responses["200"] = g.response(b, n)
	op.Responses["default"] = &oaResponse{
		Description: "An error: a google.rpc.Status, with the HTTP status of its gRPC code.",
		Content:     map[string]*oaMediaType{"application/json": {Schema: &oaSchema{Ref: componentRef(statusSchemaName)}}},
	}
	return op
}

// pathParams are the path's parameters: a variable's whole value takes the
// field's own type; a part of a multi-segment value is a string.
func (g *oaBuilder) pathParams(b *transcode.Binding, t *router.Template, p oaPath, n naming) []*oaParameter {
	var out []*oaParameter
	vars := t.Variables()
	for _, pp := range p.params {
		param := &oaParameter{Name: pp.name, In: "path", Required: true, Schema: &oaSchema{Type: "string"}}
		if pp.v < 0 {
			param.Description = "Any one segment; it fills no field."
			out = append(out, param)
			continue
		}
		fields := b.PathFields()[pp.v]
		f := fields[len(fields)-1]
		field := "`" + jsonPath(fields, n) + "`"
		switch {
		case pp.whole && pp.wildcard == "*":
			param.Schema = g.schemas.singular(f, n)
			param.Description = comments(f)
			if f.IsList() {
				// OpenAPI's default path style, "simple", is comma-separated.
				param.Schema = &oaSchema{Type: "array", Items: param.Schema}
				param.Description = strings.TrimSpace(param.Description + "\n\nComma-separated elements.")
			}
			if pp.name != vars[pp.v].Path() {
				// Named by another route of the same path item.
				param.Description = strings.TrimSpace(param.Description + "\n\nThe value of " + field + ".")
			}
		case pp.whole:
			param.Description = strings.TrimSpace(comments(f) + "\n\nThe whole " + field + "; it may span several segments, with '/' unescaped.")
		default:
			param.Description = strings.TrimSpace(comments(f) + "\n\nPart of " + field + ", which is `" + variableTemplate(t, p, pp.v) + "` (in the path template: `" + vars[pp.v].Path() + "=" + templateOf(t, pp.v) + "`).")
			if pp.wildcard == "**" {
				param.Description += " This part may span several segments, with '/' unescaped."
			} else {
				param.Schema.Pattern = "^[^/]+$"
			}
		}
		out = append(out, param)
	}
	return out
}

// templateOf is variable v's own template as google.api.http spells it.
func templateOf(t *router.Template, v int) string {
	var segs []string
	for _, p := range t.Parts() {
		if p.Var == v {
			segs = append(segs, p.Literal+p.Wildcard)
		}
	}
	return strings.Join(segs, "/")
}

func jsonPath(fields []protoreflect.FieldDescriptor, n naming) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = n.name(f)
	}
	return strings.Join(names, ".")
}

// queryParams are the request fields neither the path nor the body binds,
// as the transcoder reads them from the query string: dotted names for
// nested fields, repeated keys for repeated fields, key[k]=v for maps.
// Fields the query cannot carry (messages in lists, Any, Struct …) are
// left out.
func (g *oaBuilder) queryParams(b *transcode.Binding, n naming) []*oaParameter {
	if b.BodyField() == "*" {
		return nil
	}
	var out []*oaParameter
	var walk func(md protoreflect.MessageDescriptor, prefix []protoreflect.FieldDescriptor, seen map[protoreflect.FullName]bool)
	walk = func(md protoreflect.MessageDescriptor, prefix []protoreflect.FieldDescriptor, seen map[protoreflect.FullName]bool) {
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			f := fields.Get(i)
			path := append(append([]protoreflect.FieldDescriptor(nil), prefix...), f)
			if b.BoundBy(path) != nil {
				continue
			}
			name := jsonPath(path, n)
			param := &oaParameter{Name: name, In: "query", Description: comments(f)}
			switch {
			case f.IsMap():
				if f.MapValue().Message() != nil {
					continue
				}
				param.Style, param.Explode = "deepObject", new(true)
				param.Schema = &oaSchema{Type: "object", AdditionalProperties: g.schemas.singular(f.MapValue(), n)}
				param.Description = strings.TrimSpace(param.Description + "\n\nOne " + name + "[key]=value pair per entry.")
			case f.Message() != nil && queryScalar(f.Message().FullName()):
				param.Schema = g.schemas.singular(f, n)
				if s, ok := param.Schema.Type.([]string); ok {
					// A query value is never null.
					param.Schema.Type = s[0]
					param.Schema.Description = strings.Replace(param.Schema.Description, " or null", "", 1)
				}
				if f.IsList() {
					param.Schema = &oaSchema{Type: "array", Items: param.Schema}
					param.Explode = new(true)
				}
			case f.Message() != nil:
				sub := f.Message()
				if f.IsList() || seen[sub.FullName()] || len(path) >= 8 || !queryable(sub.FullName()) {
					continue
				}
				seen[sub.FullName()] = true
				walk(sub, path, seen)
				delete(seen, sub.FullName())
				continue
			case f.IsList():
				param.Schema = &oaSchema{Type: "array", Items: g.schemas.singular(f, n)}
				param.Explode = new(true)
				param.Description = strings.TrimSpace(param.Description + "\n\nRepeat the parameter for several values.")
			default:
				param.Schema = g.schemas.singular(f, n)
			}
			out = append(out, param)
		}
	}
	walk(b.Method.Input(), nil, map[protoreflect.FullName]bool{b.Method.Input().FullName(): true})
	return out
}

// queryScalar reports message types a single query value can hold.
func queryScalar(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask":
		return true
	}
	return wirejson.IsWrapper(name)
}

// queryable reports message types whose fields the query may set one by
// one: not the well-known types with a JSON form of their own.
func queryable(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.Any", "google.protobuf.Struct", "google.protobuf.Value",
		"google.protobuf.ListValue", "google.protobuf.Empty", httpBodyName:
		return false
	}
	return true
}

// requestBody describes the body: none, the whole message, one field, raw
// bytes for google.api.HttpBody, or a stream of messages.
func (g *oaBuilder) requestBody(b *transcode.Binding, n naming) *oaRequestBody {
	if b.BodyField() == "" {
		return nil
	}
	var schema *oaSchema
	var raw bool
	what := "the request message"
	if b.BodyField() == "*" {
		in := b.Method.Input()
		raw = in.FullName() == httpBodyName
		schema = g.bodyStar(b, n)
		if len(b.PathFields()) > 0 {
			what += "; the fields bound by the path are taken from the path"
		}
	} else {
		f := b.BodyPath()[len(b.BodyPath())-1]
		raw = !f.IsList() && f.Message() != nil && f.Message().FullName() == httpBodyName
		schema = g.bodyField(f, n)
		what = "the request's `" + n.name(f) + "` field"
	}
	rb := &oaRequestBody{Content: map[string]*oaMediaType{}}
	switch {
	case raw && b.ClientStreaming:
		rb.Description = "Raw bytes, sent on in chunks as they arrive; the Content-Type goes with the first chunk (google.api.HttpBody)."
		rb.Content["*/*"] = &oaMediaType{}
	case raw:
		rb.Description = "Raw bytes with their Content-Type (google.api.HttpBody)."
		rb.Content["*/*"] = &oaMediaType{}
	case b.ClientStreaming:
		rb.Description = "A stream of messages, each " + what + ": newline-delimited JSON, or with application/json also one JSON array. Each message is sent as it arrives."
		rb.Content["application/x-ndjson"] = &oaMediaType{Schema: schema}
		rb.Content["application/json"] = &oaMediaType{Schema: &oaSchema{Type: "array", Items: schema}}
	default:
		rb.Description = "The body is " + what + ". An empty body is an empty message."
		rb.Content["application/json"] = &oaMediaType{Schema: schema}
	}
	return rb
}

// bodyStar is the schema of a body "*": the request message, less the
// top-level fields the path binds (the path sets them), inline when there
// are such fields and the message is not a well-known type.
func (g *oaBuilder) bodyStar(b *transcode.Binding, n naming) *oaSchema {
	in := b.Method.Input()
	ref := g.schemas.message(in, n)
	comp := g.schemas.components[n.componentName(in.FullName())]
	if ref.Ref == "" || comp == nil {
		return ref
	}
	var drop []string
	for _, p := range b.PathFields() {
		if len(p) == 1 {
			drop = append(drop, n.name(p[0]))
		}
	}
	if len(drop) == 0 {
		return ref
	}
	body := *comp
	body.Title = ""
	body.Properties = make(map[string]*oaSchema, len(comp.Properties))
	for name, p := range comp.Properties {
		if !slices.Contains(drop, name) {
			body.Properties[name] = p
		}
	}
	body.Description = strings.TrimSpace(comp.Description + "\n\n" + string(in.FullName()) + " without " + strings.Join(drop, ", ") + ", which the path sets.")
	return &body
}

// bodyField is the schema of a field that is a whole body: as in its
// message, but a message is never null there.
func (g *oaBuilder) bodyField(f protoreflect.FieldDescriptor, n naming) *oaSchema {
	if f.IsList() || f.IsMap() {
		return g.schemas.field(f, n)
	}
	return g.schemas.singular(f, n)
}

// response describes a successful answer: the message or its
// response_body field as JSON, raw bytes for google.api.HttpBody, or, for
// a server stream, its framings.
func (g *oaBuilder) response(b *transcode.Binding, n naming) *oaResponse {
	out := b.Method.Output()
	raw := b.RawResponse()
	var schema *oaSchema
	if len(b.ResponsePath()) > 0 {
		schema = g.bodyField(b.ResponsePath()[0], n)
	} else {
		schema = g.schemas.message(out, n)
	}
	r := &oaResponse{Content: map[string]*oaMediaType{}}
	switch {
	case raw && b.ServerStreaming:
		r.Description = "The chunks' raw bytes, one after another, with the first chunk's content type (google.api.HttpBody)."
		r.Content["*/*"] = &oaMediaType{}
	case raw:
		r.Description = "Raw bytes with the message's content type (google.api.HttpBody)."
		r.Content["*/*"] = &oaMediaType{}
	case b.ServerStreaming:
		line := &oaSchema{
			Type: "object",
			Properties: map[string]*oaSchema{
				"result": schema,
				"error":  {Ref: componentRef(statusSchemaName)},
			},
			Description: "One line per message: {\"result\": message}; a failure ends the stream with {\"error\": Status}.",
		}
		r.Description = "A stream of messages, each written as it arrives: newline-delimited JSON (application/json or application/x-ndjson), or Server-Sent Events with Accept: text/event-stream (data: message per event, event: error with a Status, event: end after the last)."
		r.Content["application/json"] = &oaMediaType{Schema: line}
		r.Content["application/x-ndjson"] = &oaMediaType{Schema: line}
		r.Content["text/event-stream"] = &oaMediaType{Schema: &oaSchema{Type: "string", Description: "Server-Sent Events; each data line holds one message as JSON."}}
	default:
		r.Description = "The response message"
		if len(b.ResponsePath()) > 0 {
			r.Description = "The response's `" + n.name(b.ResponsePath()[0]) + "` field"
		}
		r.Content["application/json"] = &oaMediaType{Schema: schema}
	}
	return r
}
