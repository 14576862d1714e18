package transcode

import (
	"testing"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
)

// wellKnownTimeSeeds are Timestamp and Duration strings at the corners of protojson's
// grammar: zones, fraction lengths, range ends, signs, and near misses.
var wellKnownTimeSeeds = []string{
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

// TestParseWellKnownTime checks query and path values of Timestamp and
// Duration fields, parsed natively, against protojson's reading of the
// same string.
func TestParseWellKnownTime(t *testing.T) {
	for _, name := range []protoreflect.FullName{"google.protobuf.Timestamp", "google.protobuf.Duration"} {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
		if err != nil {
			t.Fatal(err)
		}
		md := mt.Descriptor()
		for _, s := range wellKnownTimeSeeds {
			got, err := parseWellKnown(md, s)
			want := dynamicpb.NewMessage(md)
			werr := protojson.Unmarshal(rpcstatus.AppendJSONString(nil, s), want)
			if (err == nil) != (werr == nil) {
				t.Fatalf("%s %q: native err=%v, protojson err=%v", md.Name(), s, err, werr)
			}
			if err == nil && !proto.Equal(got.Message().Interface(), want) {
				t.Fatalf("%s %q: native %v, protojson %v", md.Name(), s, got.Message().Interface(), want)
			}
		}
	}
}
