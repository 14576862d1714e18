package reflection

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jhump/protoreflect/grpcreflect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors, matched with errors.Is against errors returned by this
// package (which are *Error values wrapping them).
var (
	// ErrNoReflection: the server implements neither grpc.reflection.v1 nor
	// grpc.reflection.v1alpha. Code Unimplemented.
	ErrNoReflection = errors.New("server does not implement gRPC reflection (tried v1 and v1alpha)")
	// ErrMissingDescriptor: a listed service, a file or one of its
	// dependencies is neither served by the upstream nor linked into refract.
	// Code NotFound.
	ErrMissingDescriptor = errors.New("descriptor not available")
	// ErrUnknownUpstream: the name was never added to the Cache, or was
	// removed. Code NotFound.
	ErrUnknownUpstream = errors.New("unknown upstream")
	// ErrUpstreamExists: Add was called with a name already added. Code
	// AlreadyExists.
	ErrUpstreamExists = errors.New("upstream already added")
	// ErrClosed: the Cache was closed. Code FailedPrecondition.
	ErrClosed = errors.New("cache closed")
	// ErrUnknownVersion: no kept version of the upstream's schema has
	// that hash. Code NotFound (InvalidArgument for a malformed hash).
	ErrUnknownVersion = errors.New("unknown schema version")
	// ErrNothingHeld: Approve found no held schema, or another than the
	// one named. Code FailedPrecondition.
	ErrNothingHeld = errors.New("no such schema held for approval")
)

// Error is the error type returned by this package. Its message carries the
// component prefix and, when known, the upstream
// (`reflection: upstream "library": ...`); it unwraps to its cause and
// implements GRPCStatus so that status.Code(err) yields Code.
type Error struct {
	// Upstream names the upstream, or is empty for Fetch, which has none.
	Upstream string
	// Code classifies the error: Unimplemented (no reflection), Unavailable
	// (unreachable), DeadlineExceeded, NotFound (missing descriptor or
	// unknown upstream), AlreadyExists, Canceled, FailedPrecondition
	// (closed, invalid descriptors) or another code relayed from the server.
	Code codes.Code
	// Err is the cause; it wraps the sentinel errors above where they apply.
	Err error
}

// Error implements error. The message is one line.
func (e *Error) Error() string {
	msg := oneLine(e.Err.Error())
	if e.Upstream == "" {
		return "reflection: " + msg
	}
	return fmt.Sprintf("reflection: upstream %q: %s", e.Upstream, msg)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// GRPCStatus returns a status with Code and the full message.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Error()) }

// newError builds an *Error from a format whose %w verbs wrap causes.
func newError(upstream string, code codes.Code, format string, args ...any) *Error {
	return &Error{Upstream: upstream, Code: code, Err: fmt.Errorf(format, args...)}
}

// classify turns an error from a reflection exchange into an *Error. what
// says what was being done ("list services", `service "a.B"` …); ctx is the
// fetch context, to tell timeouts from server answers.
func classify(ctx context.Context, upstream, what string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if grpcreflect.IsElementNotFoundError(err) {
		msg := oneLine(err.Error())
		if file, ok := missingFile(msg); ok {
			return newError(upstream, codes.NotFound,
				"%s: %w: file %q is neither served by the upstream nor linked in (%s)",
				what, ErrMissingDescriptor, file, msg)
		}
		return newError(upstream, codes.NotFound, "%s: %w: %s", what, ErrMissingDescriptor, msg)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		code := codes.Canceled
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			code = codes.DeadlineExceeded
		}
		return newError(upstream, code, "%s: %w (%w)", what, ctxErr, err)
	}
	st, ok := status.FromError(err)
	if !ok {
		return newError(upstream, codes.Internal, "%s: %w", what, err)
	}
	switch st.Code() {
	case codes.Unimplemented:
		return newError(upstream, codes.Unimplemented, "%s: %w: %w", what, ErrNoReflection, err)
	case codes.Unavailable:
		return newError(upstream, codes.Unavailable, "%s: upstream unreachable: %w", what, err)
	default:
		return newError(upstream, st.Code(), "%s: %w", what, err)
	}
}

// notFoundPrefix is how grpcreflect names a file that could not be had.
const notFoundPrefix = "File not found: "

// missingFile extracts the innermost missing file from a grpcreflect
// element-not-found message ("Symbol not found: a.B; caused by: File not
// found: c.proto"): the last file in the chain is the one missing.
func missingFile(msg string) (string, bool) {
	i := strings.LastIndex(msg, notFoundPrefix)
	if i < 0 {
		return "", false
	}
	name := msg[i+len(notFoundPrefix):]
	if j := strings.IndexByte(name, ';'); j >= 0 {
		name = name[:j]
	}
	name = strings.TrimSpace(name)
	return name, name != ""
}

// oneLine folds grpcreflect's multi-line cause chains into one line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\ncaused by: ", "; caused by: "), "\n", "; ")
}
