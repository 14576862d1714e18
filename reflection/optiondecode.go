package reflection

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Descriptor options arrive as bytes inside FileDescriptorProtos. Whatever
// extension the decoder did not know at unmarshal time stays an unknown field,
// invisible to proto.GetExtension. The reflection client decodes with the
// process-wide registry, which knows google.api.http because this package
// links google.golang.org/genproto/googleapis/api/annotations, but not the
// custom options an upstream defines in its own files. decodeOptions makes
// both dependable: when any option message still carries unknown fields, the
// files are decoded again with a resolver that knows the linked annotations
// (as their Go types, so proto.GetExtension(opts, annotations.E_Http) works)
// and every extension declared in the upstream's own files (as dynamicpb
// types), and rebuilt (see buildFiles).

// hasUnknownOptions reports whether any options message in fd carries unknown
// fields.
func hasUnknownOptions(fd protoreflect.FileDescriptor) bool {
	if unknownOpts(fd.Options()) {
		return true
	}
	if messagesHaveUnknownOptions(fd.Messages()) || enumsHaveUnknownOptions(fd.Enums()) ||
		fieldsHaveUnknownOptions(fd.Extensions()) {
		return true
	}
	for i := range fd.Services().Len() {
		sd := fd.Services().Get(i)
		if unknownOpts(sd.Options()) {
			return true
		}
		for j := range sd.Methods().Len() {
			if unknownOpts(sd.Methods().Get(j).Options()) {
				return true
			}
		}
	}
	return false
}

func messagesHaveUnknownOptions(mds protoreflect.MessageDescriptors) bool {
	for i := range mds.Len() {
		md := mds.Get(i)
		if unknownOpts(md.Options()) || fieldsHaveUnknownOptions(md.Fields()) ||
			fieldsHaveUnknownOptions(md.Extensions()) || enumsHaveUnknownOptions(md.Enums()) ||
			messagesHaveUnknownOptions(md.Messages()) {
			return true
		}
		for j := range md.Oneofs().Len() {
			if unknownOpts(md.Oneofs().Get(j).Options()) {
				return true
			}
		}
	}
	return false
}

// fieldList is satisfied by protoreflect.FieldDescriptors and
// protoreflect.ExtensionDescriptors.
type fieldList interface {
	Len() int
	Get(int) protoreflect.FieldDescriptor
}

func fieldsHaveUnknownOptions(fields fieldList) bool {
	for i := range fields.Len() {
		if unknownOpts(fields.Get(i).Options()) {
			return true
		}
	}
	return false
}

func enumsHaveUnknownOptions(eds protoreflect.EnumDescriptors) bool {
	for i := range eds.Len() {
		ed := eds.Get(i)
		if unknownOpts(ed.Options()) {
			return true
		}
		for j := range ed.Values().Len() {
			if unknownOpts(ed.Values().Get(j).Options()) {
				return true
			}
		}
	}
	return false
}

func unknownOpts(m proto.Message) bool {
	if m == nil {
		return false
	}
	return len(m.ProtoReflect().GetUnknown()) > 0
}

// optionResolver resolves extensions for option decoding: linked Go types
// first, then the extensions declared in the upstream's files.
type optionResolver struct {
	linked   *protoregistry.Types
	upstream *dynamicpb.Types
}

func (r optionResolver) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if xt, err := r.linked.FindExtensionByName(name); err == nil {
		return xt, nil
	}
	return r.upstream.FindExtensionByName(name)
}

func (r optionResolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if xt, err := r.linked.FindExtensionByNumber(message, field); err == nil {
		return xt, nil
	}
	return r.upstream.FindExtensionByNumber(message, field)
}

// anyUnknownOptions reports whether an options message of any file in files
// carries unknown fields.
func anyUnknownOptions(files *protoregistry.Files) bool {
	found := false
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		found = hasUnknownOptions(fd)
		return !found
	})
	return found
}

// decodeOptions re-decodes fdps with a resolver that knows the linked
// annotations and the extensions declared in files (built from fdps), and
// returns the re-decoded protos, to be built again.
func decodeOptions(files *protoregistry.Files, fdps []*descriptorpb.FileDescriptorProto, l *linked) ([]*descriptorpb.FileDescriptorProto, error) {
	r := optionResolver{linked: l.types, upstream: dynamicpb.NewTypes(files)}
	out := make([]*descriptorpb.FileDescriptorProto, len(fdps))
	var buf []byte
	for i, fdp := range fdps {
		var err error
		buf, err = proto.MarshalOptions{}.MarshalAppend(buf[:0], fdp)
		if err != nil {
			return nil, fmt.Errorf("re-encoding %q: %w", fdp.GetName(), err)
		}
		decoded := new(descriptorpb.FileDescriptorProto)
		if err := (proto.UnmarshalOptions{Resolver: r}).Unmarshal(buf, decoded); err != nil {
			return nil, fmt.Errorf("decoding options of %q: %w", fdp.GetName(), err)
		}
		out[i] = decoded
	}
	return out, nil
}
