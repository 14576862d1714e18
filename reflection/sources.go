package reflection

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Source is where an upstream's descriptors come from.
type Source string

const (
	// SourceReflection asks the upstream over the gRPC server reflection
	// protocol: the default.
	SourceReflection Source = "reflection"
	// SourceFiles reads binary FileDescriptorSet files (protoc
	// --descriptor_set_out --include_imports, buf build -o x.binpb).
	SourceFiles Source = "files"
)

// UpstreamOptions are how one upstream's descriptors are had and adopted.
// The zero value is reflection only, with the Cache's timeout, no
// metadata, no persistence, and every new schema adopted at once.
type UpstreamOptions struct {
	// Sources are tried in order on every fetch; the first that yields a
	// descriptor set gives it. A later source is a fallback: its set is
	// used while the upstream has none from an earlier source (say, files
	// while reflection is unreachable at start), and never replaces one.
	// Default [SourceReflection].
	Sources []Source
	// Files are the FileDescriptorSet files of SourceFiles, merged (a file
	// path in two sets must have the same content). Read anew on every
	// fetch, so that a replaced file is picked up.
	Files []string
	// Metadata is sent with every reflection call (an authorization
	// token, say). Keys must be valid lower-case gRPC metadata keys.
	Metadata map[string]string
	// Timeout bounds one fetch from all sources; default
	// Options.FetchTimeout.
	Timeout time.Duration
	// HoldBreaking keeps a new schema that breaks clients (see
	// schemadiff) out of Snapshot until Approve adopts it or the upstream
	// serves the adopted one again; it is fetched, diffed and listed in
	// History meanwhile. Non-breaking changes are adopted at once.
	HoldBreaking bool
	// SnapshotDir, when set, is where the upstream's adopted set is
	// persisted (atomically, as <dir>/<upstream>.json) and loaded from on
	// Add: a gateway restarted while the upstream's reflection is down
	// serves the persisted set, in state stale, until a fetch succeeds.
	SnapshotDir string
}

func (o UpstreamOptions) validate(name string) error {
	if len(o.Sources) == 0 {
		o.Sources = []Source{SourceReflection}
	}
	for i, s := range o.Sources {
		if s != SourceReflection && s != SourceFiles {
			return newError(name, codes.InvalidArgument, "source %q is not reflection or files", s)
		}
		if slices.Contains(o.Sources[:i], s) {
			return newError(name, codes.InvalidArgument, "source %q is listed twice", s)
		}
	}
	if slices.Contains(o.Sources, SourceFiles) != (len(o.Files) > 0) {
		return newError(name, codes.InvalidArgument, "descriptor-set files are needed exactly when files is a source")
	}
	for k := range o.Metadata {
		if !validMetadata(k, o.Metadata[k]) {
			return newError(name, codes.InvalidArgument, "metadata %q: keys are lower-case letters, digits, '-', '_' and '.', not grpc-*, and values printable ASCII", k)
		}
	}
	if o.Timeout < 0 {
		return newError(name, codes.InvalidArgument, "negative timeout %v", o.Timeout)
	}
	return nil
}

// validMetadata checks a metadata pair as gRPC requires of ASCII
// (non -bin) metadata.
func validMetadata(k, v string) bool {
	if k == "" || strings.HasPrefix(k, "grpc-") || strings.HasSuffix(k, "-bin") {
		return false
	}
	for _, c := range []byte(k) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	for _, c := range []byte(v) {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// ReadDescriptorSets reads binary FileDescriptorSet files and merges them
// (a file named in two sets must be the same in both), reading at most
// maxBytes over all of them. It checks only that they decode: building
// them is the Cache's job. For config validation and for the files source.
func ReadDescriptorSets(paths []string, maxBytes int64) ([]*descriptorpb.FileDescriptorProto, error) {
	var out []*descriptorpb.FileDescriptorProto
	byName := map[string]*descriptorpb.FileDescriptorProto{}
	budget := maxBytes
	for _, p := range paths {
		data, err := readAtMost(p, budget)
		if err != nil {
			return nil, err
		}
		budget -= int64(len(data))
		var set descriptorpb.FileDescriptorSet
		if err := proto.Unmarshal(data, &set); err != nil {
			return nil, fmt.Errorf("%s is not a binary FileDescriptorSet (protoc --descriptor_set_out, buf build -o x.binpb): %w", p, err)
		}
		if len(set.GetFile()) == 0 {
			return nil, fmt.Errorf("%s holds no file descriptors", p)
		}
		for _, f := range set.GetFile() {
			if prev := byName[f.GetName()]; prev != nil {
				if !proto.Equal(prev, f) {
					return nil, fmt.Errorf("%s: file %q differs from the one of the same name in an earlier set", p, f.GetName())
				}
				continue
			}
			byName[f.GetName()] = f
			out = append(out, f)
		}
	}
	return out, nil
}

func readAtMost(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: the descriptor sets hold more than %d bytes (reflection.max_bytes)", path, limit)
	}
	return data, nil
}

// fetchFiles makes a snapshot of the upstream's descriptor-set files.
func (u *upstream) fetchFiles() (*Snapshot, error) {
	start := u.c.opts.Now()
	fdps, err := ReadDescriptorSets(u.o.Files, u.c.opts.MaxBytes)
	if err != nil {
		return nil, newError(u.name, codes.FailedPrecondition, "descriptor-set files: %w", err)
	}
	snap, err := u.fetcher.build(fdps, serviceNamesOf(fdps), u.conn)
	if err != nil {
		return nil, err
	}
	end := u.c.opts.Now()
	snap.FetchedAt, snap.FetchDuration, snap.Source = end, end.Sub(start), SourceFiles
	return snap, nil
}

// fetchSources tries the upstream's sources in order. It returns the
// first set had, the rank of its source (0 for the first) and why the
// earlier sources failed, or the errors of every source.
func (u *upstream) fetchSources() (snap *Snapshot, rank int, earlier, err error) {
	timeout := u.c.opts.FetchTimeout
	if u.o.Timeout > 0 {
		timeout = u.o.Timeout
	}
	var errs []error
	for rank, src := range u.sources() {
		if src == SourceFiles {
			snap, err = u.fetchFiles()
		} else {
			ctx, cancel := context.WithTimeout(u.ctx, timeout)
			snap, err = u.fetcher.fetch(ctx, u.conn)
			cancel()
		}
		if err == nil {
			return snap, rank, errors.Join(unwrapAll(errs)...), nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, 0, nil, errs[0]
	}
	var e *Error
	errors.As(errs[0], &e) // the first source's code classifies the failure
	return nil, 0, nil, &Error{Upstream: u.name, Code: e.Code, Err: errors.Join(unwrapAll(errs)...)}
}

// unwrapAll strips the upstream prefix of each error for a joined message.
func unwrapAll(errs []error) []error {
	out := make([]error, len(errs))
	for i, err := range errs {
		var e *Error
		if errors.As(err, &e) {
			err = e.Err
		}
		out[i] = err
	}
	return out
}

func (u *upstream) sources() []Source {
	if len(u.o.Sources) == 0 {
		return []Source{SourceReflection}
	}
	return u.o.Sources
}

// rank is the precedence of a snapshot's source (0 first); a source no
// longer configured ranks last.
func (u *upstream) rank(s *Snapshot) int {
	if i := slices.Index(u.sources(), s.Source); i >= 0 {
		return i
	}
	return len(u.sources())
}
