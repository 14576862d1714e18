package wirejson

import (
	"errors"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// CheckDepth reports, as a *DepthError, wire bytes of a message of type md
// whose messages nest deeper than maxDepth levels (0 means
// DefaultMaxDepth), counting as AppendJSON counts: the top-level message
// is level 1, each message-typed field or map value one more. It follows
// the descriptor only (google.protobuf.Any values are bytes to it) and
// reports malformed records it has to read to descend; it does not check
// anything else. One pass, no allocation; safe for concurrent use.
func CheckDepth(md protoreflect.MessageDescriptor, data []byte, maxDepth int) error {
	limit := depthLimit(maxDepth)
	return checkDepth(md, data, 1, limit)
}

func checkDepth(md protoreflect.MessageDescriptor, b []byte, level, limit int) error {
	if level > limit {
		return &DepthError{Limit: limit}
	}
	fields := md.Fields()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		rec := b[n : n+m]
		b = b[n+m:]
		if typ != protowire.BytesType {
			continue
		}
		fd := fields.ByNumber(num)
		if fd == nil || fd.Message() == nil {
			continue
		}
		v, _ := protowire.ConsumeBytes(rec)
		if fd.IsMap() {
			val := fd.MapValue()
			if val.Message() == nil {
				continue
			}
			var err error
			if v, err = mapEntryValue(v); err != nil {
				return err
			}
			if v == nil {
				continue
			}
			fd = val
		}
		if err := checkDepth(fd.Message(), v, level+1, limit); err != nil {
			return err
		}
	}
	return nil
}

// mapEntryValue returns the last length-delimited field 2 of a map entry,
// or nil when it has none.
func mapEntryValue(b []byte) ([]byte, error) {
	var last []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if num == 2 && typ == protowire.BytesType {
			last, _ = protowire.ConsumeBytes(b[n : n+m])
			if last == nil {
				last = []byte{}
			}
		}
		b = b[n+m:]
	}
	return last, nil
}

// IsRecursionError reports protobuf-go's and protojson's refusal of input
// nested deeper than their RecursionLimit, which they do not export.
func IsRecursionError(err error) bool {
	if err == nil {
		return false
	}
	var de *DepthError
	if errors.As(err, &de) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "exceeded maximum recursion depth") || strings.Contains(msg, "exceeded max recursion depth")
}
