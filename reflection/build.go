package reflection

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// buildFiles builds the registry of a descriptor set from its protos, each
// file after its dependencies. A file that refract links in (same path: the
// well-known types, google.rpc, google.api) is replaced by the linked
// descriptor, so upstream descriptors refer to the very descriptors of the Go
// types: a dynamicpb message accepts a *timestamppb.Timestamp for a Timestamp
// field, and extensions of descriptor options (custom options) have
// descriptorpb's options as containing message, so proto.GetExtension and
// proto.HasExtension work on Options(). If the set does not build against the
// linked files (the upstream uses a newer version of one of them), it is built
// from the upstream's own copies alone.
func buildFiles(fdps []*descriptorpb.FileDescriptorProto, l *linked) (*protoregistry.Files, error) {
	files, err := buildWith(fdps, l)
	if err == nil {
		return files, nil
	}
	files, ownErr := buildWith(fdps, nil)
	if ownErr != nil {
		return nil, fmt.Errorf("building descriptors: %w", ownErr)
	}
	return files, nil
}

// buildWith builds fdps, substituting the files of l when l is not nil.
func buildWith(fdps []*descriptorpb.FileDescriptorProto, l *linked) (*protoregistry.Files, error) {
	byName := make(map[string]*descriptorpb.FileDescriptorProto, len(fdps))
	for _, fdp := range fdps {
		byName[fdp.GetName()] = fdp
	}
	files := new(protoregistry.Files)
	const (
		visiting = 1
		done     = 2
	)
	state := make(map[string]int, len(fdps))
	var build func(path string, chain []string) error
	build = func(path string, chain []string) error {
		switch state[path] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("import cycle: %s -> %s", strings.Join(chain, " -> "), path)
		}
		state[path] = visiting
		chain = append(chain, path)
		if l != nil {
			if fd, err := l.files.FindFileByPath(path); err == nil {
				for i := range fd.Imports().Len() {
					if err := build(fd.Imports().Get(i).Path(), chain); err != nil {
						return err
					}
				}
				state[path] = done
				return files.RegisterFile(fd)
			}
		}
		fdp, ok := byName[path]
		if !ok {
			return fmt.Errorf("file %q (imported by %q): %w", path, chain[max(len(chain)-2, 0)], ErrMissingDescriptor)
		}
		for _, dep := range fdp.GetDependency() {
			if err := build(dep, chain); err != nil {
				return err
			}
		}
		fd, err := protodesc.NewFile(fdp, files)
		if err != nil {
			return err
		}
		state[path] = done
		return files.RegisterFile(fd)
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := build(name, nil); err != nil {
			return nil, err
		}
	}
	return files, nil
}
