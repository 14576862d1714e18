package router

import (
	"fmt"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TemplateError is the error ParseTemplate returns for a template that does
// not follow the grammar. Its message names the template, the byte offset
// and what was expected there, e.g.
//
//	router: template "/v1/{name=shelves/*": offset 19: expected "/" or "}", found end of template
//
// Its gRPC code is InvalidArgument. Values are immutable and safe for
// concurrent use.
type TemplateError struct {
	Template string // the template as given
	Offset   int    // byte offset in Template, 0 <= Offset <= len(Template)
	Msg      string // what is wrong at Offset, e.g. `expected "}", found "/"`
}

// Error returns the message shown in the type's documentation.
func (e *TemplateError) Error() string {
	return "router: template " + strconv.Quote(e.Template) + ": offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// GRPCStatus reports codes.InvalidArgument, for status.FromError and status.Code.
func (e *TemplateError) GRPCStatus() *status.Status {
	return status.New(codes.InvalidArgument, e.Error())
}

// EntryRef names one entry given to NewTable in errors: its index in the
// slice, and its method, template and name as given.
type EntryRef struct {
	Index    int
	Method   string
	Template string // Template.String() of the entry, "" when the template is nil
	Name     string // Entry.Name, possibly empty
}

// String formats the reference as `GET /v1/shelves (entry 3 "pkg.Svc.M")`,
// leaving out the name when it is empty.
func (r EntryRef) String() string {
	s := r.Method + " " + r.Template + " (entry " + strconv.Itoa(r.Index)
	if r.Name != "" {
		s += " " + strconv.Quote(r.Name)
	}
	return s + ")"
}

// EntryError is the error NewTable returns for an entry that is unusable on
// its own: a nil or zero template, or a method that is not an HTTP token
// (RFC 9110 §5.6.2). Its gRPC code is InvalidArgument.
type EntryError struct {
	Entry EntryRef
	Msg   string // e.g. `invalid method "G ET"`
}

// Error returns e.g. `router: entry 3 "pkg.Svc.M": nil template`.
func (e *EntryError) Error() string {
	s := "router: entry " + strconv.Itoa(e.Entry.Index)
	if e.Entry.Name != "" {
		s += " " + strconv.Quote(e.Entry.Name)
	}
	return s + ": " + e.Msg
}

// GRPCStatus reports codes.InvalidArgument, for status.FromError and status.Code.
func (e *EntryError) GRPCStatus() *status.Status {
	return status.New(codes.InvalidArgument, e.Error())
}

// ConflictError is the error NewTable returns when two entries have the same
// method and the same shape (the same sequence of literals, "*" and "**",
// and the same verb), so that no request could tell them apart, whatever
// their variable names. Duplicates are the special case of identical
// templates. First comes before Second in the entries; when the set holds
// more than one conflict, this is the one whose Second comes first, and More
// counts the others. Its gRPC code is AlreadyExists.
type ConflictError struct {
	First, Second EntryRef
	Shape         string // the shared shape, e.g. "/v1/shelves/*:merge"
	More          int    // further conflicts in the same set
}

// Error returns e.g. `router: conflicting routes GET /v1/{name=shelves/*}
// (entry 0 "a") and GET /v1/shelves/{id} (entry 4 "b"): same method and path
// shape /v1/shelves/*`, or `router: duplicate routes ...` for identical
// templates.
func (e *ConflictError) Error() string {
	var s string
	if e.First.Template == e.Second.Template {
		s = fmt.Sprintf("router: duplicate routes %v and %v", e.First, e.Second)
	} else {
		s = fmt.Sprintf("router: conflicting routes %v and %v: same method and path shape %s", e.First, e.Second, e.Shape)
	}
	switch {
	case e.More == 1:
		s += " (and 1 more conflict)"
	case e.More > 1:
		s += fmt.Sprintf(" (and %d more conflicts)", e.More)
	}
	return s
}

// GRPCStatus reports codes.AlreadyExists, for status.FromError and status.Code.
func (e *ConflictError) GRPCStatus() *status.Status {
	return status.New(codes.AlreadyExists, e.Error())
}
