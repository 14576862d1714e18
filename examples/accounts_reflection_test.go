package examples

import (
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// What the gateway learns about the accounts API comes through reflection
// only: the buf.validate rules edge validation checks and the
// idempotency_level retries read must be in the served descriptors.
func TestReflectionCarriesValidateRulesAndIdempotency(t *testing.T) {
	_, conn := startBackend(t, StartAccounts)
	resp := reflectV1(t, conn, &rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "accounts.v1.AccountsService"},
	})
	files := map[string]*descriptorpb.FileDescriptorProto{}
	for _, raw := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
		fd := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(raw, fd); err != nil {
			t.Fatal(err)
		}
		files[fd.GetName()] = fd
	}
	file := files["accounts/v1/accounts.proto"]
	if file == nil {
		t.Fatalf("reflection did not return accounts/v1/accounts.proto (got %d files)", len(files))
	}
	rules := map[string]*validate.FieldRules{}
	for _, m := range file.GetMessageType() {
		for _, f := range m.GetField() {
			if r, ok := proto.GetExtension(f.GetOptions(), validate.E_Field).(*validate.FieldRules); ok && r != nil {
				rules[m.GetName()+"."+f.GetName()] = r
			}
		}
	}
	if !rules["Account.email"].GetString().GetEmail() {
		t.Errorf("Account.email rules %v, want string.email", rules["Account.email"])
	}
	if r := rules["Account.age"].GetUint32(); r.GetGte() != 13 || r.GetLte() != 150 {
		t.Errorf("Account.age rules %v, want gte 13, lte 150", r)
	}
	if !rules["CreateAccountRequest.account"].GetRequired() {
		t.Errorf("CreateAccountRequest.account rules %v, want required", rules["CreateAccountRequest.account"])
	}
	if got := rules["GetAccountRequest.name"].GetString().GetPattern(); got != "^accounts/[0-9]+$" {
		t.Errorf("GetAccountRequest.name pattern %q", got)
	}
	levels := map[string]descriptorpb.MethodOptions_IdempotencyLevel{}
	for _, m := range file.GetService()[0].GetMethod() {
		levels[m.GetName()] = m.GetOptions().GetIdempotencyLevel()
	}
	if levels["GetAccount"] != descriptorpb.MethodOptions_NO_SIDE_EFFECTS || levels["CreateAccount"] != descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN {
		t.Errorf("idempotency levels %v", levels)
	}
}
