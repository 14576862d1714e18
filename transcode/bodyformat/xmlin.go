package bodyformat

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// node is one element of an XML body: its children, or its text.
type node struct {
	name string
	text []byte
	kids []*node
}

// decodeXML turns an XML body into the JSON of the route's body message.
// The root element's name is free; each child element is a field named by
// its JSON or proto name (see docs/body-formats.md for the whole mapping).
func (rt *Route) decodeXML(in transcode.Request) (transcode.Request, error) {
	root, err := parseXML(in.Body, rt.o.MaxDepth, rt.o.MaxFields)
	if err != nil {
		return in, err
	}
	js, err := appendMessage(nil, rt.target, root, root.name)
	if err != nil {
		return in, err
	}
	return transcode.Request{Vars: in.Vars, RawQuery: in.RawQuery, Body: js, ContentType: "application/json"}, nil
}

// parseXML reads one root element and what it holds, within depth and
// element budgets. Directives (<!DOCTYPE …>, so no entity of any kind),
// processing instructions other than the XML declaration and attributes
// other than namespace declarations are refused.
func parseXML(body []byte, maxDepth, maxElements int) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	var (
		stack []*node
		root  *node
		count int
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, invalid("XML body: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, invalid("XML body: a second root element <%s>: send one element holding the fields", t.Name.Local)
			}
			if len(stack) >= maxDepth {
				return nil, invalid("XML body: elements nest deeper than %d levels (body_formats.max_depth)", maxDepth)
			}
			if count++; count > maxElements {
				return nil, tooLarge("XML body: more than %d elements (body_formats.max_fields)", maxElements)
			}
			for _, a := range t.Attr {
				if a.Name.Space != "xmlns" && a.Name.Local != "xmlns" {
					return nil, invalid("XML body: element <%s>: attribute %q: fields are elements, not attributes", t.Name.Local, a.Name.Local)
				}
			}
			n := &node{name: t.Name.Local}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.kids = append(top.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, invalid("XML body: unexpected </%s>", t.Name.Local)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, invalid("XML body: text outside the root element")
				}
				continue
			}
			top := stack[len(stack)-1]
			top.text = append(top.text, t...)
		case xml.Directive:
			return nil, invalid("XML body: directives such as <!DOCTYPE> are not accepted")
		case xml.ProcInst:
			if t.Target != "xml" || root != nil {
				return nil, invalid("XML body: processing instruction <?%s?> is not accepted", t.Target)
			}
			if enc := declEncoding(t.Inst); enc != "" && !strings.EqualFold(enc, "utf-8") {
				return nil, invalid("XML body: encoding %q: send UTF-8", enc)
			}
		case xml.Comment:
		}
	}
	if root == nil {
		return nil, invalid("XML body: no root element")
	}
	if len(stack) > 0 {
		return nil, invalid("XML body: element <%s> is not closed", stack[len(stack)-1].name)
	}
	return root, nil
}

// declEncoding is the encoding pseudo-attribute of an XML declaration.
func declEncoding(inst []byte) string {
	s := string(inst)
	i := strings.Index(s, "encoding=")
	if i < 0 || len(s) < i+10 {
		return ""
	}
	s = s[i+9:]
	q := s[0]
	if q != '"' && q != '\'' {
		return ""
	}
	s = s[1:]
	if j := strings.IndexByte(s, q); j >= 0 {
		return s[:j]
	}
	return ""
}

// appendMessage appends the JSON object of message md from element n;
// path names n for errors.
func appendMessage(dst []byte, md protoreflect.MessageDescriptor, n *node, path string) ([]byte, error) {
	if len(bytes.TrimSpace(n.text)) > 0 {
		return nil, invalid("XML element %s: a %s holds field elements, not text", path, md.FullName())
	}
	var (
		order  []protoreflect.FieldDescriptor
		groups = map[protoreflect.FieldDescriptor][]*node{}
		oneofs = map[protoreflect.OneofDescriptor]string{}
	)
	for _, k := range n.kids {
		f := fieldNamed(md, k.name)
		if f == nil {
			return nil, invalid("XML element %s/%s: unknown field: %s has no field %q", path, k.name, md.FullName(), k.name)
		}
		if _, seen := groups[f]; !seen {
			if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
				if other, set := oneofs[o]; set {
					return nil, invalid("XML element %s: oneof %s: %s and %s are both set; set one", path, o.Name(), other, k.name)
				}
				oneofs[o] = k.name
			}
			order = append(order, f)
		}
		groups[f] = append(groups[f], k)
	}
	dst = append(dst, '{')
	for i, f := range order {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(rpcstatus.AppendJSONString(dst, f.JSONName()), ':')
		nodes := groups[f]
		fpath := path + "/" + nodes[0].name
		var err error
		switch {
		case f.IsMap():
			dst, err = appendMap(dst, f, nodes, fpath)
		case f.IsList():
			dst = append(dst, '[')
			for j, e := range nodes {
				if j > 0 {
					dst = append(dst, ',')
				}
				if dst, err = appendValue(dst, f, e, fpath); err != nil {
					return nil, err
				}
			}
			dst = append(dst, ']')
		default:
			if len(nodes) > 1 {
				return nil, invalid("XML element %s: field %s is not repeated but was given %d times", fpath, f.Name(), len(nodes))
			}
			dst, err = appendValue(dst, f, nodes[0], fpath)
		}
		if err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

// appendMap appends a map field's entries: each element holds a <key> and
// a <value>.
func appendMap(dst []byte, f protoreflect.FieldDescriptor, nodes []*node, path string) ([]byte, error) {
	seen := map[string]bool{}
	dst = append(dst, '{')
	for i, e := range nodes {
		var key, val *node
		for _, k := range e.kids {
			switch {
			case k.name == "key" && key == nil:
				key = k
			case k.name == "value" && val == nil:
				val = k
			default:
				return nil, invalid("XML element %s: a map entry holds one <key> and one <value>, not <%s>", path, k.name)
			}
		}
		if key == nil || len(key.kids) > 0 {
			return nil, invalid("XML element %s: a map entry needs a <key> with text", path)
		}
		k := string(key.text)
		if f.MapKey().Kind() != protoreflect.StringKind {
			k = strings.TrimSpace(k)
			if _, err := appendScalar(nil, f.MapKey(), k); err != nil {
				return nil, invalid("XML element %s/key: %v", path, err)
			}
		}
		if seen[k] {
			return nil, invalid("XML element %s: map key %q given twice", path, k)
		}
		seen[k] = true
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(rpcstatus.AppendJSONString(dst, k), ':')
		if val == nil {
			val = &node{name: "value"}
		}
		var err error
		if dst, err = appendValue(dst, f.MapValue(), val, path+"/value"); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

// appendValue appends the JSON of one value of f from element n.
func appendValue(dst []byte, f protoreflect.FieldDescriptor, n *node, path string) ([]byte, error) {
	if md := f.Message(); md != nil {
		switch {
		case wellKnown(md.FullName()) == textMessage:
			if len(n.kids) > 0 {
				return nil, invalid("XML element %s: a %s is text", path, md.FullName())
			}
			return rpcstatus.AppendJSONString(dst, strings.TrimSpace(string(n.text))), nil
		case wellKnown(md.FullName()) == jsonMessage:
			// No XML shape of their own: the element's text is their JSON.
			text := bytes.TrimSpace(n.text)
			if len(n.kids) > 0 || !json.Valid(text) {
				return nil, invalid("XML element %s: a %s is written as its JSON text", path, md.FullName())
			}
			return append(dst, text...), nil
		case wellKnown(md.FullName()) == wrapper:
			return appendValue(dst, md.Fields().ByName("value"), n, path)
		}
		return appendMessage(dst, md, n, path)
	}
	if len(n.kids) > 0 {
		return nil, invalid("XML element %s: field %s is a %s, not a message", path, f.Name(), f.Kind())
	}
	s := string(n.text)
	if f.Kind() != protoreflect.StringKind {
		s = strings.TrimSpace(s)
	}
	out, err := appendScalar(dst, f, s)
	if err != nil {
		return nil, invalid("XML element %s: %v", path, err)
	}
	return out, nil
}

// appendScalar appends s, the text of a value of scalar field f, as JSON
// after checking it, so errors name the element rather than a position in
// JSON the client never sent.
func appendScalar(dst []byte, f protoreflect.FieldDescriptor, s string) ([]byte, error) {
	var err error
	switch f.Kind() {
	case protoreflect.StringKind:
		return rpcstatus.AppendJSONString(dst, s), nil
	case protoreflect.BoolKind:
		if s != "true" && s != "false" {
			return nil, errors.New("invalid value " + strconv.Quote(s) + ": want true or false")
		}
		return append(dst, s...), nil
	case protoreflect.EnumKind:
		ed := f.Enum()
		if ed.FullName() == "google.protobuf.NullValue" {
			return append(dst, "null"...), nil
		}
		if _, err := strconv.ParseInt(s, 10, 32); err == nil {
			return append(dst, s...), nil
		}
		if ed.Values().ByName(protoreflect.Name(s)) == nil {
			return nil, errors.New("invalid value " + strconv.Quote(s) + ": not a value of enum " + string(ed.FullName()))
		}
		return rpcstatus.AppendJSONString(dst, s), nil
	case protoreflect.BytesKind:
		if _, err = base64.StdEncoding.DecodeString(s); err != nil {
			if _, err = base64.URLEncoding.DecodeString(s); err != nil {
				if _, err = base64.RawStdEncoding.DecodeString(s); err != nil {
					_, err = base64.RawURLEncoding.DecodeString(s)
				}
			}
		}
		if err != nil {
			return nil, errors.New("invalid value: bytes are written in base64")
		}
		return rpcstatus.AppendJSONString(dst, s), nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if s == "NaN" || s == "Infinity" || s == "-Infinity" {
			return rpcstatus.AppendJSONString(dst, s), nil
		}
		bits := 64
		if f.Kind() == protoreflect.FloatKind {
			bits = 32
		}
		v, perr := strconv.ParseFloat(s, bits)
		if perr != nil || strings.ContainsAny(s, "xXpP_") || strings.EqualFold(strings.TrimLeft(s, "+-"), "inf") || strings.EqualFold(strings.TrimLeft(s, "+-"), "infinity") || strings.EqualFold(s, "nan") {
			return nil, errors.New("invalid value " + strconv.Quote(s) + ": not a number")
		}
		return strconv.AppendFloat(dst, v, 'g', -1, bits), nil
	}
	// Integers are written anew from their value: XML allows "007" and
	// "-0", JSON's decoder does not. Quoted: exact for 64 bits, as
	// protojson accepts.
	var canon []byte
	bits := 64
	switch f.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind, protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		bits = 32
	}
	switch f.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		var v int64
		v, err = strconv.ParseInt(s, 10, bits)
		canon = strconv.AppendInt(nil, v, 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		var v uint64
		v, err = strconv.ParseUint(s, 10, bits)
		canon = strconv.AppendUint(nil, v, 10)
	default:
		return nil, errors.New("field kind " + f.Kind().String() + " has no XML form")
	}
	if err != nil || strings.HasPrefix(s, "+") {
		return nil, errors.New("invalid value " + strconv.Quote(s) + ": not a " + f.Kind().String())
	}
	return rpcstatus.AppendJSONString(dst, string(canon)), nil
}

// Kinds of well-known messages in XML.
const (
	plainMessage = iota
	textMessage  // JSON is a string (Timestamp, Duration, FieldMask): the XML is that text
	jsonMessage  // no fixed fields (Struct, Value, ListValue, Any): the XML text is their JSON
	wrapper      // a wrapper: written as the value it wraps
)

// wellKnown says how a message is written in XML.
func wellKnown(name protoreflect.FullName) int {
	switch name {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask":
		return textMessage
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any":
		return jsonMessage
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return wrapper
	}
	return plainMessage
}
