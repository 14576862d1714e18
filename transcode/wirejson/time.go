package wirejson

import (
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The proto3 JSON bounds of google.protobuf.Timestamp (0001-01-01T00:00:00Z
// to 9999-12-31T23:59:59.999999999Z) and Duration (±10,000 years).
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
	maxDurationSeconds  = 315576000000
)

// secondsNanos appends the fields of a google.protobuf.Timestamp or
// Duration written as its JSON string, read by parse (ParseTimestamp or
// ParseDuration, which accept exactly what protojson accepts). Anything
// else (not a string, a bad value) goes to delegate, which rejects it with
// protojson's own message; only failures take that path.
func (d *decoder) secondsNanos(buf []byte, mp *Message, label string, parse func(string) (int64, int32, bool)) ([]byte, error) {
	s := &d.s
	s.skipWS()
	start := s.pos
	if s.peek() != '"' {
		return d.delegate(buf, mp, label)
	}
	str, err := s.readString()
	if err != nil {
		s.pos = start
		return d.delegate(buf, mp, label)
	}
	secs, nanos, ok := parse(unsafeString(str))
	if !ok {
		s.pos = start
		return d.delegate(buf, mp, label)
	}
	return appendSecondsNanos(buf, secs, nanos), nil
}

// ParseTimestamp is protojson's reading of a Timestamp string ("Z" or an
// offset, up to nine fractional digits, the proto3 range). v may view a
// request buffer: time.Parse keeps it only in the error, dropped here.
func ParseTimestamp(v string) (secs int64, nanos int32, ok bool) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, 0, false
	}
	secs = t.Unix()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds {
		return 0, 0, false
	}
	// time.Parse reads any number of fractional digits; proto3 JSON allows
	// nine. The fraction runs from the last '.' to the zone.
	i := strings.LastIndexByte(v, '.')
	j := strings.LastIndexAny(v, "Z-+")
	if i >= 0 && j >= i && j-i > len(".999999999") {
		return 0, 0, false
	}
	return secs, int32(t.Nanosecond()), true
}

// ParseDuration reads [sign] [int] ["." up to 9 digits] "s", where int is
// "0" or has no leading zero, and a fraction may be empty ("1.s") or stand
// alone (".5s", even ".s"): the grammar protojson implements. Both parts
// carry the sign; the proto3 range (±10,000 years) is checked. b may view a
// request buffer.
func ParseDuration(b string) (secs int64, nanos int32, ok bool) {
	if len(b) < 2 || b[len(b)-1] != 's' {
		return 0, 0, false
	}
	b = b[:len(b)-1]
	neg := false
	switch b[0] {
	case '-':
		neg, b = true, b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, 0, false
	}
	var intp string
	switch c := b[0]; {
	case c == '0':
		b = b[1:]
	case c >= '1' && c <= '9':
		n := 1
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			n++
		}
		intp, b = b[:n], b[n:]
	case c == '.':
	default:
		return 0, 0, false
	}
	var frac int64
	if len(b) > 0 {
		if b[0] != '.' {
			return 0, 0, false
		}
		b = b[1:]
		digits := 0
		for digits < len(b) && digits < 9 && b[digits] >= '0' && b[digits] <= '9' {
			frac = frac*10 + int64(b[digits]-'0')
			digits++
		}
		if digits != len(b) {
			return 0, 0, false
		}
		for ; digits < 9; digits++ {
			frac *= 10
		}
	}
	if len(intp) > 0 {
		var err error
		if secs, err = strconv.ParseInt(intp, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	if secs > maxDurationSeconds {
		return 0, 0, false
	}
	if neg {
		secs, frac = -secs, -frac
	}
	return secs, int32(frac), true
}

// appendSecondsNanos writes fields 1 and 2 of a Timestamp or Duration as
// proto.Marshal does: in number order, zero values left out.
func appendSecondsNanos(buf []byte, secs int64, nanos int32) []byte {
	if secs != 0 {
		buf = protowire.AppendTag(buf, 1, protowire.VarintType)
		buf = protowire.AppendVarint(buf, uint64(secs))
	}
	if nanos != 0 {
		buf = protowire.AppendTag(buf, 2, protowire.VarintType)
		buf = protowire.AppendVarint(buf, uint64(int64(nanos)))
	}
	return buf
}
