package bodyformat

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// fieldNamed finds a field by its proto name or its JSON name, as query
// parameters and JSON bodies do.
func fieldNamed(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fs := md.Fields()
	if f := fs.ByName(protoreflect.Name(name)); f != nil {
		return f
	}
	return fs.ByJSONName(name)
}

// fieldAt resolves a dotted path of field names under md.
func fieldAt(md protoreflect.MessageDescriptor, path string) (protoreflect.FieldDescriptor, error) {
	names := strings.Split(path, ".")
	for i, n := range names {
		f := fieldNamed(md, n)
		if f == nil {
			return nil, fmt.Errorf("unknown field: %s has no field %q", md.FullName(), n)
		}
		if i == len(names)-1 {
			return f, nil
		}
		if md = f.Message(); md == nil || f.IsList() || f.IsMap() {
			return nil, fmt.Errorf("field %s is not a message", f.FullName())
		}
	}
	return nil, fmt.Errorf("empty field name")
}
