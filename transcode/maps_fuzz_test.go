package transcode

import (
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FuzzDecodeMaps feeds map-heavy bodies and query strings to both decoders
// (fast path and dynamicpb + protojson) on bindings whose body is a whole
// message, a map field, a repeated field or a scalar, under POST and PATCH
// (whose update_mask is derived from the body). Malformed map entries must
// be INVALID_ARGUMENT, never a panic (a 500 to the caller).
func FuzzDecodeMaps(f *testing.F) {
	for _, s := range [][2]string{
		{`{"mi":{"1":{"i32":1}}}`, "mi[1]=x"}, {`{"mv":{"a":null,"b":[1,{"x":2}]}}`, "mv[a]=1"},
		{`{"mu":{"1":"RED"}}`, "mu[1]=RED&mu[2]=7"}, {`{"1":{}}`, "mb[true]=1"}, {`{"a":{"b":1}}`, "ms[a]=b&ms[a]=c"},
		{`{"mb":{"true":"1","false":2}}`, "mss[-1]=NaN"}, {`{"key":1,"value":{}}`, "mi.key=1"}, {`"x","ci":"7"`, "counts[a]=1"},
		{`{"mi":{"-2147483649":{}}}`, "mi[x]=1"}, {`[{"i32":1},null]`, "ms[%FF]=1"},
	} {
		f.Add(s[0], s[1])
	}
	md := kitchenMethod(f, "Put")
	var bs []*Binding
	for _, body := range []string{"*", "mi", "mv", "ms", "mu", "mb", "mss", "scalars", "items", "rs", "cs"} {
		for _, patch := range []bool{false, true} {
			for _, fast := range []bool{true, false} {
				r := &annotations.HttpRule{Body: body}
				if patch {
					r.Pattern = &annotations.HttpRule_Patch{Patch: "/k"}
				} else {
					r.Pattern = &annotations.HttpRule_Post{Post: "/k"}
				}
				bs = append(bs, compileRule(f, md, r, Options{DisableFastPath: !fast}))
			}
		}
	}
	codec, err := NewCodec(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body, query string) {
		for _, b := range bs {
			m, err := b.DecodeCall(Request{Body: []byte(body), RawQuery: query, ContentType: "application/json"}, codec)
			if err != nil {
				if status.Code(err) != codes.InvalidArgument {
					t.Fatalf("%s: rejection with code %v: %v", b, status.Code(err), err)
				}
				continue
			}
			if wm, ok := m.(*WireMessage); ok {
				wm.Release()
			}
		}
	})
}
