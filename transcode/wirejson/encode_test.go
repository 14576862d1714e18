package wirejson

import (
	"errors"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
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
	// Hostile nesting: Kitchen.child at, just past and far past the depth
	// budget; Structs inside Structs; a deep child inside a replaced one.
	f.Add(nestChild(DefaultMaxDepth - 1))
	f.Add(nestChild(DefaultMaxDepth))
	f.Add(nestChild(10_000))
	f.Add(nestStruct(DefaultMaxDepth))
	f.Add(append(nestChild(200), nestChild(1)...))
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
	var de *DepthError
	if errors.As(err, &de) {
		// Too deep for the budget: protobuf, which counts map entries as
		// levels too, must refuse the bytes within the same limit.
		ref := dynamicpb.NewMessage(m.Descriptor())
		rerr, panicked := recovering(func() error { return proto.UnmarshalOptions{RecursionLimit: de.Limit}.Unmarshal(wire, ref) })
		if rerr == nil && !panicked {
			t.Fatalf("%s: %v, but protobuf decodes %x within %d levels", m.Descriptor().FullName(), err, wire, de.Limit)
		}
		return
	}
	if (err == nil) != (werr == nil) {
		t.Fatalf("%s: wirejson err=%v, protojson err=%v for %x", m.Descriptor().FullName(), err, werr, wire)
	}
	if err == nil && !jsonEqual(got, want) {
		t.Fatalf("%s %+v for %x:\nwirejson  %s\nprotojson %s", m.Descriptor().FullName(), o, wire, got, want)
	}
}

// nestChild is the wire form of a Kitchen whose child field nests n
// levels below it (n+1 message levels in all), the innermost child
// holding sc = {s: "x"}.
func nestChild(n int) []byte {
	leaf := protowire.AppendTag(nil, 1, protowire.BytesType) // Kitchen.sc: Scalars
	leaf = protowire.AppendBytes(leaf, protowire.AppendString(protowire.AppendTag(nil, 14, protowire.BytesType), "x"))
	return nest(38, n, leaf)
}

// nest wraps leaf in n levels of field num (length-delimited), writing
// the outermost level first so that a deep nest costs linear time.
func nest(num protowire.Number, n int, leaf []byte) []byte {
	sizes := make([]int, n+1)
	sizes[0] = len(leaf)
	tag := protowire.SizeTag(num)
	for i := 1; i <= n; i++ {
		sizes[i] = tag + protowire.SizeVarint(uint64(sizes[i-1])) + sizes[i-1]
	}
	b := make([]byte, 0, sizes[n])
	for i := n; i >= 1; i-- {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizes[i-1]))
	}
	return append(b, leaf...)
}

// nestStruct is the wire form of a Kitchen whose st field is a Struct
// nested n Structs deep: {"a": {"a": … {}}}.
func nestStruct(n int) []byte {
	var s []byte // an empty Struct
	for range min(n, 2000) {
		v := protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), s) // Value.struct_value
		entry := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "a")
		entry = protowire.AppendBytes(protowire.AppendTag(entry, 2, protowire.BytesType), v)
		s = protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), entry) // Struct.fields
	}
	return protowire.AppendBytes(protowire.AppendTag(nil, 32, protowire.BytesType), s)
}

// TestAppendJSONDepth holds the encoder to its nesting budget: a backend's
// bytes nested a million levels deep must be an error naming the limit,
// not a stack overflow; bytes within the budget render as protojson
// renders them. CheckDepth counts the same levels.
func TestAppendJSONDepth(t *testing.T) {
	k := compile(t, kitchen(t))
	cases := []struct {
		name  string
		wire  []byte
		limit int // EncodeOptions.MaxDepth; 0 is the default
		ok    bool
	}{
		{"child chain at the default limit", nestChild(DefaultMaxDepth - 2), 0, true},
		{"child chain one past the default limit", nestChild(DefaultMaxDepth - 1), 0, false},
		{"child chain a million deep", nestChild(1_000_000), 0, false},
		{"child chain within a small limit", nestChild(8), 10, true},
		{"child chain past a small limit", nestChild(9), 10, false},
		{"Struct of Structs within the limit", nestStruct(30), 0, true},
		{"Struct of Structs past the limit", nestStruct(DefaultMaxDepth), 0, false},
		{"Struct of Structs two thousand deep", nestStruct(2000), 0, false},
	}
	var e Encoder
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := e.AppendJSON(nil, k, c.wire, EncodeOptions{MaxDepth: c.limit})
			cerr := CheckDepth(k.Descriptor(), c.wire, c.limit)
			want := c.limit
			if want == 0 {
				want = DefaultMaxDepth
			}
			if c.ok {
				if err != nil || cerr != nil {
					t.Fatalf("AppendJSON: %v; CheckDepth: %v", err, cerr)
				}
				ref := dynamicpb.NewMessage(k.Descriptor())
				if err := proto.Unmarshal(c.wire, ref); err != nil {
					t.Fatal(err)
				}
				js, _ := protojson.Marshal(ref)
				if !jsonEqual(got, js) {
					t.Fatalf("got %s\nwant %s", got, js)
				}
				return
			}
			var de *DepthError
			if !errors.As(err, &de) || de.Limit != want {
				t.Fatalf("AppendJSON: got %v, want a DepthError with limit %d", err, want)
			}
			wantMsg := "message nests deeper than the limit of " + strconv.Itoa(want) + " levels"
			if err.Error() != wantMsg {
				t.Fatalf("message %q, want %q", err, wantMsg)
			}
			if !errors.As(cerr, &de) {
				t.Fatalf("CheckDepth: got %v, want a DepthError", cerr)
			}
		})
	}
}
