package examples

import (
	"testing"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
)

// The documented library's schema is the generated one plus source info.
func TestLibraryFileWithSourceInfo(t *testing.T) {
	fd, err := libraryFileWithSourceInfo()
	if err != nil {
		t.Fatal(err)
	}
	svc := fd.Services().ByName("LibraryService")
	if got := fd.SourceLocations().ByDescriptor(svc).LeadingComments; got != " LibraryService manages shelves and the books on them.\n" {
		t.Errorf("service comment %q", got)
	}
	documented := protodesc.ToFileDescriptorProto(fd)
	documented.SourceCodeInfo = nil
	generated := protodesc.ToFileDescriptorProto(librarypb.File_library_v1_library_proto)
	if !proto.Equal(documented, generated) {
		t.Errorf("the schemas differ beyond comments:\ngenerated %v\ndocumented %v", prototext.Format(generated), prototext.Format(documented))
	}
}
