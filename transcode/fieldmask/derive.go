package fieldmask

import (
	"encoding/json"
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

const (
	structName protoreflect.FullName = "google.protobuf.Struct"
	valueName  protoreflect.FullName = "google.protobuf.Value"
)

// FromJSON returns, sorted, the field-mask paths that body (a JSON object
// for a message of type md) sets: for a key naming a singular message field
// with a non-empty object value, the paths inside it; for a Struct field, or
// a Value field holding an object, the keys inside it ("struct_field.key.
// nested_key"); for any other key its field's .proto name. Keys naming no
// field of md are skipped (the decoder has already accepted or refused
// them). A body that is not a JSON object yields nil. Nesting follows the
// body, which the caller has already decoded within its depth budget.
func FromJSON(md protoreflect.MessageDescriptor, body []byte) []string {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil // not an object (e.g. null): nothing to derive
	}
	var paths []string
	collect(md, obj, "", &paths)
	sort.Strings(paths)
	return paths
}

func collect(md protoreflect.MessageDescriptor, obj map[string]json.RawMessage, prefix string, out *[]string) {
	for k, raw := range obj {
		f := lookupField(md, k)
		if f == nil {
			continue
		}
		p := prefix + string(f.Name())
		var sub map[string]json.RawMessage
		if f.IsList() || f.IsMap() || f.Message() == nil || json.Unmarshal(raw, &sub) != nil || len(sub) == 0 {
			*out = append(*out, p)
			continue
		}
		switch n := f.Message().FullName(); {
		case n == structName || n == valueName:
			// A Struct's keys (and those of a Value holding an object) are
			// what the client changed: grpc-gateway names them, so a
			// backend's mask handling sees the same paths.
			collectKeys(sub, p+".", out)
		case strings.HasPrefix(string(n), "google.protobuf."):
			*out = append(*out, p) // other well-known types are set whole
		default:
			collect(f.Message(), sub, p+".", out)
		}
	}
}

// collectKeys names the leaves of a JSON object's key tree: a key whose
// value is a non-empty object is walked into, any other key is a path.
func collectKeys(obj map[string]json.RawMessage, prefix string, out *[]string) {
	for k, raw := range obj {
		var sub map[string]json.RawMessage
		if json.Unmarshal(raw, &sub) == nil && len(sub) > 0 {
			collectKeys(sub, prefix+k+".", out)
			continue
		}
		*out = append(*out, prefix+k)
	}
}

// lookupField finds a field by its .proto name or its JSON name, as the
// request decoder does.
func lookupField(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	if f := md.Fields().ByName(protoreflect.Name(name)); f != nil {
		return f
	}
	return md.Fields().ByJSONName(name)
}
