package transcode

import (
	"errors"
	"fmt"

	"github.com/refract-gateway/refract/transcode/wirejson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Hostile responses. A backend's bytes are as untrusted as a client's: a
// message nested a million levels deep would exhaust the stack of any
// recursive decoder or encoder, which no recover catches. Every response
// is held to Options.MaxDepth, the same budget as request bodies: the
// wire → JSON encoder counts its levels, dynamic messages are unmarshalled
// with a recursion limit and measured (google.protobuf.Any values
// included) before protojson renders them, and stream messages are
// measured as they are received, so that the call fails with the reason.

// DepthError reports a response nested deeper than the binding's
// MaxDepth. Its message names the limit.
type DepthError struct {
	// Limit is the nesting bound that was exceeded.
	Limit int
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("response nests deeper than the limit of %d levels", e.Limit)
}

// responseDepth rewords a nesting error of any of the decoders as a
// *DepthError with the binding's limit; other errors are returned as they
// are.
func (b *Binding) responseDepth(err error) error {
	if err == nil || !wirejson.IsRecursionError(err) {
		return err
	}
	return &DepthError{Limit: b.maxDepth}
}

// unmarshalResponse unmarshals response wire bytes into msg within the
// depth budget. proto counts map entries as levels too, hence its limit of
// twice the budget once CheckDepth has counted the levels.
func (b *Binding) unmarshalResponse(data []byte, msg proto.Message) error {
	if err := wirejson.CheckDepth(msg.ProtoReflect().Descriptor(), data, b.maxDepth); err != nil {
		var de *wirejson.DepthError
		if errors.As(err, &de) {
			return &DepthError{Limit: b.maxDepth}
		}
	}
	return b.responseDepth(proto.UnmarshalOptions{RecursionLimit: 2*b.maxDepth + 1}.Unmarshal(data, msg))
}

// checkResponseDepth measures a response message already decoded (by
// grpc-go's codec, whose limit is protobuf's 10,000): its nesting, and
// that of the messages inside its google.protobuf.Any values, which
// protojson would unmarshal and render with no limit of its own.
func (b *Binding) checkResponseDepth(m protoreflect.Message) error {
	if err := messageDepth(m, 1, b.maxDepth, b.anyResolver()); err != nil {
		return b.responseDepth(err)
	}
	return nil
}

func (b *Binding) anyResolver() protoregistry.MessageTypeResolver {
	if b.resolver != nil {
		return b.resolver
	}
	return protoregistry.GlobalTypes
}

func messageDepth(m protoreflect.Message, level, limit int, res protoregistry.MessageTypeResolver) error {
	if level > limit {
		return &wirejson.DepthError{Limit: limit}
	}
	if m.Descriptor().FullName() == "google.protobuf.Any" {
		return anyDepth(m, level, limit, res)
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() == nil {
				return true
			}
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				err = messageDepth(mv.Message(), level+1, limit, res)
				return err == nil
			})
		case fd.Message() == nil:
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = messageDepth(l.Get(i).Message(), level+1, limit, res)
			}
		default:
			err = messageDepth(v.Message(), level+1, limit, res)
		}
		return err == nil
	})
	return err
}

// anyDepth measures the message an Any holds, as protojson will render
// it: one level deeper than the Any. A type that does not resolve or
// bytes that do not unmarshal are left for protojson to report.
func anyDepth(m protoreflect.Message, level, limit int, res protoregistry.MessageTypeResolver) error {
	fields := m.Descriptor().Fields()
	url, value := fields.ByNumber(1), fields.ByNumber(2)
	if url == nil || value == nil {
		return nil
	}
	mt, err := res.FindMessageByURL(m.Get(url).String())
	if err != nil {
		return nil
	}
	if level >= limit {
		return &wirejson.DepthError{Limit: limit}
	}
	inner := mt.New()
	data := m.Get(value).Bytes()
	if err := wirejson.CheckDepth(inner.Descriptor(), data, limit-level); err != nil {
		var de *wirejson.DepthError
		if errors.As(err, &de) {
			return &wirejson.DepthError{Limit: limit}
		}
		return nil
	}
	if err := (proto.UnmarshalOptions{RecursionLimit: 2*(limit-level) + 1}).Unmarshal(data, inner.Interface()); err != nil {
		return nil
	}
	return messageDepth(inner, level+1, limit, res)
}
