package wirejson

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestMessageField finds a message field's bytes and refuses one sent
// twice, which only protobuf's merge can decode.
func TestMessageField(t *testing.T) {
	b, found, err := MessageField([]byte{0x08, 0x01, 0x12, 0x02, 0x08, 0x05}, 2)
	if err != nil || !found || string(b) != "\x08\x05" {
		t.Fatalf("MessageField = %x, %v, %v", b, found, err)
	}
	if _, found, err := MessageField([]byte{0x08, 0x01}, 2); found || err != nil {
		t.Fatalf("absent field: found=%v err=%v", found, err)
	}
	if _, _, err := MessageField([]byte{0x12, 0x00, 0x12, 0x00}, 2); err != ErrNeedsMerge {
		t.Fatalf("repeated field: err=%v, want ErrNeedsMerge", err)
	}
}

// TestAppendAtPath writes a nested scalar as protobuf would marshal it.
func TestAppendAtPath(t *testing.T) {
	md := (&timestamppb.Timestamp{}).ProtoReflect().Descriptor()
	secs := md.Fields().ByName("seconds")
	got, err := AppendAtPath(nil, []protoreflect.FieldDescriptor{secs}, func(buf []byte) ([]byte, error) {
		return AppendValue(buf, secs, protoreflect.ValueOfInt64(300))
	})
	want, _ := proto.Marshal(&timestamppb.Timestamp{Seconds: 300})
	if err != nil || string(got) != string(want) {
		t.Fatalf("AppendAtPath = %x, %v; want %x", got, err, want)
	}
}
