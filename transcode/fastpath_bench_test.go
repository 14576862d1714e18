package transcode

import (
	"fmt"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/transcode/wirejson"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
)

// benchShape is one payload shape of the performance issue: tiny (~50 B),
// 1 KB, 16 KB of repeated nested messages, and a GET with path and query.
type benchShape struct {
	name string
	b    *Binding
	in   Request
}

func kitchenItem(i int) string {
	return fmt.Sprintf(`{"i32":%d,"i64":"%d","u64":"42","db":%d.25,"b":true,"s":"item number %d","color":"GREEN","by":"AQIDBA==","other":"x"}`, i, i*1000003, i, i)
}

func kitchenBody(items int) string {
	parts := make([]string, items)
	for i := range parts {
		parts[i] = kitchenItem(i)
	}
	return `{"scalars":` + kitchenItem(0) + `,"items":[` + strings.Join(parts, ",") +
		`],"ri64":["1","2","3"],"ms":{"a":"b","c":"d"},"ts":"2024-05-01T12:00:00.5Z","dv":2.5,"cs":"choice"}`
}

func benchShapes(b *testing.B) []benchShape {
	echo := echoMethod(b, "Echo")
	put := kitchenMethod(b, "Put")
	get := kitchenMethod(b, "Get")
	getB := compileRule(b, get, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/k/{name}"}}, Options{})
	return []benchShape{
		{"tiny", compileRule(b, echo, DefaultRule(echo), Options{}), Request{Body: []byte(`{"message":"hello, refract","repeat":2}`)}},
		{"1KB", compileRule(b, put, DefaultRule(put), Options{}), Request{Body: []byte(kitchenBody(5))}},
		{"16KB", compileRule(b, put, DefaultRule(put), Options{}), Request{Body: []byte(kitchenBody(100))}},
		{"GET", getB, Request{Vars: []string{"k1"}, RawQuery: "ids=1&ids=2&counts[a]=3&since=2024-01-01T00:00:00Z&color=RED&min=1.5&filter.s=x&filter.i64=7"}},
	}
}

// BenchmarkRequest decodes each shape to what the upstream call sends:
// wire bytes directly (fast), or a dynamic message then proto.Marshal, as
// grpc-go's codec would (protojson).
func BenchmarkRequest(b *testing.B) {
	for _, s := range benchShapes(b) {
		b.Run(s.name+"/fast", func(b *testing.B) {
			b.SetBytes(int64(len(s.in.Body)))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				out, err := s.b.decodeWire(s.in, buf[:0])
				if err != nil {
					b.Fatal(err)
				}
				buf = out
			}
		})
		b.Run(s.name+"/protojson", func(b *testing.B) {
			b.SetBytes(int64(len(s.in.Body)))
			b.ReportAllocs()
			for b.Loop() {
				m, err := s.b.DecodeRequest(s.in)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := proto.Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkResponse renders each shape's message (the request bodies
// above, echoed back) from wire bytes: directly (fast), or proto.Unmarshal
// into a dynamic message, as grpc-go's codec would, then protojson.
func BenchmarkResponse(b *testing.B) {
	for _, s := range benchShapes(b) {
		if s.name == "GET" {
			continue // its response is the 1 KB shape's
		}
		m, err := s.b.DecodeRequest(s.in)
		if err != nil {
			b.Fatal(err)
		}
		wire, err := proto.Marshal(m)
		if err != nil {
			b.Fatal(err)
		}
		// Render the request type as the response: echo's response has a
		// different type, so use a binding whose output is the input type.
		rb := s.b
		if s.b.Method.Output() != s.b.Method.Input() {
			rb = compileRule(b, kitchenMethod(b, "Put"), DefaultRule(kitchenMethod(b, "Put")), Options{})
			wire = echoResponseWire(b, rb)
		}
		b.Run(s.name+"/fast", func(b *testing.B) {
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			var out []byte
			var e wirejson.Encoder // reused, as the codec's pool and stream encoders reuse it
			for b.Loop() {
				o, err := rb.encodeWire(&e, wire, out[:0])
				if err != nil {
					b.Fatal(err)
				}
				out = o
			}
		})
		b.Run(s.name+"/protojson", func(b *testing.B) {
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				msg := rb.NewResponse()
				if err := proto.Unmarshal(wire, msg); err != nil {
					b.Fatal(err)
				}
				if _, _, err := rb.EncodeResponse(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// echoResponseWire is a ~50-byte message of the kitchen type, standing in
// for a tiny response.
func echoResponseWire(b *testing.B, rb *Binding) []byte {
	m, err := rb.DecodeRequest(Request{Body: []byte(`{"cs":"hello, refract hello, refract","scalars":{"i32":1}}`)})
	if err != nil {
		b.Fatal(err)
	}
	wire, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return wire
}
