package reflection

import (
	"fmt"

	apipkg "google.golang.org/genproto/googleapis/api"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/apipb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/sourcecontextpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/typepb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// linked is the set of descriptors and Go types compiled into refract that
// every upstream may rely on: the well-known types, google.rpc (status, codes,
// error details) and the google.api annotations (http, field behavior,
// resource, routing, client). Importing their packages here also guarantees
// they are in protoregistry.GlobalFiles, where the reflection client finds the
// files a server does not serve. linked backs two things: descriptor
// identity (buildFiles uses these descriptors in place of the upstream's
// copies) and types that must always resolve to their Go implementations
// (error details in google.rpc.Status, google.api.http in method options).
//
// It is built explicitly from the generated packages' file descriptors (no
// init-time registry of ours) and never changes after newLinked, so it is
// safe for concurrent use.
type linked struct {
	files *protoregistry.Files
	types *protoregistry.Types
}

// linkedFiles lists the files of linked, in no particular order.
func linkedFiles() []protoreflect.FileDescriptor {
	return []protoreflect.FileDescriptor{
		// Well-known types.
		descriptorpb.File_google_protobuf_descriptor_proto,
		anypb.File_google_protobuf_any_proto,
		apipb.File_google_protobuf_api_proto,
		durationpb.File_google_protobuf_duration_proto,
		emptypb.File_google_protobuf_empty_proto,
		fieldmaskpb.File_google_protobuf_field_mask_proto,
		sourcecontextpb.File_google_protobuf_source_context_proto,
		structpb.File_google_protobuf_struct_proto,
		timestamppb.File_google_protobuf_timestamp_proto,
		typepb.File_google_protobuf_type_proto,
		wrapperspb.File_google_protobuf_wrappers_proto,
		// google.rpc: the error model.
		rpcstatus.File_google_rpc_status_proto,
		code.File_google_rpc_code_proto,
		errdetails.File_google_rpc_error_details_proto,
		// google.api annotations.
		annotations.File_google_api_annotations_proto,
		annotations.File_google_api_http_proto,
		annotations.File_google_api_client_proto,
		annotations.File_google_api_field_behavior_proto,
		annotations.File_google_api_field_info_proto,
		annotations.File_google_api_resource_proto,
		annotations.File_google_api_routing_proto,
		apipkg.File_google_api_launch_stage_proto,
	}
}

// newLinked builds the linked registries. The Go types are looked up by name
// in protoregistry.GlobalTypes, where the generated packages imported above
// have registered them; only names from linkedFiles are taken.
func newLinked() (*linked, error) {
	l := &linked{files: new(protoregistry.Files), types: new(protoregistry.Types)}
	for _, fd := range linkedFiles() {
		if err := l.files.RegisterFile(fd); err != nil {
			return nil, fmt.Errorf("reflection: linked file %q: %w", fd.Path(), err)
		}
		if err := l.registerMessages(fd.Messages()); err != nil {
			return nil, err
		}
		if err := l.registerExtensions(fd.Extensions()); err != nil {
			return nil, err
		}
		for i := range fd.Enums().Len() {
			ed := fd.Enums().Get(i)
			et, err := protoregistry.GlobalTypes.FindEnumByName(ed.FullName())
			if err != nil {
				return nil, fmt.Errorf("reflection: linked enum %q: %w", ed.FullName(), err)
			}
			if err := l.types.RegisterEnum(et); err != nil {
				return nil, fmt.Errorf("reflection: linked enum %q: %w", ed.FullName(), err)
			}
		}
	}
	return l, nil
}

func (l *linked) registerMessages(mds protoreflect.MessageDescriptors) error {
	for i := range mds.Len() {
		md := mds.Get(i)
		if md.IsMapEntry() {
			continue
		}
		mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
		if err != nil {
			return fmt.Errorf("reflection: linked message %q: %w", md.FullName(), err)
		}
		if err := l.types.RegisterMessage(mt); err != nil {
			return fmt.Errorf("reflection: linked message %q: %w", md.FullName(), err)
		}
		if err := l.registerMessages(md.Messages()); err != nil {
			return err
		}
		if err := l.registerExtensions(md.Extensions()); err != nil {
			return err
		}
	}
	return nil
}

func (l *linked) registerExtensions(xds protoreflect.ExtensionDescriptors) error {
	for i := range xds.Len() {
		xd := xds.Get(i)
		xt, err := protoregistry.GlobalTypes.FindExtensionByName(xd.FullName())
		if err != nil {
			return fmt.Errorf("reflection: linked extension %q: %w", xd.FullName(), err)
		}
		if err := l.types.RegisterExtension(xt); err != nil {
			return fmt.Errorf("reflection: linked extension %q: %w", xd.FullName(), err)
		}
	}
	return nil
}
