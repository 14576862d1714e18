package reflection

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// hashFiles returns the hex SHA-256 of a descriptor set: the files sorted by
// name, each marshaled deterministically and prefixed by its length as a
// uvarint. The same set always yields the same hash, whatever order the
// server sent the files in; any change to any file (a field, an option, a
// comment) yields another. fdps is sorted in place.
func hashFiles(fdps []*descriptorpb.FileDescriptorProto) (string, error) {
	slices.SortFunc(fdps, func(a, b *descriptorpb.FileDescriptorProto) int {
		return strings.Compare(a.GetName(), b.GetName())
	})
	h := sha256.New()
	opts := proto.MarshalOptions{Deterministic: true}
	var buf []byte
	var n [binary.MaxVarintLen64]byte
	for _, fdp := range fdps {
		var err error
		buf, err = opts.MarshalAppend(buf[:0], fdp)
		if err != nil {
			return "", fmt.Errorf("hashing %q: %w", fdp.GetName(), err)
		}
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(buf)))])
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
