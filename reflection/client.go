package reflection

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/grpcreflect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Fetch does one full reflection fetch over conn and returns the resulting
// Snapshot (with an empty Upstream). It lists the services, resolves the file
// of every routable service and all transitive dependencies, takes files the
// server does not serve from the binary's linked-in registry
// (protoregistry.GlobalFiles: always the well-known types, google.rpc and
// google.api) and fails with ErrMissingDescriptor, naming the file, when a
// dependency cannot be had. It speaks grpc.reflection.v1 and falls back to v1alpha when the
// server answers UNIMPLEMENTED (also as a trailers-only response).
//
// Every call uses a fresh reflection client, so nothing is cached between
// calls. ctx bounds the whole fetch; the returned Snapshot's TypeResolver
// fetches unknown types lazily over conn, each lookup bounded by
// DefaultTypeLookupTimeout, with ctx's values but not its cancellation.
// Errors are *Error values. Safe for concurrent use.
func Fetch(ctx context.Context, conn grpc.ClientConnInterface) (*Snapshot, error) {
	l, err := newLinked()
	if err != nil {
		return nil, &Error{Code: codes.Internal, Err: err}
	}
	f := &fetcher{
		linked:        l,
		now:           time.Now,
		lookupCtx:     context.WithoutCancel(ctx),
		lookupTimeout: DefaultTypeLookupTimeout,
		negativeTTL:   DefaultTypeLookupNegative,
		maxFiles:      DefaultMaxFiles,
		maxMethods:    DefaultMaxMethods,
		maxBytes:      DefaultMaxBytes,
	}
	return f.fetch(ctx, conn)
}

// fetcher holds what one fetch needs besides the connection.
type fetcher struct {
	upstream      string
	linked        *linked
	now           func() time.Time
	lookupCtx     context.Context // parent of lazy type lookups
	lookupTimeout time.Duration
	negativeTTL   time.Duration
	// the descriptor set's limits (Options.MaxFiles …)
	maxFiles, maxMethods int
	maxBytes             int64
	// md is sent with every reflection call (UpstreamOptions.Metadata).
	md metadata.MD
}

// fetch performs one full fetch over conn; errors are *Error.
func (f *fetcher) fetch(ctx context.Context, conn grpc.ClientConnInterface) (*Snapshot, error) {
	start := f.now()
	pc := &peerConn{ClientConnInterface: conn, maxBytes: f.maxBytes}
	client := f.newClient(ctx, pc)
	// Reset closes the stream; it runs before the caller's ctx is canceled.
	defer client.Reset()

	names, err := client.ListServices()
	if err := pc.overLimit(f.upstream); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, classify(ctx, f.upstream, "list services", err)
	}
	names = routable(names)

	collected := make(map[string]*desc.FileDescriptor)
	for _, name := range names {
		fd, err := client.FileContainingSymbol(name)
		if err := pc.overLimit(f.upstream); err != nil {
			return nil, err
		}
		if err != nil {
			return nil, classify(ctx, f.upstream, fmt.Sprintf("service %q", name), err)
		}
		collectFiles(fd, collected)
		if len(collected) > f.maxFiles {
			return nil, newError(f.upstream, codes.ResourceExhausted,
				"the descriptor set has more than %d files (reflection.max_files); keeping the last good set", f.maxFiles)
		}
	}

	fdps := make([]*descriptorpb.FileDescriptorProto, 0, len(collected))
	for _, fd := range collected {
		fdps = append(fdps, fd.AsFileDescriptorProto())
	}
	snap, err := f.build(fdps, names, conn)
	if err != nil {
		return nil, err
	}
	end := f.now()
	snap.FetchedAt, snap.Endpoint, snap.FetchDuration, snap.Source = end, pc.endpoint(), end.Sub(start), SourceReflection
	return snap, nil
}

// build makes a Snapshot (without times, endpoint or source) of a
// descriptor set whose routable services are names: it checks the limits,
// hashes the set, builds the registry and finds the services. fdps is
// sorted in place and kept by the Snapshot. Errors are *Error.
func (f *fetcher) build(fdps []*descriptorpb.FileDescriptorProto, names []string, conn grpc.ClientConnInterface) (*Snapshot, error) {
	if len(fdps) > f.maxFiles {
		return nil, newError(f.upstream, codes.ResourceExhausted,
			"the descriptor set has %d files, more than %d (reflection.max_files); keeping the last good set", len(fdps), f.maxFiles)
	}
	methods := 0
	for _, fdp := range fdps {
		for _, sd := range fdp.GetService() {
			methods += len(sd.GetMethod())
		}
	}
	if methods > f.maxMethods {
		return nil, newError(f.upstream, codes.ResourceExhausted,
			"the descriptor set has %d methods, more than %d (reflection.max_methods); keeping the last good set", methods, f.maxMethods)
	}
	hash, err := hashFiles(fdps)
	if err != nil {
		return nil, newError(f.upstream, codes.Internal, "%w", err)
	}
	files, err := buildFiles(fdps, f.linked)
	if err == nil && anyUnknownOptions(files) {
		var decoded []*descriptorpb.FileDescriptorProto
		decoded, err = decodeOptions(files, fdps, f.linked)
		if err == nil {
			files, err = buildFiles(decoded, f.linked)
		}
	}
	if err != nil {
		code := codes.FailedPrecondition // the upstream serves invalid descriptors
		if errors.Is(err, ErrMissingDescriptor) {
			code = codes.NotFound
		}
		return nil, newError(f.upstream, code, "%w", err)
	}

	services := make([]protoreflect.ServiceDescriptor, 0, len(names))
	for _, name := range names {
		d, err := files.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			return nil, newError(f.upstream, codes.NotFound, "service %q: %w: %w", name, ErrMissingDescriptor, err)
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			return nil, newError(f.upstream, codes.FailedPrecondition, "listed service %q is not a service in its file %q", name, d.ParentFile().Path())
		}
		services = append(services, sd)
	}
	return &Snapshot{
		Upstream: f.upstream,
		Hash:     hash,
		Files:    files,
		Services: services,
		Types:    f.newTypeResolver(files, conn),
		fdps:     fdps,
	}, nil
}

// newClient returns a fresh reflection client over conn (v1, then v1alpha)
// that takes the files the server does not serve from the binary's linked-in
// registry: protoregistry.GlobalFiles, which always holds the well-known
// types, google.rpc and google.api because this package imports them (see
// linkedFiles), and whatever else the binary links. grpcreflect clients cache
// forever: never reuse one across fetches.
func (f *fetcher) newClient(ctx context.Context, conn grpc.ClientConnInterface) *grpcreflect.Client {
	if len(f.md) > 0 {
		out, _ := metadata.FromOutgoingContext(ctx)
		ctx = metadata.NewOutgoingContext(ctx, metadata.Join(out, f.md))
	}
	client := grpcreflect.NewClientAuto(ctx, conn)
	client.AllowFallbackResolver(protoregistry.GlobalFiles, protoregistry.GlobalTypes)
	return client
}

func (f *fetcher) newTypeResolver(files *protoregistry.Files, conn grpc.ClientConnInterface) *TypeResolver {
	return newTypeResolver(files, f.linked, &lazyLookup{
		upstream: f.upstream,
		ctx:      f.lookupCtx,
		conn:     conn,
		fetcher:  f,
		timeout:  f.lookupTimeout,
		ttl:      f.negativeTTL,
		now:      f.now,
	})
}

// routable returns the sorted, de-duplicated names of services that may be
// routed to: never those of packages grpc.reflection.* and grpc.health.*.
func routable(names []string) []string {
	out := names[:0]
	for _, n := range names {
		hidden := strings.HasPrefix(n, "grpc.reflection.") || strings.HasPrefix(n, "grpc.health.")
		if !hidden && n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// collectFiles adds fd and its transitive dependencies to into, by path.
func collectFiles(fd *desc.FileDescriptor, into map[string]*desc.FileDescriptor) {
	if _, ok := into[fd.GetName()]; ok {
		return
	}
	into[fd.GetName()] = fd
	for _, dep := range fd.GetDependencies() {
		collectFiles(dep, into)
	}
}

// peerConn wraps a connection to record the address of the peer that
// answered a stream (grpc-go puts it in the stream's context once the
// response headers arrive).
type peerConn struct {
	grpc.ClientConnInterface
	maxBytes int64
	mu       sync.Mutex
	addr     string
	bytes    int64 // received so far, proto sizes of the answers
}

// errTooLarge ends a reflection stream whose answers ran over maxBytes.
var errTooLarge = status.Error(codes.ResourceExhausted, "reflection answers over the byte limit")

// received counts n bytes; it reports whether the total is over the limit.
func (p *peerConn) received(n int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += int64(n)
	return p.maxBytes > 0 && p.bytes > p.maxBytes
}

// overLimit is the error of a fetch whose answers ran over maxBytes, or nil.
func (p *peerConn) overLimit(upstream string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.maxBytes <= 0 || p.bytes <= p.maxBytes {
		return nil
	}
	return newError(upstream, codes.ResourceExhausted,
		"the reflection answers hold more than %d bytes (reflection.max_bytes); keeping the last good set", p.maxBytes)
}

// NewStream implements grpc.ClientConnInterface.
func (p *peerConn) NewStream(ctx context.Context, sd *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := p.ClientConnInterface.NewStream(ctx, sd, method, opts...)
	if err != nil {
		return nil, err
	}
	return &peerStream{ClientStream: cs, conn: p}, nil
}

func (p *peerConn) record(addr string) {
	p.mu.Lock()
	p.addr = addr
	p.mu.Unlock()
}

func (p *peerConn) endpoint() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

type peerStream struct {
	grpc.ClientStream
	conn *peerConn
	seen bool // only touched by the goroutine receiving on the stream
}

// RecvMsg implements grpc.ClientStream.
func (s *peerStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if pm, ok := m.(proto.Message); ok && err == nil && s.conn.received(proto.Size(pm)) {
		return errTooLarge
	}
	if err == nil && !s.seen {
		s.seen = true
		if pr, ok := peer.FromContext(s.Context()); ok && pr.Addr != nil {
			s.conn.record(pr.Addr.String())
		}
	}
	return err
}
