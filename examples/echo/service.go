package echo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/refract-gateway/refract/examples/echo/echopb"
)

// Limits on request fields, as documented in echo.proto. They keep one call's cost
// bounded: the service runs in tests and demos, never behind a quota.
const (
	maxRepeat   = 100
	maxCount    = 1000
	maxInterval = 10_000 // milliseconds
)

// Service implements echopb.EchoServiceServer. It holds no state and is safe for
// concurrent use.
type Service struct {
	echopb.UnimplementedEchoServiceServer
}

var _ echopb.EchoServiceServer = (*Service)(nil)

// NewService returns a Service.
func NewService() *Service { return &Service{} }

// Echo implements echopb.EchoServiceServer.
func (s *Service) Echo(_ context.Context, req *echopb.EchoRequest) (*echopb.EchoResponse, error) {
	msg, err := echoed(req)
	if err != nil {
		return nil, err
	}
	return &echopb.EchoResponse{Message: msg}, nil
}

// Expand implements echopb.EchoServiceServer.
func (s *Service) Expand(req *echopb.ExpandRequest, stream grpc.ServerStreamingServer[echopb.EchoResponse]) error {
	var v []*errdetails.BadRequest_FieldViolation
	if req.GetText() == "" {
		v = append(v, violation("text", "is required"))
	}
	if c := req.GetCount(); c < 0 || c > maxCount {
		v = append(v, violation("count", fmt.Sprintf("must be between 0 and %d, got %d", maxCount, c)))
	}
	if iv := req.GetIntervalMs(); iv < 0 || iv > maxInterval {
		v = append(v, violation("interval_ms", fmt.Sprintf("must be between 0 and %d, got %d", maxInterval, iv)))
	}
	if len(v) > 0 {
		return badRequest(v)
	}

	ctx := stream.Context()
	interval := time.Duration(req.GetIntervalMs()) * time.Millisecond
	for i := range req.GetCount() {
		if i > 0 && interval > 0 {
			// Wait, but give up as soon as the client does: a cancelled call must not
			// keep a server goroutine sleeping.
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return status.FromContextError(ctx.Err()).Err()
			case <-t.C:
			}
		}
		if err := stream.Send(&echopb.EchoResponse{Message: req.GetText(), Index: i}); err != nil {
			return err
		}
	}
	return nil
}

// Collect implements echopb.EchoServiceServer.
func (s *Service) Collect(stream grpc.ClientStreamingServer[echopb.EchoRequest, echopb.EchoResponse]) error {
	var parts []string
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&echopb.EchoResponse{
				Message: strings.Join(parts, " "),
				Index:   int32(len(parts)),
			})
		}
		if err != nil {
			return err
		}
		msg, err := echoed(req)
		if err != nil {
			return err
		}
		parts = append(parts, msg)
	}
}

// Chat implements echopb.EchoServiceServer.
func (s *Service) Chat(stream grpc.BidiStreamingServer[echopb.EchoRequest, echopb.EchoResponse]) error {
	for i := int32(0); ; i++ {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		msg, err := echoed(req)
		if err != nil {
			return err
		}
		if err := stream.Send(&echopb.EchoResponse{Message: msg, Index: i}); err != nil {
			return err
		}
	}
}

// echoed validates req and returns its message repeated as Echo documents.
func echoed(req *echopb.EchoRequest) (string, error) {
	var v []*errdetails.BadRequest_FieldViolation
	if req.GetMessage() == "" {
		v = append(v, violation("message", "is required"))
	}
	if r := req.GetRepeat(); r < 0 || r > maxRepeat {
		v = append(v, violation("repeat", fmt.Sprintf("must be between 0 and %d, got %d", maxRepeat, r)))
	}
	if len(v) > 0 {
		return "", badRequest(v)
	}
	n := max(int(req.GetRepeat()), 1)
	return strings.Repeat(req.GetMessage()+" ", n-1) + req.GetMessage(), nil
}

// violation describes one bad request field.
func violation(field, desc string) *errdetails.BadRequest_FieldViolation {
	return &errdetails.BadRequest_FieldViolation{Field: field, Description: desc}
}

// badRequest is an InvalidArgument status naming the first violation, with a
// google.rpc.BadRequest detail listing them all.
func badRequest(v []*errdetails.BadRequest_FieldViolation) error {
	st := status.New(codes.InvalidArgument, fmt.Sprintf("invalid %s: %s", v[0].Field, v[0].Description))
	// WithDetails fails only if the detail cannot be marshalled; the bare status is
	// still the right answer then.
	if withDet, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: v}); err == nil {
		st = withDet
	}
	return st.Err()
}
