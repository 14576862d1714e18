package openapi

import (
	"strings"

	"github.com/refract-gateway/refract/transcode/wirejson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// oaSchema is a JSON Schema (2020-12, the dialect of OpenAPI 3.1) as the
// document needs it. Type is a string or a list of strings ("null" makes a
// type nullable); AdditionalProperties is a bool or a *oaSchema.
type oaSchema struct {
	Ref                  string               `json:"$ref,omitempty"`
	Type                 any                  `json:"type,omitempty"`
	Format               string               `json:"format,omitempty"`
	Title                string               `json:"title,omitempty"`
	Description          string               `json:"description,omitempty"`
	Enum                 []any                `json:"enum,omitempty"`
	Pattern              string               `json:"pattern,omitempty"`
	ContentEncoding      string               `json:"contentEncoding,omitempty"`
	Minimum              *float64             `json:"minimum,omitempty"`
	Maximum              *float64             `json:"maximum,omitempty"`
	Items                *oaSchema            `json:"items,omitempty"`
	Properties           map[string]*oaSchema `json:"properties,omitempty"`
	AdditionalProperties any                  `json:"additionalProperties,omitempty"`
	Required             []string             `json:"required,omitempty"`
	AnyOf                []*oaSchema          `json:"anyOf,omitempty"`
	Examples             []any                `json:"examples,omitempty"`
	// XOneofs lists, per oneof of a message, the JSON names of its members,
	// of which at most one is set.
	XOneofs map[string][]string `json:"x-oneofs,omitempty"`
}

// schemaSet collects the component schemas a document refers to, one per
// message or enum type reached, in the naming of the routes that reach it.
type schemaSet struct {
	components map[string]*oaSchema
}

func newSchemaSet() *schemaSet {
	s := &schemaSet{components: map[string]*oaSchema{}}
	s.components[statusSchemaName] = &oaSchema{
		Type:        "object",
		Description: "The error body of every failed call, from refract or from the backend: a google.rpc.Status. The HTTP status follows the gRPC code (INVALID_ARGUMENT 400, NOT_FOUND 404, UNAVAILABLE 503 …).",
		Properties: map[string]*oaSchema{
			"code":    {Type: "integer", Format: "int32", Description: "The gRPC status code (google.rpc.Code)."},
			"message": {Type: "string", Description: "A developer-facing error message."},
			"details": {Type: "array", Items: &oaSchema{Ref: componentRef(anySchemaName)}, Description: "Error details (google.rpc.ErrorInfo, BadRequest, ResourceInfo …)."},
		},
		Required: []string{"code", "message"},
	}
	s.components[anySchemaName] = anySchema()
	return s
}

const (
	statusSchemaName = "google.rpc.Status"
	anySchemaName    = "google.protobuf.Any"
)

func componentRef(name string) string { return "#/components/schemas/" + name }

func anySchema() *oaSchema {
	return &oaSchema{
		Type:                 "object",
		Description:          "google.protobuf.Any: the message's JSON fields beside \"@type\", its type URL; a well-known type's value goes in \"value\".",
		Properties:           map[string]*oaSchema{"@type": {Type: "string", Description: "The type URL, e.g. type.googleapis.com/google.rpc.ErrorInfo."}},
		Required:             []string{"@type"},
		AdditionalProperties: true,
	}
}

// naming is how property names are written: JSON names (the default) or
// the .proto names of an upstream with use_proto_names.
type naming bool

const (
	jsonNames  naming = false
	protoNames naming = true
)

func (n naming) name(f protoreflect.FieldDescriptor) string {
	if n == protoNames {
		return string(f.Name())
	}
	return f.JSONName()
}

// componentName is the key of a type's schema: its full name, with a
// suffix proto identifiers cannot hold for the .proto-names variant.
func (n naming) componentName(full protoreflect.FullName) string {
	if n == protoNames {
		return string(full) + "-proto-names"
	}
	return string(full)
}

// message returns a schema for a message type: well-known types inline,
// in their proto3 JSON form; others as a reference to their component,
// which is built on first use.
func (s *schemaSet) message(md protoreflect.MessageDescriptor, n naming) *oaSchema {
	if w := wellKnownSchema(md); w != nil {
		return w
	}
	switch md.FullName() {
	case anySchemaName:
		return &oaSchema{Ref: componentRef(anySchemaName)}
	case httpBodyName:
		return &oaSchema{Type: "object", Description: "google.api.HttpBody: in a body of its own it is raw bytes; inside a message, its JSON form."}
	}
	name := n.componentName(md.FullName())
	if _, ok := s.components[name]; !ok {
		obj := &oaSchema{Type: "object", Title: string(md.Name()), Description: comments(md), Properties: map[string]*oaSchema{}}
		// Registered before its fields, so that a recursive type refers to itself.
		s.components[name] = obj
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			f := fields.Get(i)
			obj.Properties[n.name(f)] = s.field(f, n)
		}
		oneofs := md.Oneofs()
		for i := 0; i < oneofs.Len(); i++ {
			o := oneofs.Get(i)
			if o.IsSynthetic() {
				continue
			}
			if obj.XOneofs == nil {
				obj.XOneofs = map[string][]string{}
			}
			var members []string
			for j := 0; j < o.Fields().Len(); j++ {
				members = append(members, n.name(o.Fields().Get(j)))
			}
			obj.XOneofs[string(o.Name())] = members
			for _, m := range members {
				p := obj.Properties[m]
				note := "Member of oneof " + string(o.Name()) + ": at most one of " + strings.Join(members, ", ") + " is set."
				p.Description = strings.TrimSpace(p.Description + "\n\n" + note)
			}
		}
	}
	return &oaSchema{Ref: componentRef(name)}
}

// field returns a field's schema inside its message: repeated fields as
// arrays, maps as objects, message fields nullable (an unset message field
// is written as null when unpopulated fields are emitted).
func (s *schemaSet) field(f protoreflect.FieldDescriptor, n naming) *oaSchema {
	var out *oaSchema
	switch {
	case f.IsMap():
		out = &oaSchema{Type: "object", AdditionalProperties: s.singular(f.MapValue(), n)}
		if k := f.MapKey().Kind(); k != protoreflect.StringKind {
			out.Description = "Keys are " + k.String() + " values written as strings."
		}
	case f.IsList():
		out = &oaSchema{Type: "array", Items: s.singular(f, n)}
	default:
		out = s.singular(f, n)
		if f.Message() != nil {
			out = nullable(out)
		}
	}
	if c := comments(f); c != "" {
		out.Description = strings.TrimSpace(c + "\n\n" + out.Description)
	}
	return out
}

// singular is the schema of one value of f's type.
func (s *schemaSet) singular(f protoreflect.FieldDescriptor, n naming) *oaSchema {
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return s.message(f.Message(), n)
	case protoreflect.EnumKind:
		return s.enum(f.Enum())
	}
	return scalarSchema(f.Kind())
}

// enum returns a reference to an enum's component: its value names as
// strings (the form responses use; requests also take the numbers).
func (s *schemaSet) enum(ed protoreflect.EnumDescriptor) *oaSchema {
	if ed.FullName() == "google.protobuf.NullValue" {
		return &oaSchema{Type: "null"}
	}
	name := string(ed.FullName())
	if _, ok := s.components[name]; !ok {
		e := &oaSchema{Type: "string", Title: string(ed.Name())}
		var lines []string
		if c := comments(ed); c != "" {
			lines = append(lines, c, "")
		}
		values := ed.Values()
		for i := 0; i < values.Len(); i++ {
			v := values.Get(i)
			e.Enum = append(e.Enum, string(v.Name()))
			if c := comments(v); c != "" {
				lines = append(lines, "- "+string(v.Name())+": "+strings.ReplaceAll(c, "\n", " "))
			}
		}
		e.Description = strings.TrimSpace(strings.Join(lines, "\n"))
		s.components[name] = e
	}
	return &oaSchema{Ref: componentRef(name)}
}

// scalarSchema is the proto3 JSON form of a scalar kind: 64-bit integers
// are strings (requests also take numbers), bytes are base64.
func scalarSchema(k protoreflect.Kind) *oaSchema {
	switch k {
	case protoreflect.BoolKind:
		return &oaSchema{Type: "boolean"}
	case protoreflect.StringKind:
		return &oaSchema{Type: "string"}
	case protoreflect.BytesKind:
		return &oaSchema{Type: "string", Format: "byte", ContentEncoding: "base64"}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return &oaSchema{Type: "integer", Format: "int32"}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return &oaSchema{Type: "integer", Format: "uint32", Minimum: new(float64(0)), Maximum: new(float64(1<<32 - 1))}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return &oaSchema{Type: "string", Format: "int64", Pattern: `^-?[0-9]+$`}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return &oaSchema{Type: "string", Format: "uint64", Pattern: `^[0-9]+$`}
	case protoreflect.FloatKind:
		return &oaSchema{Type: "number", Format: "float"}
	case protoreflect.DoubleKind:
		return &oaSchema{Type: "number", Format: "double"}
	}
	return &oaSchema{}
}

// durationPattern is protojson's Duration: seconds with up to nine
// fractional digits and an "s". (JSON Schema's "duration" format is ISO
// 8601, "PT1.5S", which this is not.)
const durationPattern = `^-?[0-9]+(\.[0-9]{1,9})?s$`

// wellKnownSchema is the proto3 JSON form of the well-known types that are
// not JSON objects of their fields, or nil. A wrapper is its value field's
// scalar, nullable.
func wellKnownSchema(md protoreflect.MessageDescriptor) *oaSchema {
	name := md.FullName()
	if wirejson.IsWrapper(name) {
		k := md.Fields().ByName("value").Kind()
		s := nullable(scalarSchema(k))
		s.Description = "A " + wrapperWhat(k) + " or null (" + string(name) + ")."
		return s
	}
	switch name {
	case "google.protobuf.Timestamp":
		return &oaSchema{Type: "string", Format: "date-time", Description: "RFC 3339 date-time in UTC (google.protobuf.Timestamp).", Examples: []any{"1972-01-01T10:00:20.021Z"}}
	case "google.protobuf.Duration":
		return &oaSchema{Type: "string", Pattern: durationPattern, Description: "Seconds with up to nine fractional digits and an \"s\" (google.protobuf.Duration).", Examples: []any{"1.5s"}}
	case "google.protobuf.FieldMask":
		return &oaSchema{Type: "string", Description: "Comma-separated field paths in lowerCamelCase (google.protobuf.FieldMask).", Examples: []any{"title,pageCount"}}
	case "google.protobuf.Empty":
		return &oaSchema{Type: "object", Description: "An empty object (google.protobuf.Empty)."}
	case "google.protobuf.Struct":
		return &oaSchema{Type: "object", AdditionalProperties: true, Description: "Any JSON object (google.protobuf.Struct)."}
	case "google.protobuf.Value":
		return &oaSchema{Description: "Any JSON value (google.protobuf.Value)."}
	case "google.protobuf.ListValue":
		return &oaSchema{Type: "array", Items: &oaSchema{}, Description: "Any JSON array (google.protobuf.ListValue)."}
	}
	return nil
}

// wrapperWhat names the JSON value of a wrapper's scalar kind.
func wrapperWhat(k protoreflect.Kind) string {
	switch k {
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		return "number"
	case protoreflect.Int64Kind:
		return "64-bit integer as a string"
	case protoreflect.Uint64Kind:
		return "64-bit unsigned integer as a string"
	case protoreflect.Int32Kind:
		return "32-bit integer"
	case protoreflect.Uint32Kind:
		return "32-bit unsigned integer"
	case protoreflect.BoolKind:
		return "boolean"
	case protoreflect.BytesKind:
		return "base64 string"
	}
	return "string"
}

// nullable lets s also be null: a type list gains "null"; anything else
// (a reference, a schema without a type) becomes anyOf [s, null].
func nullable(s *oaSchema) *oaSchema {
	switch t := s.Type.(type) {
	case []string:
		return s // the wrappers: nullable already
	case string:
		if t != "null" {
			s.Type = []string{t, "null"}
		}
		return s
	}
	if s.Ref == "" && s.AnyOf == nil {
		return s // no type (google.protobuf.Value): null is already allowed
	}
	return &oaSchema{AnyOf: []*oaSchema{s, {Type: "null"}}}
}

// comments is a descriptor's leading (else trailing) comment from the
// source info its file carries, de-indented; "" when the backend's
// descriptors have no source info.
func comments(d protoreflect.Descriptor) string {
	f := d.ParentFile()
	if f == nil {
		return ""
	}
	loc := f.SourceLocations().ByDescriptor(d)
	c := loc.LeadingComments
	if strings.TrimSpace(c) == "" {
		c = loc.TrailingComments
	}
	lines := strings.Split(strings.TrimSpace(c), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(strings.TrimRight(l, " \t"), " ")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// httpBodyName is google.api.HttpBody: a body of raw bytes with their type.
const httpBodyName protoreflect.FullName = "google.api.HttpBody"
