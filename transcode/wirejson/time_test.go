package wirejson

import (
	"strings"
	"testing"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
)

// timeSeeds are Timestamp and Duration strings at the corners of protojson's
// grammar: zones, fraction lengths, range ends, signs, and near misses.
var timeSeeds = []string{
	"1970-01-01T00:00:00Z", "2024-05-01T12:00:00.5Z", "2024-05-01T12:00:00.123456789Z", "2024-05-01T12:00:00.1234567891Z",
	"2024-05-01T12:00:00+01:30", "2024-05-01T12:00:00.001-08:00", "2024-05-01T12:00:00z", "2024-05-01t12:00:00Z",
	"2024-05-01 12:00:00Z", "2024-05-01T12:00:00", "2024-02-30T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:00:60Z",
	"0001-01-01T00:00:00Z", "0000-12-31T23:59:59Z", "9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59-00:01",
	"0001-01-01T00:00:00+00:01", "2024-05-01T12:00:00,5Z", "2024-05-01T12:00:00.Z", "2024-5-1T12:00:00Z", "+2024-05-01T12:00:00Z",
	"2024-05-01T12:00:00+0100", "2024-05-01T12:00:00+24:00", "2024-05-01T12:00:00.000000000000Z", "",
	"0s", "1s", "-1s", "+1s", "1.5s", "-1.5s", "1.s", ".5s", "-.5s", ".s", "-.s", "s", "-s", "1", "1S", "01s", "00s",
	"1.0000000001s", "1.123456789s", "-0.000000001s", "315576000000s", "315576000001s", "-315576000000.999999999s",
	"9223372036854775807s", "9223372036854775808s", "1e3s", " 1s", "1s ", "0x1s", "1.5.5s", "--1s", "+-1s",
}

// FuzzTime puts one string in a Timestamp and a Duration field, alone,
// nested, repeated and in a oneof, and requires AppendWire and protojson
// to agree.
func FuzzTime(f *testing.F) {
	for _, s := range timeSeeds {
		f.Add(s)
	}
	m := compile(f, kitchen(f))
	f.Fuzz(func(t *testing.T, s string) {
		v := string(rpcstatus.AppendJSONString(nil, s))
		for _, body := range []string{
			`{"ts":` + v + `}`, `{"du":` + v + `}`, `{"rts":[` + v + `,` + v + `]}`,
			`{"ct":` + v + `}`, `{"child":{"ts":` + v + `,"du":` + v + `}}`,
		} {
			for _, strict := range []bool{false, true} {
				checkSameDecode(t, m, strict, body)
			}
		}
	})
}

// TestTimeErrors checks that a rejected value reads as protojson's
// rejection does, and that non-string values are rejected too.
func TestTimeErrors(t *testing.T) {
	m := compile(t, kitchen(t))
	for _, c := range []struct{ body, want string }{
		{`{"ts":"2024-05-01T12:00:00"}`, `invalid value for field ts (google.protobuf.Timestamp): invalid google.protobuf.Timestamp value "2024-05-01T12:00:00"`},
		{`{"ts":"10000-01-01T00:00:00Z"}`, `invalid google.protobuf.Timestamp value`},
		{`{"ts":"9999-12-31T23:59:59-01:00"}`, `google.protobuf.Timestamp value out of range`},
		{`{"du":"1.5"}`, `invalid value for field du (google.protobuf.Duration): invalid google.protobuf.Duration value "1.5"`},
		{`{"du":"315576000001s"}`, `google.protobuf.Duration value out of range`},
		{`{"du":15}`, `unexpected token 15`},
		{`{"ts":true}`, `unexpected token true`},
	} {
		_, err := m.AppendWire(nil, []byte(c.body), DecodeOptions{MaxDepth: testDepth, DiscardUnknown: true})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.body, err, c.want)
		}
		checkSameDecode(t, m, false, c.body)
	}
}

// TestTimeNoAllocs pins the point of the native parsers: a UTC Timestamp
// and a Duration cost no allocations beyond those of a document without
// them (protojson costs a dynamic message each).
func TestTimeNoAllocs(t *testing.T) {
	m := compile(t, kitchen(t))
	buf := make([]byte, 0, 256)
	allocs := func(body string) float64 {
		doc := []byte(body)
		return testing.AllocsPerRun(100, func() {
			if _, err := m.AppendWire(buf[:0], doc, DecodeOptions{MaxDepth: testDepth, DiscardUnknown: true}); err != nil {
				t.Fatal(err)
			}
		})
	}
	base := allocs(`{"dv":1.5}`)
	if n := allocs(`{"dv":1.5,"ts":"2024-05-01T12:00:00.5Z","du":"-1.25s","rts":["1970-01-01T00:00:01Z"]}`); n != base {
		t.Fatalf("decoding a Timestamp and a Duration allocates %v times, %v without them", n, base)
	}
}
