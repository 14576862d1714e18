package transcode

import (
	"errors"
	"fmt"
	"sync"

	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// Validation checks request messages against the buf.validate rules their
// reflected descriptors carry, so invalid input can be refused at the edge
// with every violation named. One protovalidate validator serves all
// methods (it caches what it compiles per message type); it is made when
// the first method with rules asks for it. The zero value is ready; safe
// for concurrent use once OnStartError is set.
type Validation struct {
	// OnStartError is told, once, why protovalidate could not start:
	// requests are then served unchecked rather than refused. Default
	// nil: nobody is.
	OnStartError func(error)

	once sync.Once
	v    protovalidate.Validator
}

// ForMethod is the validator for md's requests: nil when the request type
// carries no rules (so its calls pay nothing) or when protovalidate could
// not start.
func (e *Validation) ForMethod(md protoreflect.MethodDescriptor) protovalidate.Validator {
	if md == nil || !hasValidateRules(md.Input(), map[protoreflect.FullName]bool{}) {
		return nil
	}
	e.once.Do(func() {
		var err error
		e.v, err = protovalidate.New()
		if err != nil && e.OnStartError != nil {
			e.OnStartError(err)
		}
	})
	return e.v
}

// hasValidateRules reports whether md or any message it contains carries
// buf.validate rules.
func hasValidateRules(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	if r, err := protovalidate.ResolveMessageRules(md); err == nil && r != nil {
		return true
	}
	oneofs := md.Oneofs()
	for i := 0; i < oneofs.Len(); i++ {
		if r, err := protovalidate.ResolveOneofRules(oneofs.Get(i)); err == nil && r != nil {
			return true
		}
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if r, err := protovalidate.ResolveFieldRules(fd); err == nil && r != nil {
			return true
		}
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if m := fd.Message(); m != nil && hasValidateRules(m, seen) {
			return true
		}
	}
	return false
}

// InvalidRequest checks req with v: nil, nil when it keeps its rules; the
// status to answer when it breaks them (INVALID_ARGUMENT naming the first
// violation, with a google.rpc.BadRequest listing every one); an error
// when a rule could not be evaluated, which callers log and serve the
// request unchecked: the backend still has its own checks.
func InvalidRequest(v protovalidate.Validator, req proto.Message) (*spb.Status, error) {
	err := v.Validate(req)
	if err == nil {
		return nil, nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		return nil, err
	}
	br := &errdetails.BadRequest{}
	for _, v := range verr.Violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       protovalidate.FieldPathString(v.Proto.GetField()),
			Description: v.Proto.GetMessage(),
			Reason:      v.Proto.GetRuleId(),
		})
	}
	msg := "the request is invalid"
	if len(br.FieldViolations) > 0 {
		first := br.FieldViolations[0]
		msg = fmt.Sprintf("the request is invalid: %s: %s", first.Field, first.Description)
		if n := len(br.FieldViolations); n > 1 {
			msg += fmt.Sprintf(" (and %d more; see details)", n-1)
		}
	}
	st := &spb.Status{Code: int32(codes.InvalidArgument), Message: msg}
	if d, err := anypb.New(br); err == nil {
		st.Details = []*anypb.Any{d}
	}
	return st, nil
}
