package examples

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	"github.com/refract-gateway/refract/examples/accounts"
	"github.com/refract-gateway/refract/examples/accounts/accountspb"
)

// StartAccounts starts an AccountsService backend (requests with buf.validate rules)
// listening on addr ("127.0.0.1:0" picks a free port). opts are passed to
// grpc.NewServer.
func StartAccounts(addr string, opts ...grpc.ServerOption) (*Backend, error) {
	return start(addr, accountspb.AccountsService_ServiceDesc.ServiceName, func(s *grpc.Server) {
		accountspb.RegisterAccountsServiceServer(s, accounts.NewService())
		reflection.Register(s)
	}, opts)
}
