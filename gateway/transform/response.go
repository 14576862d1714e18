package transform

import (
	"net/http"

	"github.com/refract-gateway/refract/transcode"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// Response applies the header edits to w's headers and drops the
// omitted fields of a response the call filled (the *WireMessage it
// received, or a dynamic message), returning what to render. Response
// bytes that do not parse are the upstream's fault: it answers 502 itself
// and returns false (a field it must omit is never rendered unchecked).
// A nil t returns resp.
func (t *Route) Response(w http.ResponseWriter, resp any, codec *transcode.Codec) (any, bool) {
	if t == nil {
		return resp, true
	}
	return t.response(w, resp, codec)
}

func (t *Route) response(w http.ResponseWriter, resp any, codec *transcode.Codec) (any, bool) {
	t.applyHeaders(w.Header())
	if t.omit == nil {
		return resp, true
	}
	wm, ok := resp.(*transcode.WireMessage)
	if !ok {
		t.stats.dynamicResponses.Add(1)
		m := resp.(proto.Message).ProtoReflect()
		for _, p := range t.omits {
			clearPath(m, p)
		}
		return resp, true
	}
	t.stats.wireResponses.Add(1)
	out, edited, err := drop(wm.Bytes(), t.omit)
	if err == nil && edited {
		nm := &transcode.WireMessage{}
		if err = codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(out)}, nm); err == nil {
			wm.Release()
			return nm, true
		}
	}
	if err != nil {
		wm.Release()
		rpcstatus.WriteStatus(w, http.StatusBadGateway, codes.Internal, "the upstream's response is not a valid protobuf message: "+err.Error())
		return nil, false
	}
	return wm, true
}

// Body removes the omitted fields' keys from a rendered JSON body (a
// route renders unpopulated fields by default), renames its top-level
// keys and wraps it in the envelope. body is the encoder's: valid JSON. A nil t returns
// body.
func (t *Route) Body(body []byte) []byte {
	if t == nil || (t.json == nil && t.envelope == nil) {
		return body
	}
	return t.body(body)
}

func (t *Route) body(body []byte) []byte {
	t.stats.bodies.Add(1)
	if t.json != nil {
		body = editJSON(body, t.json)
	}
	if t.envelope != nil {
		out := make([]byte, 0, len(t.envelope)+len(body)+1)
		out = append(append(append(out, t.envelope...), body...), '}')
		body = out
	}
	return body
}

// Error applies the header edits and maps a failed call's status: it
// returns the HTTP status to answer with, or 0 when the route has an
// error body template and it answered itself. A nil t returns httpStatus.
func (t *Route) Error(w http.ResponseWriter, code codes.Code, msg string, httpStatus int) int {
	if t == nil {
		return httpStatus
	}
	return t.mapError(w, code, msg, httpStatus)
}

func (t *Route) mapError(w http.ResponseWriter, code codes.Code, msg string, httpStatus int) int {
	t.applyHeaders(w.Header())
	if s, ok := t.status[code]; ok {
		httpStatus = s
	}
	if t.errBody == nil {
		return httpStatus
	}
	rpcstatus.Write(w, httpStatus, code, t.errBody.render(code, msg, httpStatus))
	return 0
}

func (t *Route) applyHeaders(h http.Header) {
	for _, k := range t.headers.Remove {
		h.Del(k)
	}
	for _, p := range t.headers.Set {
		h[p.From] = []string{p.To}
	}
}

// HTTPOnly reports whether t edits what the backend receives (request
// fields or metadata) or what the client may see (omitted fields): the
// route's method must then not be reachable through the gRPC proxy,
// which passes messages and metadata through unedited.
func (t *Route) HTTPOnly() bool {
	return t != nil && (t.drop != nil || t.omit != nil || len(t.md.Set)+len(t.md.Remove)+len(t.md.Rename) > 0)
}

// Names lists t for a route's policies in the admin API: "transform",
// nothing for nil.
func (t *Route) Names() []string {
	if t == nil {
		return nil
	}
	return []string{"transform"}
}
