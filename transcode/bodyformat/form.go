package bodyformat

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime/multipart"
	"net/url"
	"strings"

	"github.com/refract-gateway/refract/transcode"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// filePart is a multipart part with a file name.
type filePart struct {
	name, contentType string
	data              []byte
}

// decodeForm turns a urlencoded or multipart body into the body JSON of
// the route (or, for a google.api.HttpBody body, into the file's bytes).
// Field names are paths under the body, as query parameter names are under
// the request: dotted, repeated for repeated fields, name[key] for maps.
func (rt *Route) decodeForm(in transcode.Request, mt, boundary string) (transcode.Request, error) {
	var (
		fields url.Values
		files  []filePart
		err    error
	)
	if mt == formType {
		if n := bytes.Count(in.Body, []byte("&")) + 1; n > rt.o.MaxFields {
			return in, tooLarge("form body: %d fields, over the limit of %d (body_formats.max_fields)", n, rt.o.MaxFields)
		}
		if fields, err = url.ParseQuery(string(in.Body)); err != nil {
			return in, invalid("form body: %v", err)
		}
	} else if fields, files, err = rt.parts(in.Body, boundary); err != nil {
		return in, err
	}
	if rt.raw {
		return rt.rawFile(in, fields, files)
	}
	var bodies []filePart // file parts for google.api.HttpBody fields, set on the message
	for _, p := range files {
		f, err := fieldAt(rt.target, p.name)
		if err != nil {
			return in, invalid("form field %q: %v", p.name, err)
		}
		switch {
		case f.Message() != nil && f.Message().FullName() == httpBodyName && !f.IsList() && !f.IsMap():
			bodies = append(bodies, p)
		case f.Kind() == protoreflect.BytesKind:
			fields.Add(p.name, base64.StdEncoding.EncodeToString(p.data))
		default:
			fields.Add(p.name, string(p.data))
		}
	}
	q := make(url.Values, len(fields))
	for k, vs := range fields {
		q[rt.prefix+k] = vs
	}
	msg, err := rt.twin.DecodeRequest(transcode.Request{RawQuery: q.Encode()})
	if err != nil {
		return in, rt.formError(err)
	}
	body := msg.ProtoReflect()
	for _, f := range rt.b.BodyPath() {
		body = body.Mutable(f).Message()
	}
	for _, p := range bodies {
		if err := setHTTPBody(body, p); err != nil {
			return in, invalid("form field %q: %v", p.name, err)
		}
	}
	js, err := protojson.Marshal(body.Interface())
	if err != nil {
		return in, invalid("form body: %v", err)
	}
	return transcode.Request{Vars: in.Vars, RawQuery: in.RawQuery, Body: js, ContentType: "application/json"}, nil
}

// parts reads a multipart body within the route's budgets: parts with a
// file name are files, the others text fields.
func (rt *Route) parts(body []byte, boundary string) (url.Values, []filePart, error) {
	if boundary == "" {
		return nil, nil, invalid("multipart body: the Content-Type has no boundary parameter")
	}
	fields := url.Values{}
	var files []filePart
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for n := 1; ; n++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return fields, files, nil
		}
		if err != nil {
			return nil, nil, invalid("multipart body: part %d: %v", n, err)
		}
		if n > rt.o.MaxFields {
			return nil, nil, tooLarge("multipart body: more than %d parts (body_formats.max_fields)", rt.o.MaxFields)
		}
		size := 0
		for k, vs := range p.Header {
			for _, v := range vs {
				size += len(k) + len(v) + 4 // "k: v\r\n"
			}
		}
		if size > rt.o.MaxPartHeaderBytes {
			return nil, nil, tooLarge("multipart body: part %d has a header of %d bytes, over the limit of %d (body_formats.max_part_header_bytes)",
				n, size, rt.o.MaxPartHeaderBytes)
		}
		name := p.FormName()
		if name == "" {
			return nil, nil, invalid("multipart body: part %d has no name: send Content-Disposition: form-data; name=\"field\"", n)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, invalid("multipart body: part %q: %v", name, err)
		}
		if p.FileName() != "" {
			files = append(files, filePart{name: name, contentType: p.Header.Get("Content-Type"), data: data})
		} else {
			fields.Add(name, string(data))
		}
	}
}

// rawFile makes the one file part the body of a route whose body is a
// google.api.HttpBody, its type the part's; the text fields join the
// query string, where the route's query rules apply to them.
func (rt *Route) rawFile(in transcode.Request, fields url.Values, files []filePart) (transcode.Request, error) {
	if len(files) != 1 {
		return in, invalid("multipart body: this route's body %s is a google.api.HttpBody: send exactly one file part (got %d)", rt.b.BodyField(), len(files))
	}
	if path := rt.b.BodyPath(); path != nil {
		if f, err := fieldAt(rt.b.Method.Input(), files[0].name); err != nil || f != path[len(path)-1] {
			return in, invalid("form field %q: the file part must be named %s, the route's body field", files[0].name, rt.b.BodyField())
		}
	}
	query := in.RawQuery
	for k := range fields {
		if _, err := fieldAt(rt.b.Method.Input(), strings.SplitN(k, "[", 2)[0]); err != nil {
			return in, invalid("form field %q: %v", k, err)
		}
	}
	if extra := fields.Encode(); extra != "" {
		if query != "" {
			query += "&"
		}
		query += extra
	}
	ct := files[0].contentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	return transcode.Request{Vars: in.Vars, RawQuery: query, Body: files[0].data, ContentType: ct}, nil
}

// formError words a query-parameter error of the twin binding as the form
// field's.
func (rt *Route) formError(err error) error {
	st := status.Convert(err)
	msg := strings.ReplaceAll(st.Message(), `query parameter "`+rt.prefix, `form field "`)
	msg = strings.ReplaceAll(msg, `query parameter "`, `form field "`)
	return status.Error(st.Code(), msg)
}

// setHTTPBody sets the google.api.HttpBody field at p's name (a path under
// body) to the part's bytes and type.
func setHTTPBody(body protoreflect.Message, p filePart) error {
	names := strings.Split(p.name, ".")
	m := body
	for _, n := range names[:len(names)-1] {
		f := fieldNamed(m.Descriptor(), n)
		if f == nil || f.Message() == nil || f.IsList() || f.IsMap() {
			return errors.New("no such message field")
		}
		m = m.Mutable(f).Message()
	}
	f := fieldNamed(m.Descriptor(), names[len(names)-1])
	hb := m.Mutable(f).Message()
	if hb.Has(hb.Descriptor().Fields().ByName("data")) {
		return errors.New("given twice")
	}
	ct := p.contentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	hb.Set(hb.Descriptor().Fields().ByName("content_type"), protoreflect.ValueOfString(ct))
	hb.Set(hb.Descriptor().Fields().ByName("data"), protoreflect.ValueOfBytes(p.data))
	return nil
}
