package library

import (
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// Resource types reported in google.rpc.ResourceInfo details.
const (
	shelfType = "library.v1.Shelf"
	bookType  = "library.v1.Book"
)

// withDetails builds a status error carrying details. Attaching details only fails if
// they cannot be marshalled, which for these generated types would be a programming
// error; the status without details is still the right answer to the caller then.
func withDetails(code codes.Code, msg string, details ...protoadapt.MessageV1) error {
	st := status.New(code, msg)
	if withDet, err := st.WithDetails(details...); err == nil {
		st = withDet
	}
	return st.Err()
}

// notFound reports that the resource called name does not exist.
func notFound(resourceType, name string) error {
	return withDetails(codes.NotFound, fmt.Sprintf("%s %q not found", resourceType, name),
		&errdetails.ResourceInfo{
			ResourceType: resourceType,
			ResourceName: name,
			Description:  "no such resource",
		})
}

// alreadyExists reports that a create request named a resource that already exists.
func alreadyExists(resourceType, name string) error {
	return withDetails(codes.AlreadyExists, fmt.Sprintf("%s %q already exists", resourceType, name),
		&errdetails.ResourceInfo{
			ResourceType: resourceType,
			ResourceName: name,
			Description:  "a resource with this name already exists",
		})
}

// lockedErr reports that the books named are locked, so the operation cannot proceed.
func lockedErr(names ...string) error {
	pf := &errdetails.PreconditionFailure{}
	for _, n := range names {
		pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
			Type:        "LOCKED",
			Subject:     n,
			Description: "the book is locked; unlock it with LockBook first",
		})
	}
	msg := fmt.Sprintf("book %q is locked", names[0])
	if len(names) > 1 {
		msg = fmt.Sprintf("%d books are locked, first %q", len(names), names[0])
	}
	return withDetails(codes.FailedPrecondition, msg, pf)
}

// violations collects the field violations of one request, so a caller learns about
// every bad field at once rather than fixing them one round trip at a time.
type violations []*errdetails.BadRequest_FieldViolation

// add records that field (a proto field path such as "book.title") is bad.
func (v *violations) add(field, format string, args ...any) {
	*v = append(*v, &errdetails.BadRequest_FieldViolation{
		Field:       field,
		Description: fmt.Sprintf(format, args...),
	})
}

// err is nil when nothing was recorded, and otherwise an InvalidArgument status whose
// message names the first violation and whose BadRequest detail lists them all.
func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	msg := fmt.Sprintf("invalid %s: %s", v[0].Field, v[0].Description)
	if len(v) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(v)-1)
	}
	return withDetails(codes.InvalidArgument, msg, &errdetails.BadRequest{FieldViolations: v})
}
