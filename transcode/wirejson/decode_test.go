package wirejson

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
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

// decodeMessages are the types the decoding fuzz target compares: every
// kind (kitchen) and the example services' requests.
func decodeMessages(t testing.TB) []*Message {
	return []*Message{
		compile(t, kitchen(t)),
		compile(t, libraryMessage("CreateBookRequest")),
		compile(t, echoMessage("EchoRequest")),
	}
}

// FuzzAppendWire feeds the same document to AppendWire and to
// protojson.Unmarshal (into a dynamic message) and requires the same
// decision and, when accepted, the same message once the wire bytes are
// unmarshalled.
func FuzzAppendWire(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add(s)
	}
	msgs := decodeMessages(f)
	f.Fuzz(func(t *testing.T, body string) {
		for _, m := range msgs {
			for _, strict := range []bool{false, true} {
				checkSameDecode(t, m, strict, body)
			}
		}
	})
}

const testDepth = 64 // transcode's default MaxDepth

func checkSameDecode(t *testing.T, m *Message, strict bool, body string) {
	t.Helper()
	doc := bytes.TrimSpace([]byte(body))
	if len(doc) == 0 {
		return // an empty body is the caller's decision (an empty message)
	}
	want := dynamicpb.NewMessage(m.Descriptor())
	uo := protojson.UnmarshalOptions{DiscardUnknown: !strict, RecursionLimit: testDepth}
	werr, panicked := recovering(func() error { return uo.Unmarshal(doc, want) })
	if panicked {
		return
	}
	if werr == nil {
		// A message protojson builds but protobuf cannot marshal fails
		// the call later; AppendWire rejects it up front.
		if _, merr := proto.Marshal(want); merr != nil {
			werr = merr
		}
	}
	wire, err := m.AppendWire(nil, doc, DecodeOptions{DiscardUnknown: !strict, MaxDepth: testDepth})
	if (err == nil) != (werr == nil) {
		t.Fatalf("%s strict=%v: wirejson err=%v, protojson err=%v for %q", m.Descriptor().FullName(), strict, err, werr, body)
	}
	if err != nil {
		return
	}
	got := dynamicpb.NewMessage(m.Descriptor())
	if err := proto.Unmarshal(wire, got); err != nil {
		t.Fatalf("%s: invalid wire bytes for %q: %v", m.Descriptor().FullName(), body, err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("%s strict=%v for %q:\nwirejson  %v\nprotojson %v", m.Descriptor().FullName(), strict, body, got, want)
	}
}

// TestAppendWireErrors checks that rejections name the input and that the
// depth bound is protojson's RecursionLimit.
func TestAppendWireErrors(t *testing.T) {
	m := compile(t, kitchen(t))
	for _, c := range []struct {
		body, want string
		strict     bool
	}{
		{`{"nope":1}`, `unknown field "nope"`, true},
		{`{"scalars":{"i32":1.5}}`, `invalid value for int32 field i32: 1.5`, false},
		{`{"a":1}x`, `invalid value x`, false},
		{strings.Repeat(`{"child":`, 100) + strings.Repeat(`}`, 100), `exceeded max recursion depth`, false},
	} {
		_, err := m.AppendWire(nil, []byte(c.body), DecodeOptions{DiscardUnknown: !c.strict, MaxDepth: testDepth})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.body, err, c.want)
		}
	}
}
