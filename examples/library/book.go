package library

import (
	"math"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/refract-gateway/refract/examples/library/librarypb"
)

// outputOnly reports whether a Book field is set by the server only.
func outputOnly(fd protoreflect.FieldDescriptor) bool {
	switch fd.Name() {
	case "name", "locked":
		return true
	}
	return false
}

// validateBook records the violations of a book's client-set fields, with field
// paths prefixed by prefix ("book").
func validateBook(prefix string, b *librarypb.Book, v *violations) {
	if b.GetTitle() == "" {
		v.add(prefix+".title", "is required")
	}
	if b.GetPageCount() < 0 {
		v.add(prefix+".page_count", "must not be negative, got %d", b.GetPageCount())
	}
	if r := b.GetRating(); r != nil && (math.IsNaN(r.GetValue()) || r.GetValue() < 0 || r.GetValue() > 5) {
		v.add(prefix+".rating", "must be between 0 and 5, got %v", r.GetValue())
	}
	if t := b.GetPublishTime(); t != nil && t.CheckValid() != nil {
		v.add(prefix+".publish_time", "%v", t.CheckValid())
	}
	if d := b.GetReadTime(); d != nil {
		if err := d.CheckValid(); err != nil {
			v.add(prefix+".read_time", "%v", err)
		} else if d.AsDuration() < 0 {
			v.add(prefix+".read_time", "must not be negative")
		}
	}
	if t := b.GetDueBack(); t != nil && t.CheckValid() != nil {
		v.add(prefix+".due_back", "%v", t.CheckValid())
	}
	for k := range b.GetLabels() {
		if k == "" {
			v.add(prefix+".labels", "label keys must not be empty")
			break
		}
	}
}

// maskFields resolves an update mask to the Book fields it names. An empty mask, or
// the single path "*", names every field a client may set. Paths are proto field
// names; nested paths, unknown fields and output-only fields are violations.
func maskFields(mask *fieldmaskpb.FieldMask, v *violations) []protoreflect.FieldDescriptor {
	fields := (&librarypb.Book{}).ProtoReflect().Descriptor().Fields()
	paths := mask.GetPaths()
	if len(paths) == 0 || (len(paths) == 1 && paths[0] == "*") {
		var all []protoreflect.FieldDescriptor
		for i := 0; i < fields.Len(); i++ {
			if fd := fields.Get(i); !outputOnly(fd) {
				all = append(all, fd)
			}
		}
		return all
	}
	var named []protoreflect.FieldDescriptor
	for _, p := range paths {
		fd := fields.ByName(protoreflect.Name(p))
		switch {
		case fd == nil:
			v.add("update_mask", "unknown or nested field path %q (use proto field names such as \"page_count\")", p)
		case outputOnly(fd):
			v.add("update_mask", "field %q cannot be updated", p)
		default:
			named = append(named, fd)
		}
	}
	return named
}

// applyMask copies the fields from src to dst, clearing in dst those unset in src. A
// oneof member works too: setting it replaces whichever member dst had, and clearing
// it leaves another active member alone.
func applyMask(dst, src *librarypb.Book, fields []protoreflect.FieldDescriptor) {
	// Clone so dst never shares lists, maps or messages with the caller's request.
	s := proto.Clone(src).(*librarypb.Book).ProtoReflect()
	d := dst.ProtoReflect()
	for _, fd := range fields {
		if s.Has(fd) {
			d.Set(fd, s.Get(fd))
		} else {
			d.Clear(fd)
		}
	}
}
