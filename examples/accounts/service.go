package accounts

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/refract-gateway/refract/examples/accounts/accountspb"
)

// Service implements accountspb.AccountsServiceServer: it numbers the accounts it
// creates and keeps them in memory. Safe for concurrent use.
type Service struct {
	accountspb.UnimplementedAccountsServiceServer
	next     atomic.Int64
	accounts sync.Map // name → *accountspb.Account
}

// NewService returns a service whose first account is accounts/1.
func NewService() *Service { return &Service{} }

// CreateAccount returns the account with its id set.
func (s *Service) CreateAccount(_ context.Context, req *accountspb.CreateAccountRequest) (*accountspb.Account, error) {
	a := proto.CloneOf(req.GetAccount())
	if a == nil {
		a = &accountspb.Account{}
	}
	a.Id = fmt.Sprintf("accounts/%d", s.next.Add(1))
	s.accounts.Store(a.Id, proto.CloneOf(a))
	return a, nil
}

// GetAccount returns the account named req.name, or NOT_FOUND.
func (s *Service) GetAccount(_ context.Context, req *accountspb.GetAccountRequest) (*accountspb.Account, error) {
	a, ok := s.accounts.Load(req.GetName())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "account %q not found", req.GetName())
	}
	return proto.CloneOf(a.(*accountspb.Account)), nil
}
