package reflection

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Bounds of lazy type lookups, per TypeResolver.
const (
	// maxConcurrentLookups bounds lazy fetches in flight; a lookup beyond it
	// answers NotFound at once instead of queueing behind the upstream.
	maxConcurrentLookups = 4
	// maxNegativeEntries bounds the negative cache.
	maxNegativeEntries = 1024
)

// TypeResolver resolves message and extension types for one Snapshot. It
// implements protoregistry.MessageTypeResolver and
// protoregistry.ExtensionTypeResolver, so it can be used as the Resolver of
// protojson.MarshalOptions and protojson.UnmarshalOptions (google.protobuf.Any
// in request bodies, responses and google.rpc.Status details) and of
// proto.UnmarshalOptions.
//
// A name resolves, in order, to:
//  1. refract's linked-in Go types: the well-known types, google.rpc (Status,
//     Code and every error-detail type such as BadRequest or ErrorInfo) and
//     the google.api annotations — always known, whatever the upstream serves;
//  2. a dynamicpb type from the upstream's descriptor set;
//  3. for messages only, a type fetched lazily by symbol over the upstream's
//     connection with a fresh reflection client. Each lookup is bounded by
//     Options.TypeLookupTimeout, concurrent lookups of one name collapse into
//     one fetch, at most a few run at once (others answer NotFound rather
//     than queue), and a name the upstream does not know is answered NotFound
//     for Options.TypeLookupNegativeTTL without asking again.
//
// Errors wrap protoregistry.NotFound when the type is unknown. Safe for
// concurrent use; the lazy fetch (3) is the only step that does I/O.
type TypeResolver struct {
	files  *protoregistry.Files
	linked *linked
	ext    *dynamicpb.Types // extensions declared in files
	msgs   sync.Map         // protoreflect.FullName → protoreflect.MessageType, from files and lazy lookups
	lazy   *lazyLookup      // nil: no lazy lookups
}

func newTypeResolver(files *protoregistry.Files, l *linked, lazy *lazyLookup) *TypeResolver {
	if lazy != nil {
		lazy.sem = make(chan struct{}, maxConcurrentLookups)
		lazy.negative = make(map[protoreflect.FullName]time.Time)
	}
	return &TypeResolver{files: files, linked: l, ext: dynamicpb.NewTypes(files), lazy: lazy}
}

// FindMessageByName returns the message type with the given full name
// (e.g. "library.v1.Book"), fetching it from the upstream if it is neither
// linked in nor in the snapshot.
func (r *TypeResolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if mt, err := r.linked.types.FindMessageByName(name); err == nil {
		return mt, nil
	}
	if v, ok := r.msgs.Load(name); ok {
		return v.(protoreflect.MessageType), nil
	}
	d, err := r.files.FindDescriptorByName(name)
	if err == nil {
		md, ok := d.(protoreflect.MessageDescriptor)
		if !ok {
			return nil, fmt.Errorf("reflection: %q is not a message type", name)
		}
		return r.store(name, dynamicpb.NewMessageType(md)), nil
	}
	if r.lazy == nil {
		return nil, newError("", codes.NotFound, "message type %q: %w", name, notFound("not in the descriptor set"))
	}
	mt, err := r.lazy.lookup(name)
	if err != nil {
		return nil, err
	}
	return r.store(name, mt), nil
}

// FindMessageByURL returns the message type for a google.protobuf.Any type
// URL ("type.googleapis.com/library.v1.Book"): the name after the last '/'.
func (r *TypeResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	name := url
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		name = url[i+1:]
	}
	return r.FindMessageByName(protoreflect.FullName(name))
}

// FindExtensionByName returns the extension with the given full name, from
// the linked-in types or the upstream's descriptor set (never fetched lazily).
func (r *TypeResolver) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if xt, err := r.linked.types.FindExtensionByName(field); err == nil {
		return xt, nil
	}
	return r.ext.FindExtensionByName(field)
}

// FindExtensionByNumber returns the extension of message with the given field
// number, from the linked-in types or the upstream's descriptor set (never
// fetched lazily).
func (r *TypeResolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if xt, err := r.linked.types.FindExtensionByNumber(message, field); err == nil {
		return xt, nil
	}
	return r.ext.FindExtensionByNumber(message, field)
}

func (r *TypeResolver) store(name protoreflect.FullName, mt protoreflect.MessageType) protoreflect.MessageType {
	v, _ := r.msgs.LoadOrStore(name, mt)
	return v.(protoreflect.MessageType)
}

// lazyLookup fetches message types by symbol from an upstream.
type lazyLookup struct {
	upstream string
	ctx      context.Context // parent of every lookup: canceled when the upstream goes away
	conn     grpc.ClientConnInterface
	fetcher  *fetcher
	timeout  time.Duration
	ttl      time.Duration
	now      func() time.Time

	group singleflight.Group
	sem   chan struct{}

	mu       sync.Mutex
	negative map[protoreflect.FullName]time.Time // name → until when it is known to be unknown
}

func (l *lazyLookup) lookup(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if !name.IsValid() {
		return nil, newError(l.upstream, codes.NotFound, "message type %q: %w", name, notFound("invalid name"))
	}
	if l.ctx.Err() != nil { // the upstream was removed or the cache closed
		return nil, newError(l.upstream, codes.NotFound, "message type %q: %w", name, notFound("upstream gone"))
	}
	if l.isNegative(name) {
		return nil, newError(l.upstream, codes.NotFound, "message type %q: %w", name, notFound("unknown to the upstream (cached)"))
	}
	v, err, _ := l.group.Do(string(name), func() (any, error) {
		select {
		case l.sem <- struct{}{}:
		default:
			return nil, newError(l.upstream, codes.ResourceExhausted,
				"message type %q: %w", name, notFound("not looked up: too many lookups in flight"))
		}
		defer func() { <-l.sem }()
		return l.fetch(name)
	})
	if err != nil {
		return nil, err
	}
	return v.(protoreflect.MessageType), nil
}

func (l *lazyLookup) fetch(name protoreflect.FullName) (protoreflect.MessageType, error) {
	ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
	defer cancel()
	client := l.fetcher.newClient(ctx, l.conn)
	defer client.Reset()
	md, err := client.ResolveMessage(string(name))
	if err != nil {
		if l.ctx.Err() == nil {
			// Remember the failure whatever it was (unknown symbol, timeout,
			// upstream down): a hot request path must not hammer the upstream.
			l.remember(name)
		}
		cause := classify(ctx, "", "fetch by symbol", err)
		return nil, newError(l.upstream, codes.NotFound, "message type %q: %w", name, notFoundError{cause.Err})
	}
	return dynamicpb.NewMessageType(md.UnwrapMessage()), nil
}

func (l *lazyLookup) isNegative(name protoreflect.FullName) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok := l.negative[name]
	if !ok {
		return false
	}
	if l.now().Before(until) {
		return true
	}
	delete(l.negative, name)
	return false
}

func (l *lazyLookup) remember(name protoreflect.FullName) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.negative) >= maxNegativeEntries {
		for n, until := range l.negative {
			if !now.Before(until) {
				delete(l.negative, n)
			}
		}
		if len(l.negative) >= maxNegativeEntries {
			clear(l.negative)
		}
	}
	l.negative[name] = now.Add(l.ttl)
}

// notFoundError wraps a cause so that errors.Is(err, protoregistry.NotFound)
// holds, as protobuf-go callers expect of a resolver, without printing
// protobuf's own "proto: not found" text.
type notFoundError struct{ cause error }

func notFound(msg string) notFoundError { return notFoundError{errors.New(msg)} }

func (e notFoundError) Error() string        { return e.cause.Error() }
func (e notFoundError) Unwrap() error        { return e.cause }
func (e notFoundError) Is(target error) bool { return target == protoregistry.NotFound }
