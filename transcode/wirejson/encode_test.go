package wirejson

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// FuzzAppendJSON feeds the same wire bytes to an Encoder and to
// proto.Unmarshal + protojson.Marshal and requires the same decision and
// equal JSON values, with every combination of options.
func FuzzAppendJSON(f *testing.F) {
	k := kitchen(f)
	for _, s := range requestSeeds {
		m := dynamicpb.NewMessage(k)
		if protojson.Unmarshal([]byte(s), m) == nil {
			raw, _ := proto.Marshal(m)
			f.Add(raw)
		}
	}
	f.Add([]byte{0x08, 0x00})                         // field 1 as a varint: wrong wire type
	f.Add([]byte{0x0a, 0x02, 0x08, 0x01, 0x0a, 0x00}) // a message field twice: merged
	f.Add([]byte{0xa0, 0x01, 0x00, 0x9a, 0x01, 0x00}) // oneof: two members
	msgs := []*Message{
		compile(f, k),
		compile(f, libraryMessage("Book")),
		compile(f, libraryMessage("ListBooksResponse")),
	}
	// One scratch for every call, as a pool reuses them: what a call
	// leaves in it must not change the next one's output.
	scratch := &Encoder{}
	f.Fuzz(func(t *testing.T, wire []byte) {
		for _, m := range msgs {
			for _, o := range []EncodeOptions{{}, {UseProtoNames: true}, {EmitUnpopulated: true}, {UseProtoNames: true, EmitUnpopulated: true}} {
				checkSameEncode(t, m, o, scratch, wire)
			}
		}
	})
}

func checkSameEncode(t *testing.T, m *Message, o EncodeOptions, scratch *Encoder, wire []byte) {
	t.Helper()
	msg := dynamicpb.NewMessage(m.Descriptor())
	werr, panicked := recovering(func() error { return proto.Unmarshal(wire, msg) })
	if panicked {
		return // the reference cannot decide (a protobuf-go bug on some malformed map entries)
	}
	var want []byte
	if werr == nil {
		want, werr = protojson.MarshalOptions{UseProtoNames: o.UseProtoNames, EmitUnpopulated: o.EmitUnpopulated}.Marshal(msg)
	}
	got, err := scratch.AppendJSON(nil, m, wire, o)
	if err == ErrNeedsMerge {
		return
	}
	if (err == nil) != (werr == nil) {
		t.Fatalf("%s: wirejson err=%v, protojson err=%v for %x", m.Descriptor().FullName(), err, werr, wire)
	}
	if err == nil && !jsonEqual(got, want) {
		t.Fatalf("%s %+v for %x:\nwirejson  %s\nprotojson %s", m.Descriptor().FullName(), o, wire, got, want)
	}
}
