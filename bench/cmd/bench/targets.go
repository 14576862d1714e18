package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/refract-gateway/refract/bench"
	"github.com/refract-gateway/refract/bench/benchpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// shape is one payload shape: the same call made over HTTP+JSON and over
// gRPC, with what a correct reply is.
type shape struct {
	name   string
	unit   string // "req" or "msg": what throughput and CPU are counted in
	method string
	path   string // with the query
	body   []byte
	req    proto.Message // the gRPC request, equal to body/path/query
	want   *benchpb.Payload
	stream bool
}

func selectShapes(list string) ([]*shape, error) {
	all := map[string]*shape{}
	for _, s := range allShapes() {
		all[s.name] = s
	}
	var out []*shape
	for _, n := range strings.Split(list, ",") {
		s, ok := all[strings.TrimSpace(n)]
		if !ok {
			return nil, fmt.Errorf("unknown shape %q (tiny, 1KB, 16KB, GET, stream)", n)
		}
		out = append(out, s)
	}
	return out, nil
}

func allShapes() []*shape {
	unary := func(name string, p *benchpb.Payload) *shape {
		body, err := protojson.Marshal(p)
		if err != nil {
			panic(err) // a fixed, valid message
		}
		return &shape{name: name, unit: "req", method: "POST", path: "/v1/echo", body: body, req: p, want: p}
	}
	lookup := bench.LookupRequest()
	return []*shape{
		unary("tiny", bench.TinyPayload()),
		unary("1KB", bench.ItemsPayload(5)),
		unary("16KB", bench.ItemsPayload(90)),
		{name: "GET", unit: "req", method: "GET", path: bench.LookupPath + "?" + bench.LookupQuery, req: lookup, want: bench.LookupResponse(lookup)},
		{name: "stream", unit: "msg", method: "GET", path: fmt.Sprintf("/v1/feed/%d", bench.FeedCount), req: &benchpb.FeedRequest{Count: bench.FeedCount}, stream: true},
	}
}

// target is one way of making the calls: direct gRPC or through a gateway.
type target struct {
	name string
	gw   *proc // the gateway whose CPU is measured; nil for direct gRPC

	// direct gRPC
	conn   *grpc.ClientConn
	client benchpb.BenchServiceClient

	// through a gateway
	base string
	http *http.Client
	mu   sync.Mutex
	ref  map[string][]byte // shape → the verified reply body
}

func newTargets(ctx context.Context, workers int, backend, gg, rf, rfQuiet *proc) ([]*target, error) {
	conn, err := grpc.NewClient(backend.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	direct := &target{name: "direct gRPC", conn: conn, client: benchpb.NewBenchServiceClient(conn)}
	web := func(name string, p *proc) *target {
		return &target{name: name, gw: p, base: "http://" + p.addr, ref: map[string][]byte{},
			http: &http.Client{Transport: &http.Transport{
				// One keep-alive connection per worker, HTTP/1.1, as
				// browsers and most API clients use a JSON gateway.
				MaxIdleConns:        2 * workers,
				MaxIdleConnsPerHost: 2 * workers,
				DisableCompression:  true,
				IdleConnTimeout:     time.Minute,
			}}}
	}
	// Native gRPC through refract (log off, like direct gRPC's backend):
	// the same client as direct gRPC, dialed at refract's public listener
	// (h2c), which proxies it frame by frame.
	rconn, err := grpc.NewClient(rfQuiet.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		conn.Close()
		return nil, err
	}
	native := &target{name: "refract gRPC", gw: rfQuiet, conn: rconn, client: benchpb.NewBenchServiceClient(rconn)}
	return []*target{direct, web("grpc-gateway", gg), web("refract", rf), web("refract, log off", rfQuiet), native}, nil
}

func (t *target) close() {
	if t.conn != nil {
		t.conn.Close()
	}
}

// probe reports whether refract at addr serves the benchmark's routes yet.
func probe(addr string) error {
	resp, err := http.Post("http://"+addr+"/v1/echo", "application/json", strings.NewReader(`{"id":"probe"}`))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: status %d", errNotReady, resp.StatusCode)
	}
	return nil
}

// worker is one client's reusable state.
type worker struct {
	buf bytes.Buffer
}

// call makes one call of shape s and checks the reply; it returns the
// number of units (1, or the messages of a stream).
func (t *target) call(ctx context.Context, s *shape, w *worker) (int, error) {
	if t.client != nil {
		return t.callGRPC(ctx, s)
	}
	var body io.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, t.base+s.path, body)
	if err != nil {
		return 0, err
	}
	if s.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return 0, err
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s %s: status %d: %.200s", s.method, s.path, resp.StatusCode, w.buf.Bytes())
	}
	t.mu.Lock()
	ref := t.ref[s.name]
	t.mu.Unlock()
	if ref != nil && bytes.Equal(w.buf.Bytes(), ref) {
		return units(s), nil
	}
	// Not the reference bytes (the first reply, or map entries in another
	// order): check the reply in full.
	if err := checkJSON(s, w.buf.Bytes()); err != nil {
		return 0, fmt.Errorf("%s %s: %w", s.method, s.path, err)
	}
	if ref == nil {
		t.mu.Lock()
		t.ref[s.name] = bytes.Clone(w.buf.Bytes())
		t.mu.Unlock()
	}
	return units(s), nil
}

func units(s *shape) int {
	if s.stream {
		return bench.FeedCount
	}
	return 1
}

// checkJSON parses a gateway's reply and compares it with what the backend
// answers. A server stream is NDJSON, one message per line, each either
// the message itself (refract) or {"result": message} (grpc-gateway).
func checkJSON(s *shape, body []byte) error {
	if !s.stream {
		var got benchpb.Payload
		if err := protojson.Unmarshal(body, &got); err != nil {
			return fmt.Errorf("reply does not parse: %w: %.200s", err, body)
		}
		if !proto.Equal(&got, s.want) {
			return fmt.Errorf("reply differs from the backend's answer: %.200s", body)
		}
		return nil
	}
	lines := bytes.Split(bytes.TrimSpace(body), []byte("\n"))
	if len(lines) != bench.FeedCount {
		return fmt.Errorf("stream has %d messages, want %d: %.200s", len(lines), bench.FeedCount, body)
	}
	for i, line := range lines {
		var wrapped struct {
			Result json.RawMessage `json:"result"`
		}
		if json.Unmarshal(line, &wrapped) == nil && wrapped.Result != nil {
			line = wrapped.Result
		}
		var got benchpb.Item
		if err := protojson.Unmarshal(line, &got); err != nil {
			return fmt.Errorf("stream message %d does not parse: %w: %.200s", i, err, line)
		}
		if !proto.Equal(&got, bench.FeedItem(int32(i))) {
			return fmt.Errorf("stream message %d differs: %.200s", i, line)
		}
	}
	return nil
}

func (t *target) callGRPC(ctx context.Context, s *shape) (int, error) {
	switch r := s.req.(type) {
	case *benchpb.Payload:
		got, err := t.client.Echo(ctx, r)
		if err != nil {
			return 0, err
		}
		// proto.Equal on 16 KB would load the client's core; the size and a
		// few fields catch a wrong reply.
		if got.Id != r.Id || len(got.Items) != len(r.Items) || proto.Size(got) != proto.Size(r) {
			return 0, errors.New("Echo: reply differs from the request")
		}
	case *benchpb.LookupRequest:
		got, err := t.client.Lookup(ctx, r)
		if err != nil {
			return 0, err
		}
		if !proto.Equal(got, s.want) {
			return 0, errors.New("Lookup: reply differs from the backend's answer")
		}
	case *benchpb.FeedRequest:
		st, err := t.client.Feed(ctx, r)
		if err != nil {
			return 0, err
		}
		n := 0
		for {
			it, err := st.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				return 0, err
			}
			if it.Id != int64(n)*1_000_003 {
				return 0, fmt.Errorf("Feed: message %d has id %d", n, it.Id)
			}
			n++
		}
		if n != int(r.Count) {
			return 0, fmt.Errorf("Feed: %d messages, want %d", n, r.Count)
		}
		return n, nil
	}
	return 1, nil
}
