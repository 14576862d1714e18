package aggregate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/router"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

type varsKey struct{}

// Serve answers r when it matches an aggregate's route, through the
// aggregate's policies; false leaves r to the engine (a 404).
func (s *Set) Serve(w http.ResponseWriter, r *http.Request) bool {
	m, found := s.cur.Load().table.Match(r.Method, r.URL.EscapedPath())
	if found != router.Found {
		return false
	}
	c := m.Value
	if info := policy.InfoFrom(r.Context()); info != nil {
		info.Route, info.Method, info.Upstream, info.Observer = c.route, PolicyKey(c.Name), "", c.obs
	}
	c.chain.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), varsKey{}, m.Vars)))
	return true
}

// request is what the calls' values read.
type request struct {
	r     *http.Request
	vars  []string
	query url.Values
	body  map[string]any // nil: no body
	info  *policy.Info
}

// outcome is one call's result.
type outcome struct {
	done chan struct{}
	resp protoreflect.Message // nil when it failed
	code codes.Code
	msg  string
}

// serve runs the calls past the aggregate's policies and answers.
func (c *compiled) serve(w http.ResponseWriter, r *http.Request) {
	info := policy.InfoFrom(r.Context())
	if info != nil {
		info.Stage = policy.NoStage
	}
	vars, _ := r.Context().Value(varsKey{}).([]string)
	req := &request{r: r, vars: vars, query: r.URL.Query(), info: info}
	if c.readsBody {
		body, err := policy.ReadBody(w, r, c.MaxBodyBytes, policy.BodyPace{})
		switch {
		case err != nil:
			policy.WriteBodyError(w, r, err)
			return
		case len(bytes.TrimSpace(body)) > 0:
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&req.body); err != nil || req.body == nil {
				rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument,
					fmt.Sprintf("the request body must be a JSON object: %v", err))
				return
			}
		}
	}
	out, first := c.run(r, req)
	c.answer(w, out, first)
}

// run makes the calls, each as soon as the calls it reads have answered,
// and returns their outcomes and the index of the first to fail (-1).
// Without Partial, the first failure cancels the calls in flight.
func (c *compiled) run(r *http.Request, req *request) ([]*outcome, int) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	out := make([]*outcome, len(c.calls))
	for i := range out {
		out[i] = &outcome{done: make(chan struct{})}
	}
	var mu sync.Mutex
	first := -1
	fail := func(i int, code codes.Code, msg string) {
		out[i].code, out[i].msg = code, msg
		mu.Lock()
		if first < 0 {
			first = i
			if !c.Partial {
				cancel()
			}
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for i, cc := range c.calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(out[i].done)
			for _, j := range c.deps[i] {
				select {
				case <-out[j].done:
				case <-ctx.Done(): // j may still be running: its outcome is not read
					fail(i, codes.Canceled, fmt.Sprintf("not called: the request ended before call %s answered", c.calls[j].Name))
					return
				}
				if out[j].resp == nil {
					fail(i, codes.FailedPrecondition, fmt.Sprintf("not called: call %s, whose response it reads, failed", c.calls[j].Name))
					return
				}
			}
			msg := dynamicpb.NewMessage(cc.md.Input())
			if err := c.build(msg, cc, req, out); err != nil {
				fail(i, codes.InvalidArgument, err.Error())
				return
			}
			resp, code, m := c.invoke(ctx, r, req.info, cc, msg)
			if resp == nil {
				fail(i, code, m)
				return
			}
			out[i].resp = resp
		}()
	}
	wg.Wait()
	return out, first
}

// build sets the request fields of cc.
func (c *compiled) build(msg protoreflect.Message, cc *compiledCall, req *request, out []*outcome) error {
	for _, st := range cc.setters {
		leaf := st.fds[len(st.fds)-1]
		if st.src != nil {
			v := fieldValue(out[st.from].resp, st.src)
			if err := copyField(leafParent(msg, st.fds), leaf, st.src[len(st.src)-1], v); err != nil {
				return fmt.Errorf("request field %s: %v", st.name, err)
			}
			continue
		}
		if len(st.parts) == 1 && st.parts[0].Source == FromBody {
			v, ok := bodyValue(req.body, st.parts[0].Path)
			if !ok {
				continue // absent from the body: the field keeps its default
			}
			if err := setJSON(leafParent(msg, st.fds), leaf, v); err != nil {
				return fmt.Errorf("request field %s from the body's %s: %v", st.name, strings.Join(st.parts[0].Path, "."), err)
			}
			continue
		}
		var sb strings.Builder
		for _, p := range st.parts {
			sb.WriteString(c.text(p, req, out))
		}
		if sb.Len() == 0 {
			continue // nothing to set (a query parameter not sent …): the field keeps its default
		}
		if err := setText(leafParent(msg, st.fds), leaf, sb.String()); err != nil {
			return fmt.Errorf("request field %s: %v", st.name, err)
		}
	}
	return nil
}

// text is a part of a text value.
func (c *compiled) text(p Part, req *request, out []*outcome) string {
	switch p.Source {
	case "":
		return p.Lit
	case FromPath:
		for i, name := range c.vars {
			if name == p.Name && i < len(req.vars) {
				return req.vars[i]
			}
		}
	case FromQuery:
		return req.query.Get(p.Name)
	case FromHeader:
		return req.r.Header.Get(p.Name)
	case FromBody:
		v, _ := bodyValue(req.body, p.Path)
		return jsonText(v)
	case FromClaims:
		if req.info != nil {
			v, _ := req.info.Claim(p.Name)
			return jsonText(v)
		}
	case FromConsumer:
		if req.info != nil {
			return req.info.ConsumerName()
		}
	case FromCall:
		i := c.callIndex(p.Name)
		fds, _ := fieldChain(c.calls[i].md.Output(), p.Path) // checked by compile
		return text(fds[len(fds)-1], fieldValue(out[i].resp, fds))
	}
	return ""
}

// bodyValue is the JSON value at path in the body.
func bodyValue(body map[string]any, path []string) (any, bool) {
	var v any = body
	for _, name := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[name]; !ok {
			return nil, false
		}
	}
	return v, true
}

// answer writes the merged object, or the first failure's status.
func (c *compiled) answer(w http.ResponseWriter, out []*outcome, first int) {
	failed := 0
	for _, o := range out {
		if o.resp == nil {
			failed++
		}
	}
	if first >= 0 && (!c.Partial || failed == len(out)) {
		cc, o := c.calls[first], out[first]
		rpcstatus.WriteStatus(w, rpcstatus.HTTPStatus(o.code), o.code,
			fmt.Sprintf("aggregate %s: call %s (%s): %s", c.Name, cc.Name, cc.Method, o.msg))
		return
	}
	var b bytes.Buffer
	b.WriteByte('{')
	key := func(k string) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
	}
	var err error
	if len(c.picks) == 0 {
		for i, cc := range c.calls {
			if out[i].resp == nil {
				continue
			}
			var v []byte
			if v, err = marshalOptions(cc).Marshal(out[i].resp.Interface()); err != nil {
				break
			}
			key(cc.Name)
			b.Write(v)
		}
	}
	for _, pk := range c.picks {
		resp := out[pk.from].resp
		if resp == nil {
			continue
		}
		var v []byte
		if v, err = pickJSON(marshalOptions(c.calls[pk.from]), resp, pk.fds); err != nil {
			break
		}
		key(pk.Key)
		b.Write(v)
	}
	if err != nil {
		rpcstatus.WriteStatus(w, http.StatusBadGateway, codes.Internal, fmt.Sprintf("aggregate %s: a response cannot be written as JSON: %v", c.Name, err))
		return
	}
	if failed > 0 {
		key("errors")
		b.WriteByte('[')
		n := 0
		for i, o := range out {
			if o.resp != nil {
				continue
			}
			if n > 0 {
				b.WriteByte(',')
			}
			n++
			e, _ := json.Marshal(callError{Call: c.calls[i].Name, Method: c.calls[i].Method, Code: int32(o.code), Status: code.Code(o.code).String(), Message: o.msg})
			b.Write(e)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	if b.Len() > c.MaxResponseBytes {
		rpcstatus.WriteStatus(w, http.StatusBadGateway, codes.ResourceExhausted,
			fmt.Sprintf("aggregate %s: the merged answer (%d bytes) exceeds max_response_bytes (%d)", c.Name, b.Len(), c.MaxResponseBytes))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// marshalOptions writes cc's responses as the gateway writes responses
// (JSON names, unpopulated fields), Any resolved by the upstream's types.
func marshalOptions(cc *compiledCall) protojson.MarshalOptions {
	o := protojson.MarshalOptions{EmitUnpopulated: true}
	if cc.types != nil {
		o.Resolver = cc.types
	}
	return o
}

// callError is an entry of a partial answer's errors member.
type callError struct {
	Call    string `json:"call"`
	Method  string `json:"method"`
	Code    int32  `json:"code"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// pickJSON is the JSON of the field fds names in resp (resp itself for
// none): its parent message is written and the field's member taken, so
// every type is written as the proto3 JSON mapping says.
func pickJSON(opts protojson.MarshalOptions, resp protoreflect.Message, fds []protoreflect.FieldDescriptor) ([]byte, error) {
	if len(fds) == 0 {
		return opts.Marshal(resp.Interface())
	}
	parent := resp
	for _, fd := range fds[:len(fds)-1] {
		parent = parent.Get(fd).Message()
	}
	b, err := opts.Marshal(parent.Interface())
	if err != nil {
		return nil, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return nil, err
	}
	leaf := fds[len(fds)-1]
	if v, ok := members[leaf.JSONName()]; ok {
		return v, nil
	}
	return []byte("null"), nil
}
