package reflection

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestHashIgnoresFileOrder(t *testing.T) {
	l, err := newLinked()
	if err != nil {
		t.Fatal(err)
	}
	var fdps []*descriptorpb.FileDescriptorProto
	for _, fd := range linkedFiles() {
		fdps = append(fdps, protodesc.ToFileDescriptorProto(fd))
	}
	want, err := hashFiles(slices.Clone(fdps))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		shuffled := slices.Clone(fdps)
		rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got, _ := hashFiles(shuffled); got != want {
			t.Fatalf("hash depends on order: %s vs %s", got, want)
		}
	}
	changed := slices.Clone(fdps)
	changed[0] = proto.Clone(changed[0]).(*descriptorpb.FileDescriptorProto)
	changed[0].Package = proto.String("other")
	if got, _ := hashFiles(changed); got == want {
		t.Error("a changed file kept the hash")
	}
	// The linked set builds against itself.
	if _, err := buildFiles(fdps, l); err != nil {
		t.Errorf("linked files do not build: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, 2 * time.Second
	for n, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: 1600 * time.Millisecond, 6: hi, 200: hi} {
		if got := backoffBase(lo, hi, n); got != base {
			t.Errorf("backoffBase(%d) = %v, want %v", n, got, base)
		}
		for range 50 {
			got := backoff(lo, hi, n)
			if got < time.Duration(float64(base)*0.8) || got > min(hi, time.Duration(float64(base)*1.2)) {
				t.Fatalf("backoff(%d) = %v, outside %v ±20%% capped at %v", n, got, base, hi)
			}
		}
	}
	for range 100 {
		if got := jitter(time.Second); got < 800*time.Millisecond || got > 1200*time.Millisecond {
			t.Fatalf("jitter(1s) = %v", got)
		}
	}
}

func TestStateText(t *testing.T) {
	for st := StatePending; st <= StateFailed; st++ {
		b, err := json.Marshal(Stats{State: st})
		if err != nil || !strings.Contains(string(b), `"state":"`+st.String()+`"`) || strings.Contains(string(b), "_at") {
			t.Errorf("%v encodes as %s, %v (want the state's name and no zero times)", st, b, err)
		}
		var back Stats
		if err := json.Unmarshal(b, &back); err != nil || back.State != st {
			t.Errorf("%v round-trips to %v, %v", st, back.State, err)
		}
	}
	if _, err := State(9).MarshalText(); err == nil {
		t.Error("invalid state encoded")
	}
	if State(9).String() != "unknown" {
		t.Error("invalid state String")
	}
}

func TestRoutable(t *testing.T) {
	got := routable([]string{"b.Svc", "grpc.health.v1.Health", "a.Svc", "grpc.reflection.v1alpha.ServerReflection",
		"grpc.reflection.v1.ServerReflection", "b.Svc", "", "grpc.healthz.Other"})
	want := []string{"a.Svc", "b.Svc", "grpc.healthz.Other"}
	if !slices.Equal(got, want) {
		t.Errorf("routable = %q, want %q", got, want)
	}
}

func TestMissingFile(t *testing.T) {
	for msg, want := range map[string]string{
		"Symbol not found: a.B; caused by: File not found: x/y.proto; caused by: File not found: z.proto": "z.proto",
		"File not found: only.proto": "only.proto",
		"Symbol not found: a.B":      "",
	} {
		got, ok := missingFile(msg)
		if got != want || ok != (want != "") {
			t.Errorf("missingFile(%q) = %q, %v; want %q", msg, got, ok, want)
		}
	}
}

// An upstream whose copy of a linked file is newer than refract's (it declares
// something refract's lacks, and another file uses it) still builds, from the
// upstream's own copies.
func TestBuildFallsBackToUpstreamCopies(t *testing.T) {
	l, err := newLinked()
	if err != nil {
		t.Fatal(err)
	}
	newer := protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto)
	newer.MessageType = append(newer.MessageType, &descriptorpb.DescriptorProto{Name: proto.String("Interval2")})
	user := &descriptorpb.FileDescriptorProto{
		Name: proto.String("u.proto"), Package: proto.String("u"), Syntax: proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M"), Field: []*descriptorpb.FieldDescriptorProto{{
			Name: proto.String("i"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".google.protobuf.Interval2"),
		}}}},
	}
	files, err := buildFiles([]*descriptorpb.FileDescriptorProto{user, newer}, l)
	if err != nil {
		t.Fatalf("buildFiles: %v", err)
	}
	if _, err := files.FindDescriptorByName("google.protobuf.Interval2"); err != nil {
		t.Errorf("upstream copy not used: %v", err)
	}

	// A dependency missing from the set is named.
	_, err = buildFiles([]*descriptorpb.FileDescriptorProto{{
		Name: proto.String("v.proto"), Dependency: []string{"gone.proto"},
	}}, l)
	if !errors.Is(err, ErrMissingDescriptor) || err.Error() != `building descriptors: file "gone.proto" (imported by "v.proto"): descriptor not available` {
		t.Errorf("missing dependency: %v", err)
	}
}
