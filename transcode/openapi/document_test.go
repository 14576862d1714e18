package openapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// kitchenDoc describes the kitchen service with the given rules.
func kitchenDoc(t *testing.T, opts transcode.Options, rules map[string]*annotations.HttpRule) (*openapi3.T, map[string]any) {
	t.Helper()
	var routes []Route
	for _, name := range []string{"Put", "Get", "PutAny"} {
		bs, err := transcode.Compile(kitchenMethod(t, name), rules[name], opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			routes = append(routes, Route{Binding: b})
		}
	}
	body, err := Document(Info{Title: "kitchen", Version: "1"}, routes)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v\n%s", err, body)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	return doc, raw
}

var kitchenRules = map[string]*annotations.HttpRule{
	"Put":    {Pattern: &annotations.HttpRule_Put{Put: "/kitchens/{scalars.s}"}, Body: "*"},
	"Get":    {Pattern: &annotations.HttpRule_Get{Get: "/kitchens/{name}"}, AdditionalBindings: []*annotations.HttpRule{{Pattern: &annotations.HttpRule_Custom{Custom: &annotations.CustomHttpPattern{Kind: "FETCH", Path: "/kitchens/{name}"}}}}},
	"PutAny": {Pattern: &annotations.HttpRule_Post{Post: "/any"}, Body: "detail", ResponseBody: "detail"},
}

// at walks a decoded JSON document.
func at(t *testing.T, v any, path ...string) any {
	t.Helper()
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%v: not an object at %q", path, p)
		}
		v = m[p]
	}
	return v
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestOpenAPIWellKnownTypesAndScalars(t *testing.T) {
	_, raw := kitchenDoc(t, transcode.Options{}, kitchenRules)
	props := func(msg string) map[string]any {
		return at(t, raw, "components", "schemas", msg, "properties").(map[string]any)
	}
	kitchen := props("kitchen.v1.Kitchen")
	for field, want := range map[string]string{
		"scalars": `{"anyOf":[{"$ref":"#/components/schemas/kitchen.v1.Scalars"},{"type":"null"}]}`,
		"items":   `{"items":{"$ref":"#/components/schemas/kitchen.v1.Scalars"},"type":"array"}`,
		"ri64":    `{"items":{"format":"int64","pattern":"^-?[0-9]+$","type":"string"},"type":"array"}`,
		"rby":     `{"items":{"contentEncoding":"base64","format":"byte","type":"string"},"type":"array"}`,
		"ms":      `{"additionalProperties":{"type":"string"},"type":"object"}`,
		"mi":      `{"additionalProperties":{"$ref":"#/components/schemas/kitchen.v1.Scalars"},"description":"Keys are int32 values written as strings.","type":"object"}`,
		"mu":      `{"additionalProperties":{"$ref":"#/components/schemas/kitchen.v1.Color"},"description":"Keys are uint64 values written as strings.","type":"object"}`,
		"mv":      `{"additionalProperties":{"description":"Any JSON value (google.protobuf.Value)."},"type":"object"}`,
		"du":      `{"description":"Seconds with up to nine fractional digits and an \"s\" (google.protobuf.Duration).","examples":["1.5s"],"pattern":"^-?[0-9]+(\\.[0-9]{1,9})?s$","type":["string","null"]}`,
		"iv":      `{"description":"A 64-bit integer as a string or null (google.protobuf.Int64Value).","format":"int64","pattern":"^-?[0-9]+$","type":["string","null"]}`,
		"byv":     `{"contentEncoding":"base64","description":"A base64 string or null (google.protobuf.BytesValue).","format":"byte","type":["string","null"]}`,
		"u32v":    `{"description":"A 32-bit unsigned integer or null (google.protobuf.UInt32Value).","format":"uint32","maximum":4294967295,"minimum":0,"type":["integer","null"]}`,
		"st":      `{"additionalProperties":true,"description":"Any JSON object (google.protobuf.Struct).","type":["object","null"]}`,
		"val":     `{"description":"Any JSON value (google.protobuf.Value)."}`,
		"lv":      `{"description":"Any JSON array (google.protobuf.ListValue).","items":{},"type":["array","null"]}`,
		"fm":      `{"description":"Comma-separated field paths in lowerCamelCase (google.protobuf.FieldMask).","examples":["title,pageCount"],"type":["string","null"]}`,
		"em":      `{"description":"An empty object (google.protobuf.Empty).","type":["object","null"]}`,
		"nv":      `{"type":"null"}`,
		"child":   `{"anyOf":[{"$ref":"#/components/schemas/kitchen.v1.Kitchen"},{"type":"null"}]}`,
		"rwrap":   `{"items":{"description":"A 32-bit integer or null (google.protobuf.Int32Value).","format":"int32","type":["integer","null"]},"type":"array"}`,
		"ci":      `{"description":"Member of oneof choice: at most one of cs, cm, ci, ct is set.","format":"int64","pattern":"^-?[0-9]+$","type":"string"}`,
	} {
		if got := jsonOf(kitchen[field]); got != want {
			t.Errorf("Kitchen.%s\n got %s\nwant %s", field, got, want)
		}
	}
	scalars := props("kitchen.v1.Scalars")
	var kinds []string
	for _, f := range []string{"i32", "i64", "u32", "u64", "s32", "s64", "f32", "f64", "sf32", "sf64", "fl", "db", "b", "s", "by", "opt", "other"} {
		s := scalars[f].(map[string]any)
		kinds = append(kinds, fmt.Sprintf("%s=%v/%v", f, s["type"], s["format"]))
	}
	if got := strings.Join(kinds, " "); got != "i32=integer/int32 i64=string/int64 u32=integer/uint32 u64=string/uint64 s32=integer/int32 s64=string/int64 f32=integer/uint32 f64=string/uint64 sf32=integer/int32 sf64=string/int64 fl=number/float db=number/double b=boolean/<nil> s=string/<nil> by=string/byte opt=integer/int32 other=string/<nil>" {
		t.Errorf("scalars: %s", got)
	}
	if got := jsonOf(at(t, raw, "components", "schemas", "kitchen.v1.Kitchen", "x-oneofs")); got != `{"choice":["cs","cm","ci","ct"]}` {
		t.Errorf("x-oneofs %s", got)
	}
	if got := jsonOf(at(t, raw, "components", "schemas", "kitchen.v1.Color", "enum")); !strings.HasPrefix(got, `["COLOR_UNSPECIFIED"`) {
		t.Errorf("Color enum %s", got)
	}

	// Query parameters of GET /kitchens/{name}: every field but name, nested
	// ones dotted, maps as deepObject.
	get := at(t, raw, "paths", "/kitchens/{name}", "get").(map[string]any)
	var params []string
	for _, p := range get["parameters"].([]any) {
		p := p.(map[string]any)
		s := p["schema"].(map[string]any)
		desc := fmt.Sprintf("%s:%s:%v", p["in"], p["name"], s["type"])
		if p["style"] != nil {
			desc += ":" + p["style"].(string)
		}
		params = append(params, desc)
	}
	want := "path:name:string query:filter.i32:integer query:filter.i64:string query:filter.u32:integer query:filter.u64:string " +
		"query:filter.s32:integer query:filter.s64:string query:filter.f32:integer query:filter.f64:string query:filter.sf32:integer " +
		"query:filter.sf64:string query:filter.fl:number query:filter.db:number query:filter.b:boolean query:filter.s:string " +
		"query:filter.by:string query:filter.color:<nil> query:filter.opt:integer query:filter.other:string query:ids:array " +
		"query:counts:object:deepObject query:since:string query:color:<nil> query:min:number"
	if got := strings.Join(params, " "); got != want {
		t.Errorf("GET parameters\n got %s\nwant %s", got, want)
	}
	// The custom method of the additional binding.
	if id := at(t, raw, "paths", "/kitchens/{name}", "x-additional-operations", "FETCH", "operationId"); id != "kitchen.v1.KitchenService.Get_2" {
		t.Errorf("FETCH operationId %v", id)
	}
	// body "*" with a path variable: no query parameters, the whole message.
	// The path has the shape of GET's, so it shares GET's path item and
	// parameter name.
	put := at(t, raw, "paths", "/kitchens/{name}", "put").(map[string]any)
	if got := jsonOf(put["parameters"]); got != `[{"description":"The value of `+"`scalars.s`"+`.","in":"path","name":"name","required":true,"schema":{"type":"string"}}]` {
		t.Errorf("PUT parameters %s", got)
	}
	if got := jsonOf(at(t, put, "requestBody", "content", "application/json", "schema")); got != `{"$ref":"#/components/schemas/kitchen.v1.Kitchen"}` {
		t.Errorf("PUT body %s", got)
	}
	// Any as body field and response_body.
	post := at(t, raw, "paths", "/any", "post").(map[string]any)
	if a, b := jsonOf(at(t, post, "requestBody", "content", "application/json", "schema")), jsonOf(at(t, post, "responses", "200", "content", "application/json", "schema")); a != `{"$ref":"#/components/schemas/google.protobuf.Any"}` || a != b {
		t.Errorf("Any body %s, response %s", a, b)
	}
}

func TestOpenAPIProtoNames(t *testing.T) {
	_, raw := kitchenDoc(t, transcode.Options{UseProtoNames: true}, kitchenRules)
	schemas := at(t, raw, "components", "schemas").(map[string]any)
	if _, ok := schemas["kitchen.v1.Scalars-proto-names"]; !ok {
		t.Fatalf("no proto-names component: %v", jsonOf(slices.Sorted(func(yield func(string) bool) {
			for k := range schemas {
				yield(k)
			}
		})))
	}
	if _, ok := at(t, schemas, "kitchen.v1.Scalars-proto-names", "properties").(map[string]any)["renamed"]; !ok {
		t.Errorf("the proto name renamed is missing")
	}
}

// TestOpenAPIValidatorRejects proves the validator the tests rely on is no
// rubber stamp: a path parameter the path does not hold is an error.
func TestOpenAPIValidatorRejects(t *testing.T) {
	_, raw := kitchenDoc(t, transcode.Options{}, kitchenRules)
	op := at(t, raw, "paths", "/kitchens/{name}", "get").(map[string]any)
	op["parameters"].([]any)[0].(map[string]any)["name"] = "nope"
	body, _ := json.Marshal(raw)
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err == nil {
		err = doc.Validate(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("a broken document validated: %v", err)
	}
}

func TestOpenAPIWrapperSchemas(t *testing.T) {
	for _, c := range []struct {
		m    proto.Message
		want string
	}{
		{&wrapperspb.DoubleValue{}, `{"type":["number","null"],"format":"double","description":"A number or null (google.protobuf.DoubleValue)."}`},
		{&wrapperspb.FloatValue{}, `{"type":["number","null"],"format":"float","description":"A number or null (google.protobuf.FloatValue)."}`},
		{&wrapperspb.Int64Value{}, `{"type":["string","null"],"format":"int64","description":"A 64-bit integer as a string or null (google.protobuf.Int64Value).","pattern":"^-?[0-9]+$"}`},
		{&wrapperspb.UInt64Value{}, `{"type":["string","null"],"format":"uint64","description":"A 64-bit unsigned integer as a string or null (google.protobuf.UInt64Value).","pattern":"^[0-9]+$"}`},
		{&wrapperspb.Int32Value{}, `{"type":["integer","null"],"format":"int32","description":"A 32-bit integer or null (google.protobuf.Int32Value)."}`},
		{&wrapperspb.UInt32Value{}, `{"type":["integer","null"],"format":"uint32","description":"A 32-bit unsigned integer or null (google.protobuf.UInt32Value).","minimum":0,"maximum":4294967295}`},
		{&wrapperspb.BoolValue{}, `{"type":["boolean","null"],"description":"A boolean or null (google.protobuf.BoolValue)."}`},
		{&wrapperspb.StringValue{}, `{"type":["string","null"],"description":"A string or null (google.protobuf.StringValue)."}`},
		{&wrapperspb.BytesValue{}, `{"type":["string","null"],"format":"byte","description":"A base64 string or null (google.protobuf.BytesValue).","contentEncoding":"base64"}`},
	} {
		md := c.m.ProtoReflect().Descriptor()
		got, err := json.Marshal(wellKnownSchema(md))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", md.FullName(), got, c.want)
		}
	}
}

// TestOpenAPIRepeatedPathParameter: a repeated field bound by a path
// variable is an array parameter (OpenAPI's default path style is
// comma-separated, as the gateway reads it).
func TestOpenAPIRepeatedPathParameter(t *testing.T) {
	rules := map[string]*annotations.HttpRule{
		"Put":    {Pattern: &annotations.HttpRule_Put{Put: "/lists/{ri32}"}, Body: "scalars"},
		"Get":    kitchenRules["Get"],
		"PutAny": kitchenRules["PutAny"],
	}
	_, raw := kitchenDoc(t, transcode.Options{}, rules)
	params := at(t, raw, "paths", "/lists/{ri32}", "put", "parameters").([]any)
	if got := jsonOf(at(t, params[0], "schema")); got != `{"items":{"format":"int32","type":"integer"},"type":"array"}` {
		t.Fatalf("schema %s", got)
	}
	if d := at(t, params[0], "description").(string); !strings.HasSuffix(d, "Comma-separated elements.") {
		t.Fatalf("description %q", d)
	}
}
