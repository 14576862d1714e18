package wirejson

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// benchShape is one payload shape: tiny (~50 B), 1 KB, and 16 KB of
// repeated nested messages.
type benchShape struct {
	name string
	m    *Message
	doc  []byte
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
	k := compile(b, kitchen(b))
	return []benchShape{
		{"tiny", compile(b, echoMessage("EchoRequest")), []byte(`{"message":"hello, refract","repeat":2}`)},
		{"1KB", k, []byte(kitchenBody(5))},
		{"16KB", k, []byte(kitchenBody(100))},
	}
}

// BenchmarkAppendWire decodes each shape to wire bytes directly (fast),
// or to a dynamic message then proto.Marshal, as a gRPC codec would
// (protojson).
func BenchmarkAppendWire(b *testing.B) {
	for _, s := range benchShapes(b) {
		b.Run(s.name+"/fast", func(b *testing.B) {
			b.SetBytes(int64(len(s.doc)))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				out, err := s.m.AppendWire(buf[:0], s.doc, DecodeOptions{MaxDepth: testDepth})
				if err != nil {
					b.Fatal(err)
				}
				buf = out
			}
		})
		b.Run(s.name+"/protojson", func(b *testing.B) {
			b.SetBytes(int64(len(s.doc)))
			b.ReportAllocs()
			for b.Loop() {
				m := dynamicpb.NewMessage(s.m.Descriptor())
				if err := protojson.Unmarshal(s.doc, m); err != nil {
					b.Fatal(err)
				}
				if _, err := proto.Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendJSON renders each shape's message from wire bytes:
// directly (fast), or proto.Unmarshal into a dynamic message then
// protojson.
func BenchmarkAppendJSON(b *testing.B) {
	for _, s := range benchShapes(b) {
		wire, err := s.m.AppendWire(nil, s.doc, DecodeOptions{MaxDepth: testDepth})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.name+"/fast", func(b *testing.B) {
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			var out []byte
			var e Encoder // reused, as a pool or a stream reuses it
			for b.Loop() {
				o, err := e.AppendJSON(out[:0], s.m, wire, EncodeOptions{EmitUnpopulated: true})
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
				m := dynamicpb.NewMessage(s.m.Descriptor())
				if err := proto.Unmarshal(wire, m); err != nil {
					b.Fatal(err)
				}
				if _, err := (protojson.MarshalOptions{EmitUnpopulated: true}).Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
