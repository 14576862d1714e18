package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"buf.build/go/protovalidate"
	"github.com/refract-gateway/refract/transcode"
	"github.com/rs/zerolog"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// edgeValidation checks requests against the buf.validate rules their
// reflected descriptors carry, before the upstream call, so invalid input
// is refused at the edge with every violation named. One protovalidate
// validator serves all routes (it caches what it compiles per message
// type); it is made when the first route with rules is compiled. Safe for
// concurrent use.
type edgeValidation struct {
	once sync.Once
	v    protovalidate.Validator
	err  error
	log  zerolog.Logger
}

// validator returns the shared validator, or nil when it cannot be made
// (logged once: requests are then served unchecked rather than refused).
func (e *edgeValidation) validator() protovalidate.Validator {
	e.once.Do(func() {
		e.v, e.err = protovalidate.New()
		if e.err != nil {
			e.log.Error().Err(e.err).Msg("edge validation is off: protovalidate could not start")
		}
	})
	return e.v
}

// forRoute is the validator for a route's requests: nil when the upstream
// switched validation off or the request type carries no rules, so those
// routes pay nothing.
func (e *edgeValidation) forRoute(u *upstream, b *transcode.Binding) protovalidate.Validator {
	if !u.o.Validate {
		return nil
	}
	if b == nil || b.Method == nil || !hasValidateRules(b.Method.Input(), map[protoreflect.FullName]bool{}) {
		return nil
	}
	return e.validator()
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

// rejectInvalid answers 400 with a google.rpc.BadRequest listing every
// violation and returns true when req breaks its rules. A rule that cannot
// be evaluated is logged and the request served: the backend still has
// its own checks, and refusing every call for a gateway-side problem would
// be worse.
func (g *Gateway) rejectInvalid(w http.ResponseWriter, rt *route, req proto.Message) bool {
	if rt.validator == nil {
		return false
	}
	err := rt.validator.Validate(req)
	if err == nil {
		return false
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		g.log.Warn().Err(err).Str("method", rt.method).Msg("edge validation could not evaluate the rules; serving unchecked")
		return false
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
	g.obs.Rejected(rejectValidate)
	// nil binding: BadRequest resolves from the gateway's own types, which
	// the upstream's descriptors need not include.
	writeStatusProto(w, http.StatusBadRequest, st, nil)
	return true
}
