package bodyformat

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"sort"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// encodeXML renders the JSON answer js of the route as XML: the root
// element is the response message's name, each field an element named as
// in the JSON (see docs/body-formats.md for the whole mapping).
func (rt *Route) encodeXML(js []byte) ([]byte, error) {
	md := rt.b.Method.Output()
	buf := bytes.NewBufferString(xml.Header)
	if rp := rt.b.ResponsePath(); rp != nil {
		// The answer is one field's value: the message with that field only.
		root := string(md.Name())
		buf.WriteString("<" + root + ">")
		if err := writeField(buf, rp[0], fieldKey(rp[0], rt.b.UseProtoNames()), js); err != nil {
			return nil, err
		}
		buf.WriteString("</" + root + ">")
		return buf.Bytes(), nil
	}
	if err := writeMessage(buf, string(md.Name()), md, js, rt.b.UseProtoNames()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func fieldKey(f protoreflect.FieldDescriptor, protoNames bool) string {
	if protoNames {
		return string(f.Name())
	}
	return f.JSONName()
}

// writeMessage writes the JSON object raw of message md as element name,
// its fields in declaration order.
func writeMessage(buf *bytes.Buffer, name string, md protoreflect.MessageDescriptor, raw []byte, protoNames bool) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	buf.WriteString("<" + name + ">")
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		f := fs.Get(i)
		key := fieldKey(f, protoNames)
		v, ok := obj[key]
		if !ok {
			if key = string(f.Name()); protoNames {
				key = f.JSONName()
			}
			v, ok = obj[key]
		}
		if !ok {
			continue
		}
		delete(obj, key)
		if isNull(v) {
			continue
		}
		if err := writeField(buf, f, key, v); err != nil {
			return err
		}
	}
	if len(obj) > 0 { // keys the message does not have (a transform's): written as their JSON is
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := writeGeneric(buf, k, obj[k]); err != nil {
				return err
			}
		}
	}
	buf.WriteString("</" + name + ">")
	return nil
}

// writeGeneric writes JSON that no descriptor describes as element name:
// an object's members as child elements (sorted), an array's items as
// repeated elements, a scalar as text; null writes nothing.
func writeGeneric(buf *bytes.Buffer, name string, raw json.RawMessage) error {
	if !isXMLName(name) {
		return fmt.Errorf("key %q is not an XML element name", name)
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || isNull(raw):
		return nil
	case raw[0] == '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteString("<" + name + ">")
		for _, k := range keys {
			if err := writeGeneric(buf, k, obj[k]); err != nil {
				return err
			}
		}
		buf.WriteString("</" + name + ">")
		return nil
	case raw[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, it := range items {
			if err := writeGeneric(buf, name, it); err != nil {
				return err
			}
		}
		return nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return writeText(buf, name, []byte(s))
	}
	return writeText(buf, name, raw)
}

// writeField writes one field: a repeated field as one element per item,
// a map as one element per entry holding <key> and <value>.
func writeField(buf *bytes.Buffer, f protoreflect.FieldDescriptor, name string, raw json.RawMessage) error {
	if !isXMLName(name) {
		return fmt.Errorf("field %s: its JSON name %q is not an XML element name", f.FullName(), name)
	}
	switch {
	case f.IsMap():
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			buf.WriteString("<" + name + "><key>")
			_ = xml.EscapeText(buf, []byte(k))
			buf.WriteString("</key>")
			if err := writeValue(buf, f.MapValue(), "value", m[k]); err != nil {
				return err
			}
			buf.WriteString("</" + name + ">")
		}
		return nil
	case f.IsList():
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, it := range items {
			if err := writeValue(buf, f, name, it); err != nil {
				return err
			}
		}
		return nil
	}
	return writeValue(buf, f, name, raw)
}

// writeValue writes one value of f as element name.
func writeValue(buf *bytes.Buffer, f protoreflect.FieldDescriptor, name string, raw json.RawMessage) error {
	if md := f.Message(); md != nil {
		switch wellKnown(md.FullName()) {
		case jsonMessage:
			var compact bytes.Buffer
			if err := json.Compact(&compact, raw); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return writeText(buf, name, compact.Bytes())
		case plainMessage:
			if isNull(raw) {
				return nil
			}
			return writeMessage(buf, name, md, raw, false)
		}
	}
	if isNull(raw) && f.Kind() != protoreflect.EnumKind {
		return nil
	}
	text := []byte(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		text = []byte(s)
	}
	if f.Enum() != nil && f.Enum().FullName() == "google.protobuf.NullValue" {
		text = []byte("NULL_VALUE")
	}
	return writeText(buf, name, text)
}

func writeText(buf *bytes.Buffer, name string, text []byte) error {
	buf.WriteString("<" + name + ">")
	if err := xml.EscapeText(buf, text); err != nil {
		return err
	}
	buf.WriteString("</" + name + ">")
	return nil
}

func isNull(raw []byte) bool { return string(bytes.TrimSpace(raw)) == "null" }

// isXMLName reports whether s is an element name refract writes: ASCII
// letters, digits, '_', '-' and '.', not starting with a digit, '-' or '.'.
func isXMLName(s string) bool {
	for i, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}
