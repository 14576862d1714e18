package transcode

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// requestSeeds are nasty bodies for the request fuzz target: every kind,
// the grammar's corners, and what protojson rejects.
var requestSeeds = []string{
	`{}`, ``, `null`, `[]`, `{"scalars":{"i32":1,"i64":"2","u32":3,"u64":"4","s32":-5,"s64":"-6","f32":7,"f64":"8","sf32":-9,"sf64":"-10","fl":1.5,"db":"NaN","b":true,"s":"x","by":"AQID","color":"RED","opt":0,"other":"r"}}`,
	`{"scalars":{"i32":1e2,"i64":1.0e3,"u32":"1e1","fl":"Infinity","db":"-Infinity","by":"-_8","color":2,"renamed":"p"}}`,
	`{"scalars":{"i32":2147483648}}`, `{"scalars":{"i32":1.5}}`, `{"scalars":{"i32":" 1"}}`, `{"scalars":{"u64":"-0"}}`, `{"scalars":{"u32":-0}}`,
	`{"scalars":{"fl":3.5e38}}`, `{"scalars":{"fl":1e39}}`, `{"scalars":{"db":1e400}}`, `{"scalars":{"i64":"01"}}`, `{"scalars":{"i64":-0.0e5}}`,
	`{"items":[{"s":"a"},{},{"color":"NOPE"}],"ri32":[1,2,-3],"ri64":["1",2],"rdb":[1.5,"NaN"],"rs":["a","\u00e9\ud83d\ude00"],"rby":["AA==",""],"rcolor":["RED",2,"X"],"rb":[true,false],"rs64":[-1],"rf32":[4],"rfl":[0.1]}`,
	`{"ri32":[null]}`, `{"ri32":[1,]}`, `{"ri32":[,1]}`, `{"items":[null]}`,
	`{"ms":{"a":"b","c":"d"},"mi":{"1":{"s":"x"},"-2":{}},"mb":{"true":"1","false":2},"mu":{"18446744073709551615":"GREEN"},"mss":{"-1":1.5},"mv":{"a":null,"b":[1,"x",{"c":true}]}}`,
	`{"ms":{"a":"b","a":"c"}}`, `{"mi":{"1":{},"01":{}}}`, `{"mb":{"True":1}}`, `{"mu":{"X":"RED","X":"RED"}}`, `{"ms":{"a":null}}`,
	`{"cs":"x"}`, `{"cs":"x","ci":"1"}`, `{"cs":null,"ci":"1"}`, `{"cm":{"i32":1}}`, `{"ct":"2020-01-01T00:00:00Z"}`,
	`{"ts":"1970-01-01T00:00:00.123456789Z","du":"-1.5s","dv":1.5,"iv":"5","sv":"s","bv":false,"byv":"AQ==","u32v":7,"fv":"NaN"}`,
	`{"ts":"bad"}`, `{"du":"1"}`, `{"dv":null}`, `{"dv":"x"}`, `{"iv":1.5}`,
	`{"st":{"a":1,"b":{"c":[null,true]}},"val":null,"lv":[1,{}],"fm":"a.b,cD","em":{},"nv":null}`, `{"st":[]}`, `{"fm":"a_b"}`, `{"em":{"x":1}}`, `{"nv":0}`,
	`{"child":{"child":{"scalars":{"s":"deep"}}},"children":[{"ms":{"k":"v"}}],"rts":["2020-01-01T00:00:00Z"],"rwrap":[1,2]}`,
	`{"ostr":"","sparse":"18446744073709551615","unknown":{"a":[1,2,{"b":null}]}}`,
	`{"scalars":{"s":"a"},"scalars":{"s":"b"}}`, `{"scalars":{"s":"a","s":"b"}}`, `{"ri32":[1],"ri32":[2]}`, `{"other":"x","renamed":"y"}`,
	`{"scalars":{"s":"\ud800"}}`, `{"scalars":{"s":"\x01"}}`, `{"scalars":{"s":"a\tb"}}`, "{\"scalars\":{\"s\":\"\xff\"}}",
	`{"scalars":{"b":tru}}`, `{"scalars":{"b":truex}}`, `{"scalars":{"i32":-}}`, `{"scalars":{"i32":01}}`, `{"scalars":{"i32":1.}}`,
	`{"a":1}x`, `{"a":1} {}`, `{"a" 1}`, `{"a":}`, `{,}`, `{"a":1,}`, `{"x":[1,2}`, `{"x":{"a":1]}`, strings.Repeat(`{"child":`, 100) + strings.Repeat(`}`, 100),
	strings.Repeat(`[`, 50), `{"x":` + strings.Repeat(`[`, 50) + strings.Repeat(`]`, 50) + `}`, `{"unknown":"\u12"}`, `{"by":"AQI"}`, "{\"scalars\":{\"by\":\"AQ\\nID\"}}",
}

// fastRequestBindings are the bindings the request fuzz target compares:
// every kind (kitchen), a body field, and the example services.
func fastRequestBindings(t testing.TB) []*Binding {
	put := kitchenMethod(t, "Put")
	var out []*Binding
	for _, strict := range []bool{false, true} {
		opts := Options{Strict: strict}
		out = append(out,
			compileRule(t, put, DefaultRule(put), opts),
			compileRule(t, put, &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/k/{scalars.s}"}, Body: "child"}, opts),
			compileRule(t, libraryMethod(t, "CreateBook"), DefaultRule(libraryMethod(t, "CreateBook")), opts),
			compileRule(t, echoMethod(t, "Echo"), DefaultRule(echoMethod(t, "Echo")), opts),
		)
	}
	return out
}

// FuzzFastPathRequest feeds the same body to the fast path and to
// DecodeRequest (dynamicpb + protojson) and requires the same decision and,
// when accepted, the same message once the wire bytes are unmarshalled.
func FuzzFastPathRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add(s)
	}
	bindings := fastRequestBindings(f)
	for _, b := range bindings {
		if b.fast == nil || b.fast.in == nil {
			f.Fatalf("%s: fast path does not cover the request: %s", b, b.fast.inWhy)
		}
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, b := range bindings {
			in := Request{Body: []byte(body), ContentType: "application/json", Vars: []string{"v"}}
			checkSameRequest(t, b, in)
		}
	})
}

func checkSameRequest(t *testing.T, b *Binding, in Request) {
	t.Helper()
	want, werr := b.DecodeRequest(in)
	if werr == nil {
		// A message DecodeRequest builds but cannot be marshalled (a string
		// that is not UTF-8 from the path or query) fails the call later;
		// the fast path rejects it up front.
		if _, merr := proto.Marshal(want); merr != nil {
			werr = status.Error(codes.InvalidArgument, merr.Error())
		}
	}
	wire, err := b.decodeWire(in, nil)
	if err == errFallback {
		return
	}
	if (err == nil) != (werr == nil) {
		t.Fatalf("%s strict=%v: fast err=%v, protojson err=%v for %q", b, b.strict, err, werr, in.Body)
	}
	if err != nil {
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("%s: rejection with code %v: %v", b, status.Code(err), err)
		}
		return
	}
	got := dynamicpb.NewMessage(b.Method.Input())
	if err := proto.Unmarshal(wire, got); err != nil {
		t.Fatalf("%s: fast path wrote invalid wire bytes for %q: %v", b, in.Body, err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("%s strict=%v for %q:\nfast      %v\nprotojson %v", b, b.strict, in.Body, got, want)
	}
}

// FuzzFastPathQuery compares the fast path's path and query decoding with
// DecodeRequest's on a GET whose query reaches nested, repeated, map,
// enum and well-known-type fields.
func FuzzFastPathQuery(f *testing.F) {
	for _, s := range [][2]string{
		{"n", "ids=1&ids=2&counts[a]=1&since=2020-01-01T00:00:00Z&color=RED&min=1.5&filter.i64=3&filter.s=x"},
		{"n", "filter.color=2&filter.by=-_8&filter.fl=NaN&filter.b=1&counts[a]=1&counts[a]=2"},
		{"a%2Fb", "since.seconds=5&since=1970-01-01T00:00:00Z"},
		{"x", "sinceNanos=1&since.nanos=5&since=1970-01-01T00:00:01Z"},
		{"x", "name=y&unknown=1&filter=1&ids=x&color=9"},
		{"x", "%zz"}, {"x", "counts[1=2"}, {"x", "filter.opt=0&filter.other=r&filter.renamed=s"},
	} {
		f.Add(s[0], s[1])
	}
	get := kitchenMethod(f, "Get")
	var bindings []*Binding
	for _, strict := range []bool{false, true} {
		bindings = append(bindings, compileRule(f, get, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/k/{name}"}}, Options{Strict: strict}))
	}
	f.Fuzz(func(t *testing.T, v, q string) {
		for _, b := range bindings {
			checkSameRequest(t, b, Request{Vars: []string{v}, RawQuery: q})
		}
	})
}

// FuzzFastPathResponse feeds the same wire bytes to the fast path and to
// proto.Unmarshal + EncodeResponse (protojson) and requires the same
// decision and equal JSON values, with every combination of options.
func FuzzFastPathResponse(f *testing.F) {
	put := kitchenMethod(f, "Put")
	for _, s := range requestSeeds {
		b := compileRule(f, put, DefaultRule(put), Options{})
		if m, err := b.DecodeRequest(Request{Body: []byte(s)}); err == nil {
			raw, _ := proto.Marshal(m.(proto.Message))
			f.Add(raw)
		}
	}
	f.Add([]byte{0x08, 0x00})                         // field 1 as a varint: wrong wire type
	f.Add([]byte{0x0a, 0x02, 0x08, 0x01, 0x0a, 0x00}) // a message field twice: merged
	f.Add([]byte{0xa0, 0x01, 0x00, 0x9a, 0x01, 0x00}) // oneof: two members
	var bindings []*Binding
	for _, o := range []Options{{}, {UseProtoNames: true}, {OmitUnpopulated: true}, {UseProtoNames: true, OmitUnpopulated: true}} {
		bindings = append(bindings,
			compileRule(f, put, DefaultRule(put), o),
			compileRule(f, put, &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/k"}, Body: "*", ResponseBody: "child"}, o),
			compileRule(f, libraryMethod(f, "GetBook"), DefaultRule(libraryMethod(f, "GetBook")), o),
			compileRule(f, libraryMethod(f, "ListBooks"), DefaultRule(libraryMethod(f, "ListBooks")), o),
		)
	}
	// One scratch for every call, as the codec's pool reuses them: what a
	// call leaves in it must not change the next one's output.
	scratch := &wireToJSON{}
	f.Fuzz(func(t *testing.T, wire []byte) {
		for _, b := range bindings {
			checkSameResponse(t, b, scratch, wire)
		}
	})
}

func checkSameResponse(t *testing.T, b *Binding, scratch *wireToJSON, wire []byte) {
	t.Helper()
	msg := b.NewResponse()
	var want []byte
	werr, panicked := unmarshalRecovering(wire, msg)
	if panicked {
		return // the reference cannot decide (a protobuf-go bug on some malformed map entries)
	}
	if werr == nil {
		want, _, werr = b.EncodeResponse(msg)
	}
	got, err := b.encodeWire(scratch, wire, nil)
	if err == errNeedsMerge {
		return
	}
	if (err == nil) != (werr == nil) {
		t.Fatalf("%s: fast err=%v, protojson err=%v for %x", b, err, werr, wire)
	}
	if err == nil && !jsonEqual(got, want) {
		t.Fatalf("%s proto_names=%v emit=%v for %x:\nfast      %s\nprotojson %s", b, b.marshal.UseProtoNames, b.marshal.EmitUnpopulated, wire, got, want)
	}
}

// unmarshalRecovering is proto.Unmarshal reporting a panic: protobuf-go
// panics decoding some malformed map entries into dynamic messages (a map
// key of the wrong wire type after a valid one), where the fast path
// renders the valid key.
func unmarshalRecovering(wire []byte, m proto.Message) (err error, panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	return proto.Unmarshal(wire, m), false
}

// TestFastPathCoverage pins down what falls back: Any, PATCH with a
// derived update_mask, and non-message body fields.
func TestFastPathCoverage(t *testing.T) {
	anyM := kitchenMethod(t, "PutAny")
	b := compileRule(t, anyM, DefaultRule(anyM), Options{})
	if req, resp, why := b.FastPath(); req || resp || !strings.Contains(why, "google.protobuf.Any") {
		t.Fatalf("PutAny: fast path req=%v resp=%v why=%q; want neither, naming Any", req, resp, why)
	}
	upd := bindingFor(t, "UpdateBook", "/v1/{book.name=shelves/*/books/*}", Options{})
	if req, resp, why := upd.FastPath(); req || !resp || !strings.Contains(why, "update_mask") {
		t.Fatalf("UpdateBook: fast path req=%v resp=%v why=%q", req, resp, why)
	}
	put := kitchenMethod(t, "Put")
	b = compileRule(t, put, DefaultRule(put), Options{})
	if req, resp, why := b.FastPath(); !req || !resp || why != "" {
		t.Fatalf("Put: fast path req=%v resp=%v why=%q; want both", req, resp, why)
	}
	b = compileRule(t, put, DefaultRule(put), Options{DisableFastPath: true})
	if req, resp, _ := b.FastPath(); req || resp {
		t.Fatal("DisableFastPath left the fast path on")
	}
	_ = protoreflect.Name("")
}
