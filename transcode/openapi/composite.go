package openapi

import (
	"sort"
	"strings"

	"github.com/refract-gateway/refract/router"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Composite is a route answered by several calls merged into one JSON
// object (an aggregate), described in place of a Binding.
type Composite struct {
	// Name names the aggregate: its operation ID is aggregate.Name.
	Name string
	// HTTPMethod and Template are the route.
	HTTPMethod string
	Template   *router.Template
	// Query are the query parameters the calls read; Body tells whether
	// they read a JSON body.
	Query []string
	Body  bool
	// Members are the answer's keys, each a whole response (Message) or a
	// response field (Field).
	Members []Member
	// Calls names the methods called, for the description.
	Calls []string
	// Partial: a failed call leaves an errors member instead of failing
	// the request.
	Partial bool
}

// Member is one key of a composite's answer.
type Member struct {
	Name    string
	Message protoreflect.MessageDescriptor
	Field   protoreflect.FieldDescriptor
}

// compositeOperation describes c at path p.
func (g *oaBuilder) compositeOperation(c *Composite, p oaPath) *oaOperation {
	var n naming // the gateway's default naming: JSON names
	op := &oaOperation{
		Tags:        []string{"aggregates"},
		OperationID: "aggregate." + c.Name,
		Summary:     "Aggregate " + c.Name,
		Description: "Calls " + strings.Join(c.Calls, ", ") + " and merges their responses into one object.",
		GRPCMethod:  strings.Join(c.Calls, ","),
		Responses:   map[string]*oaResponse{},
	}
	for _, pp := range p.params {
		op.Parameters = append(op.Parameters, &oaParameter{Name: pp.name, In: "path", Required: true, Schema: &oaSchema{Type: "string"}})
	}
	query := append([]string(nil), c.Query...)
	sort.Strings(query)
	for _, q := range query {
		op.Parameters = append(op.Parameters, &oaParameter{Name: q, In: "query", Schema: &oaSchema{Type: "string"}})
	}
	if c.Body {
		op.RequestBody = &oaRequestBody{Description: "A JSON object whose members the calls read.",
			Content: map[string]*oaMediaType{"application/json": {Schema: &oaSchema{Type: "object"}}}}
	}
	answer := &oaSchema{Type: "object", Properties: map[string]*oaSchema{}}
	for _, m := range c.Members {
		if m.Field != nil {
			answer.Properties[m.Name] = g.schemas.field(m.Field, n)
		} else {
			answer.Properties[m.Name] = g.schemas.message(m.Message, n)
		}
	}
	desc := "The merged responses."
	if c.Partial {
		desc = "The merged responses of the calls that succeeded; errors lists those that failed."
		answer.Properties["errors"] = &oaSchema{Type: "array", Items: &oaSchema{Type: "object",
			Properties: map[string]*oaSchema{
				"call":    {Type: "string"},
				"method":  {Type: "string"},
				"code":    {Type: "integer", Format: "int32"},
				"status":  {Type: "string"},
				"message": {Type: "string"},
			}, Required: []string{"call", "code", "message"}}}
	}
	op.Responses["200"] = &oaResponse{Description: desc, Content: map[string]*oaMediaType{"application/json": {Schema: answer}}}
	op.Responses["default"] = &oaResponse{
		Description: "An error: a google.rpc.Status naming the failed call, with the HTTP status of its gRPC code.",
		Content:     map[string]*oaMediaType{"application/json": {Schema: &oaSchema{Ref: componentRef(statusSchemaName)}}},
	}
	return op
}
